// Logging setup (spdlog to stderr) and the `listening on` lines (stdout).
#ifndef CAIRN_COMMON_LOGGING_H_
#define CAIRN_COMMON_LOGGING_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

// Lets spdlog format absl::string_view (Debian's Abseil has its own type).
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(absl::string_view s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};

namespace cairn {

// `level`: debug, info, warn or error. InvalidArgument for anything else.
absl::Status InitLogging(std::string_view level);

// Prints "listening on KIND HOST:PORT" to stdout and flushes; tests and
// scripts that start a daemon on port 0 read it.
void AnnounceListening(std::string_view kind, std::string_view host, int port);

}  // namespace cairn

#endif  // CAIRN_COMMON_LOGGING_H_

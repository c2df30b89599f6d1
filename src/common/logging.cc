#include "common/logging.h"

#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "common/strings.h"
#include "spdlog/sinks/stdout_color_sinks.h"

namespace cairn {

absl::Status InitLogging(std::string_view level) {
  spdlog::level::level_enum lvl;
  if (level == "debug") {
    lvl = spdlog::level::debug;
  } else if (level == "info") {
    lvl = spdlog::level::info;
  } else if (level == "warn") {
    lvl = spdlog::level::warn;
  } else if (level == "error") {
    lvl = spdlog::level::err;
  } else {
    return absl::InvalidArgumentError(
        cairn::StrCat("bad log level '", level, "' (want debug, info, warn or error)"));
  }
  auto logger = spdlog::stderr_color_mt("cairn");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%t] %v");
  spdlog::set_level(lvl);
  return absl::OkStatus();
}

void AnnounceListening(std::string_view kind, std::string_view host, int port) {
  static absl::Mutex mu(absl::kConstInit);
  absl::MutexLock lock(&mu);
  std::string line = cairn::StrCat("listening on ", kind, " ", host, ":", port, "\n");
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace cairn

// ParseHostPort (common/net.h) over any text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/check.h"
#include "common/net.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cairn::HostPort> hp = cairn::ParseHostPort(text);
  if (!hp.ok()) {
    CAIRN_CHECK(absl::IsInvalidArgument(hp.status())) << hp.status();
    return 0;
  }
  CAIRN_CHECK(hp->port >= 0 && hp->port <= 65535) << text << " -> " << hp->port;
  CAIRN_CHECK(!hp->host.empty()) << text;

  // Printed back the way StartGrpcServer does ("[v6]:port" when the host has a
  // ':'), the address parses to the same host and port. Brackets inside a host
  // have no printed form, so those hosts are left out.
  if (hp->host.find_first_of("[]") != std::string::npos) return 0;
  std::string host = hp->host.find(':') != std::string::npos ? "[" + hp->host + "]" : hp->host;
  std::string printed = host + ":" + std::to_string(hp->port);
  absl::StatusOr<cairn::HostPort> again = cairn::ParseHostPort(printed);
  CAIRN_CHECK(again.ok()) << text << " -> " << printed << ": " << again.status();
  CAIRN_CHECK(again->host == hp->host && again->port == hp->port)
      << text << " -> " << printed << " -> " << again->host << " " << again->port;
  return 0;
}

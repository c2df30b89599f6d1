// Parsing of the units flags use: durations ("500ms", "2s", "5m") and byte
// sizes ("65536", "64KiB", "1MiB", "2GiB"; K/M/G and KB/MB/GB mean the same).
#ifndef CAIRN_COMMON_UNITS_H_
#define CAIRN_COMMON_UNITS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cairn {

absl::StatusOr<absl::Duration> ParseDurationFlag(std::string_view text);
absl::StatusOr<uint64_t> ParseBytes(std::string_view text);
// "1.5 GiB"-style rendering for logs and the CLI.
std::string HumanBytes(uint64_t bytes);

}  // namespace cairn

#endif  // CAIRN_COMMON_UNITS_H_

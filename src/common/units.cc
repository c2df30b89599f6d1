#include "common/units.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "common/strings.h"

namespace cairn {

absl::StatusOr<absl::Duration> ParseDurationFlag(std::string_view text) {
  absl::Duration d;
  if (text.empty() || !absl::ParseDuration(ToAbsl(text), &d) || d < absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        cairn::StrCat("bad duration '", text, "' (want e.g. 500ms, 2s, 5m)"));
  }
  return d;
}

absl::StatusOr<uint64_t> ParseBytes(std::string_view text) {
  std::string_view s = ToStd(absl::StripAsciiWhitespace(ToAbsl(text)));
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  uint64_t value;
  if (digits == 0 || !absl::SimpleAtoi(ToAbsl(s.substr(0, digits)), &value)) {
    return absl::InvalidArgumentError(cairn::StrCat("bad size '", text, "' (want e.g. 64MiB)"));
  }
  std::string suffix = absl::AsciiStrToLower(absl::StripAsciiWhitespace(ToAbsl(s.substr(digits))));
  uint64_t mult;
  if (suffix.empty() || suffix == "b") {
    mult = 1;
  } else if (suffix == "k" || suffix == "kb" || suffix == "kib") {
    mult = uint64_t{1} << 10;
  } else if (suffix == "m" || suffix == "mb" || suffix == "mib") {
    mult = uint64_t{1} << 20;
  } else if (suffix == "g" || suffix == "gb" || suffix == "gib") {
    mult = uint64_t{1} << 30;
  } else if (suffix == "t" || suffix == "tb" || suffix == "tib") {
    mult = uint64_t{1} << 40;
  } else {
    return absl::InvalidArgumentError(cairn::StrCat("bad size suffix in '", text, "'"));
  }
  if (value > UINT64_MAX / mult)
    return absl::InvalidArgumentError(cairn::StrCat("size too large: ", text));
  return value * mult;
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? cairn::StrCat(bytes, " B") : absl::StrFormat("%.1f %s", v, kUnits[unit]);
}

}  // namespace cairn

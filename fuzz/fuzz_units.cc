// ParseBytes and ParseDurationFlag (common/units.h) over any text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "common/check.h"
#include "common/units.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (absl::StatusOr<uint64_t> bytes = cairn::ParseBytes(text); bytes.ok()) {
    // A size is a plain byte count once parsed: its decimal form means the same.
    absl::StatusOr<uint64_t> again = cairn::ParseBytes(std::to_string(*bytes));
    CAIRN_CHECK(again.ok() && *again == *bytes) << text << " -> " << *bytes;
    CAIRN_CHECK(!cairn::HumanBytes(*bytes).empty()) << *bytes;
  } else {
    CAIRN_CHECK(absl::IsInvalidArgument(bytes.status())) << bytes.status();
  }

  if (absl::StatusOr<absl::Duration> d = cairn::ParseDurationFlag(text); d.ok()) {
    CAIRN_CHECK(*d >= absl::ZeroDuration()) << text;
    CAIRN_CHECK(*d != absl::InfiniteDuration()) << text;
  } else {
    CAIRN_CHECK(absl::IsInvalidArgument(d.status())) << d.status();
  }
  return 0;
}

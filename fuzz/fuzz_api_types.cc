// The client's parsers of gateway replies (client/api_types.h), over any
// bytes: a gateway, or whatever answers in its place, must not crash the CLI.
// A parsed reply printed as the CLI's --json and parsed again is unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "client/api_types.h"
#include "common/check.h"
#include "nlohmann/json.hpp"

namespace {

template <typename T>
void Check(std::string_view body, absl::StatusOr<T> (*parse)(std::string_view)) {
  absl::StatusOr<T> value = parse(body);
  if (!value.ok()) {
    CAIRN_CHECK(absl::IsInternal(value.status())) << value.status();
    return;
  }
  nlohmann::json printed = cairn::client::ToJson(*value);
  std::string text = printed.dump();  // throws on invalid UTF-8, as the CLI would
  absl::StatusOr<T> again = parse(text);
  CAIRN_CHECK(again.ok()) << text << ": " << again.status();
  CAIRN_CHECK(cairn::client::ToJson(*again) == printed)
      << text << " -> " << cairn::client::ToJson(*again).dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  Check(body, &cairn::client::ParsePutResult);
  Check(body, &cairn::client::ParseListing);
  Check(body, &cairn::client::ParseFileInfo);
  Check(body, &cairn::client::ParseClusterStatus);
  Check(body, &cairn::client::ParseUsage);
  return 0;
}

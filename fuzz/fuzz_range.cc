// gateway::ParseRange over a Range header and a resource size. Input: the
// size in decimal, a newline, then the header value ("1000\nbytes=0-499").
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/strings/numbers.h"
#include "common/check.h"
#include "common/strings.h"
#include "gateway/http_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  uint64_t resource_size = 0;
  if (newline == std::string_view::npos ||
      !absl::SimpleAtoi(cairn::ToAbsl(input.substr(0, newline)), &resource_size)) {
    return -1;  // not an input of this shape: keep it out of the corpus
  }
  std::string_view header = input.substr(newline + 1);

  auto range = cairn::gateway::ParseRange(header, resource_size);
  if (!range.ok()) {
    // The only error is an unsatisfiable range, and only of the bytes unit.
    CAIRN_CHECK(absl::IsOutOfRange(range.status())) << range.status();
    CAIRN_CHECK(header.starts_with("bytes=")) << header;
    return 0;
  }
  if (!range->has_value()) return 0;  // serve the whole resource
  const cairn::gateway::ByteRange& r = **range;
  CAIRN_CHECK(header.starts_with("bytes=")) << header;
  CAIRN_CHECK(r.length >= 1) << header;
  CAIRN_CHECK(r.offset < resource_size) << header << " size " << resource_size;
  CAIRN_CHECK(r.length <= resource_size - r.offset)
      << header << " size " << resource_size << ": " << r.offset << "+" << r.length;
  return 0;
}

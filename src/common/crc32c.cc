#include "common/crc32c.h"

#include <isa-l/crc.h>

#include <algorithm>
#include <climits>

namespace cairn {

uint32_t Crc32c(uint32_t crc, const void* data, size_t n) {
  // ISA-L's crc32_iscsi neither pre- nor post-inverts; standard CRC32C does both.
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  uint32_t state = ~crc;
  while (n > 0) {
    size_t step = std::min<size_t>(n, INT_MAX / 2);
    state = crc32_iscsi(p, static_cast<int>(step), state);
    p += step;
    n -= step;
  }
  return ~state;
}

}  // namespace cairn

// CRC32C (Castagnoli), hardware-accelerated through ISA-L.
#ifndef CAIRN_COMMON_CRC32C_H_
#define CAIRN_COMMON_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cairn {

// Extends `crc` (the CRC32C of some prefix; 0 for none) with `data`.
// Crc32c(Crc32c(0, a), b) == Crc32c(0, a + b).
uint32_t Crc32c(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(std::string_view data) { return Crc32c(0, data.data(), data.size()); }

}  // namespace cairn

#endif  // CAIRN_COMMON_CRC32C_H_

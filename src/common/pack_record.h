// Records of a pack chunk (DESIGN.md §10): a pack chunk holds many small
// files, each as one record, back to back:
//
//   magic   u32 LE  "CRPK"
//   length  u32 LE  bytes of data
//   crc     u32 LE  CRC32C of the data
//   hcrc    u32 LE  CRC32C of the 12 bytes before it
//   data    `length` bytes
//
// A file's extent covers only its data, so reads need not know the framing;
// the headers let a reader of the raw chunk (compaction, scrub, a person with
// a hex dump) find each file's bytes and check them without the metadata.
#ifndef CAIRN_COMMON_PACK_RECORD_H_
#define CAIRN_COMMON_PACK_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn {

inline constexpr uint32_t kPackRecordMagic = 0x4b505243;  // "CRPK" little-endian
inline constexpr size_t kPackRecordHeaderBytes = 16;
// A record's data fits a u32 length; small files are far below it.
inline constexpr uint64_t kMaxPackRecordBytes = UINT32_MAX;

// Appends the record of `data` to `out`; returns the offset of its data in
// `out`. `data` must be at most kMaxPackRecordBytes.
uint64_t AppendPackRecord(std::string* out, std::string_view data);

struct PackRecord {
  uint64_t offset = 0;  // of the record's data in the chunk
  uint64_t length = 0;
};

// The record that starts at `at` in `chunk`. DataLoss if its header is not a
// record's, it runs past the end of `chunk`, or its data fails its CRC32C.
absl::StatusOr<PackRecord> ParsePackRecord(std::string_view chunk, uint64_t at);

// Every record of `chunk`, in order; DataLoss (naming the offset) at the
// first one that does not parse.
absl::StatusOr<std::vector<PackRecord>> ParsePackRecords(std::string_view chunk);

}  // namespace cairn

#endif  // CAIRN_COMMON_PACK_RECORD_H_

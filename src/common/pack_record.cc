#include "common/pack_record.h"

#include <cstring>

#include "common/check.h"
#include "common/crc32c.h"
#include "common/strings.h"

namespace cairn {
namespace {

void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

uint64_t AppendPackRecord(std::string* out, std::string_view data) {
  CAIRN_CHECK(data.size() <= kMaxPackRecordBytes) << data.size();
  char header[kPackRecordHeaderBytes];
  PutU32(header, kPackRecordMagic);
  PutU32(header + 4, static_cast<uint32_t>(data.size()));
  PutU32(header + 8, Crc32c(data));
  PutU32(header + 12, Crc32c(std::string_view(header, 12)));
  out->append(header, sizeof(header));
  uint64_t offset = out->size();
  out->append(data);
  return offset;
}

absl::StatusOr<PackRecord> ParsePackRecord(std::string_view chunk, uint64_t at) {
  if (at > chunk.size() || chunk.size() - at < kPackRecordHeaderBytes) {
    return absl::DataLossError(cairn::StrCat("pack record at ", at, ": header cut short"));
  }
  const char* h = chunk.data() + at;
  if (GetU32(h) != kPackRecordMagic) {
    return absl::DataLossError(cairn::StrCat("pack record at ", at, ": no record magic"));
  }
  if (GetU32(h + 12) != Crc32c(std::string_view(h, 12))) {
    return absl::DataLossError(cairn::StrCat("pack record at ", at, ": header checksum mismatch"));
  }
  PackRecord r;
  r.offset = at + kPackRecordHeaderBytes;
  r.length = GetU32(h + 4);
  if (chunk.size() - r.offset < r.length) {
    return absl::DataLossError(cairn::StrCat("pack record at ", at, ": ", r.length,
                                             " bytes of data run past the chunk's end"));
  }
  if (GetU32(h + 8) != Crc32c(chunk.substr(r.offset, r.length))) {
    return absl::DataLossError(cairn::StrCat("pack record at ", at, ": data checksum mismatch"));
  }
  return r;
}

absl::StatusOr<std::vector<PackRecord>> ParsePackRecords(std::string_view chunk) {
  std::vector<PackRecord> records;
  uint64_t at = 0;
  while (at < chunk.size()) {
    auto r = ParsePackRecord(chunk, at);
    if (!r.ok()) return r.status();
    records.push_back(*r);
    at = r->offset + r->length;
  }
  return records;
}

}  // namespace cairn

// ParsePackRecord(s) (common/pack_record.h) over any bytes, as a pack chunk
// read from a replica may hold: records found must tile the chunk, lie
// within it and pass their CRCs; anything else is DataLoss. Records appended
// by AppendPackRecord parse back to the same offsets.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/check.h"
#include "common/pack_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view chunk(reinterpret_cast<const char*>(data), size);

  auto records = cairn::ParsePackRecords(chunk);
  if (records.ok()) {
    uint64_t at = 0;
    for (const cairn::PackRecord& r : *records) {
      CAIRN_CHECK(r.offset == at + cairn::kPackRecordHeaderBytes) << at << " " << r.offset;
      CAIRN_CHECK(r.length <= chunk.size() - r.offset) << r.offset << "+" << r.length;
      at = r.offset + r.length;
    }
    CAIRN_CHECK(at == chunk.size()) << at << " of " << chunk.size();
  } else {
    CAIRN_CHECK(absl::IsDataLoss(records.status())) << records.status();
  }

  // A record at any offset, past the end included.
  for (uint64_t at :
       {uint64_t{0}, uint64_t{size / 2}, uint64_t{size}, uint64_t{size} + 1, UINT64_MAX - 4}) {
    auto r = cairn::ParsePackRecord(chunk, at);
    if (!r.ok()) {
      CAIRN_CHECK(absl::IsDataLoss(r.status())) << r.status();
      continue;
    }
    CAIRN_CHECK(r->offset == at + cairn::kPackRecordHeaderBytes && r->offset <= chunk.size() &&
                r->length <= chunk.size() - r->offset)
        << at << ": " << r->offset << "+" << r->length;
  }

  // The input split into files, packed, parses back to them.
  std::string packed;
  std::vector<std::pair<uint64_t, size_t>> files;
  for (size_t start = 0; start < chunk.size();) {
    size_t len = std::min<size_t>(chunk.size() - start, static_cast<unsigned char>(chunk[start]));
    files.emplace_back(cairn::AppendPackRecord(&packed, chunk.substr(start, len)), len);
    start += len + 1;
  }
  auto back = cairn::ParsePackRecords(packed);
  CAIRN_CHECK(back.ok()) << back.status();
  CAIRN_CHECK(back->size() == files.size()) << back->size() << " " << files.size();
  for (size_t i = 0; i < files.size(); ++i) {
    CAIRN_CHECK((*back)[i].offset == files[i].first && (*back)[i].length == files[i].second) << i;
  }
  return 0;
}

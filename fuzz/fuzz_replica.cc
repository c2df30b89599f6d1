// The chunkserver's replica files (chunkserver/chunk_store.h, doc/formats.md)
// as the disk gives them back: a replica is written, then its file is damaged
// as the input says (bytes flipped, cut, extended, footer fields rewritten
// with valid checksums, renamed), and the store reopened and read. The store
// must set aside what does not check out, never serve a byte that does not
// match its checksum, and read any range a request may name.
//
// Input (FuzzedDataProvider): the replica's handle, version, length and
// content seed, the sizes of its appends, the edits, then the reads.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "chunkserver/chunk_store.h"
#include "common/check.h"
#include "common/crc32c.h"
#include "common/mem_file_system.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace {

using cairn::chunkserver::ChunkStore;
using cairn::chunkserver::kBlockSize;

constexpr char kRoot[] = "/r";
constexpr size_t kFooterSize = 40;

void PutLe(std::string* file, size_t at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) (*file)[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t GetLe(const std::string& file, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(file[at + i]);
  return v;
}

// Recomputes the footer's own CRC, so an edit of a footer field gets past it.
void SealFooter(std::string* file) {
  if (file->size() < kFooterSize) return;
  size_t f = file->size() - kFooterSize;
  PutLe(file, f + 36, cairn::Crc32c(std::string_view(*file).substr(f, 36)), 4);
}

// Recomputes the table CRC over the table the footer's length implies, then
// the footer's CRC: the blocks' own CRCs are all that is left to check.
void SealTable(std::string* file) {
  if (file->size() < kFooterSize) return;
  size_t f = file->size() - kFooterSize;
  uint64_t length = GetLe(*file, f + 24, 8);
  if (length > f) return;
  uint64_t table = 4 * ((length + kBlockSize - 1) / kBlockSize);
  if (table > f - length) return;
  PutLe(file, f + 32, cairn::Crc32c(std::string_view(*file).substr(length, table)), 4);
  SealFooter(file);
}

std::string ReadAll(cairn::FileSystem* fs, const std::string& path) {
  auto s = cairn::ReadFileToString(fs, path);
  CAIRN_CHECK(s.ok()) << s.status();
  return *s;
}

void WriteAll(cairn::FileSystem* fs, const std::string& path, const std::string& data) {
  auto f = fs->NewWritableFile(path);
  CAIRN_CHECK(f.ok()) << f.status();
  CAIRN_CHECK((*f)->Append(data).ok() && (*f)->Sync().ok() && (*f)->Close().ok());
}

// Bytes that differ from block to block (a 251-byte pattern, shifted by `seed`).
std::string Content(size_t size, uint8_t seed) {
  std::string pattern(251, '\0');
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<char>(i * 131 + seed);
  std::string data;
  data.reserve(size + pattern.size());
  while (data.size() < size) data += pattern;
  data.resize(size);
  return data;
}

// An offset or length: near the replica's size or any 64-bit value.
uint64_t Position(FuzzedDataProvider& in, uint64_t size) {
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0:
      return in.ConsumeIntegralInRange<uint64_t>(0, size + 1);
    case 1:
      return in.ConsumeIntegral<uint64_t>();
    default:
      return UINT64_MAX - in.ConsumeIntegralInRange<uint64_t>(0, size + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // a warning per damaged replica
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  FuzzedDataProvider in(bytes, size);
  const uint64_t handle = in.ConsumeIntegralInRange<uint64_t>(1, 3);
  const uint64_t version = in.ConsumeIntegralInRange<uint64_t>(1, 3);
  const std::string data = Content(in.ConsumeIntegralInRange<size_t>(0, 3 * kBlockSize + 17),
                                   in.ConsumeIntegral<uint8_t>());

  cairn::MemFileSystem fs;
  {
    auto store = ChunkStore::Open(&fs, kRoot);
    CAIRN_CHECK(store.ok()) << store.status();
    auto w = (*store)->Create(handle, version);
    CAIRN_CHECK(w.ok()) << w.status();
    // In up to four appends, the last one taking the rest.
    size_t written = 0;
    for (int appends = in.ConsumeIntegralInRange(1, 4); written < data.size(); --appends) {
      size_t piece = appends <= 1 ? data.size() - written
                                  : in.ConsumeIntegralInRange<size_t>(0, data.size() - written);
      CAIRN_CHECK((*w)->Append(std::string_view(data).substr(written, piece)).ok());
      written += piece;
    }
    auto crc = (*w)->Finish();
    CAIRN_CHECK(crc.ok() && *crc == cairn::Crc32c(data)) << crc.status();
  }

  // The damage.
  std::string path = cairn::StrCat(kRoot, "/chunks/", handle, "_", version, ".chunk");
  std::string file = ReadAll(&fs, path);
  const std::string original = file;
  int edits = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < edits && in.remaining_bytes() > 0; ++i) {
    switch (in.ConsumeIntegralInRange(0, 6)) {
      case 0:  // bit rot
        if (!file.empty()) {
          file[in.ConsumeIntegralInRange<size_t>(0, file.size() - 1)] ^=
              static_cast<char>(in.ConsumeIntegralInRange<uint8_t>(1, 255));
        }
        break;
      case 1:  // a torn or truncated file
        file.resize(in.ConsumeIntegralInRange<size_t>(0, file.size()));
        break;
      case 2:  // trailing garbage
        file += in.ConsumeBytesAsString(in.ConsumeIntegralInRange<size_t>(1, 64));
        break;
      case 3:  // a footer field rewritten, its CRC valid
        if (file.size() >= kFooterSize) {
          size_t f = file.size() - kFooterSize;
          int field = in.ConsumeIntegralInRange(0, 3);
          size_t at = f + 8 + 8 * field;
          int width = field == 3 ? 4 : 8;
          uint64_t v = in.ConsumeBool() ? GetLe(file, at, width) + in.ConsumeIntegral<int8_t>()
                                        : in.ConsumeIntegral<uint64_t>();
          PutLe(&file, at, v, width);
          SealFooter(&file);
        }
        break;
      case 4:  // the table's and footer's CRCs made to match what is there
        SealTable(&file);
        break;
      case 5: {  // the file under another name: of another chunk, or not a chunk's
        std::string name = in.ConsumeBool()
                               ? cairn::StrCat(in.ConsumeIntegralInRange<uint64_t>(0, 4), "_",
                                               in.ConsumeIntegralInRange<uint64_t>(0, 4), ".chunk")
                               : in.ConsumeBytesAsString(in.ConsumeIntegralInRange(1, 12));
        if (name.empty() || name.find_first_of(std::string_view("/\0", 2)) != std::string::npos ||
            name == "." || name == "..") {
          break;
        }
        CAIRN_CHECK(fs.Rename(path, cairn::StrCat(kRoot, "/chunks/", name)).ok());
        path = cairn::StrCat(kRoot, "/chunks/", name);
        break;
      }
      case 6:  // a write a crash interrupted
        WriteAll(&fs, cairn::StrCat(kRoot, "/tmp/", handle, "_", version, ".1.tmp"),
                 file.substr(0, file.size() / 2));
        break;
    }
  }
  WriteAll(&fs, path, file);
  const bool pristine =
      file == original && path.ends_with(cairn::StrCat("/", handle, "_", version, ".chunk"));

  auto reopened = ChunkStore::Open(&fs, kRoot);
  CAIRN_CHECK(reopened.ok()) << reopened.status();  // damage is set aside, not an error
  ChunkStore& store = **reopened;
  auto listed = store.List();
  if (pristine) {
    CAIRN_CHECK(listed.size() == 1 && listed[0].handle() == handle &&
                listed[0].version() == version && listed[0].size() == data.size());
  }
  for (const cairn::ReplicaInfo& r : listed) {
    const uint64_t total = r.size();
    for (int i = 0; i < 3 && store.Has(r.handle(), r.version()); ++i) {
      const uint64_t offset = Position(in, total);
      const uint64_t length = in.ConsumeBool() ? 0 : Position(in, total);
      const size_t max_piece = in.ConsumeIntegralInRange<size_t>(0, 3 * kBlockSize);
      const size_t piece_limit = std::max<size_t>(max_piece / kBlockSize, 1) * kBlockSize;
      std::string got;
      absl::Status s =
          store.Read(r.handle(), r.version(), offset, length, max_piece, [&](std::string* p) {
            CAIRN_CHECK(p->size() <= piece_limit) << p->size() << " > " << piece_limit;
            got += *p;
            return absl::OkStatus();
          });
      const bool past_end = offset > total || (offset == total && total > 0);
      if (s.ok()) {
        CAIRN_CHECK(!past_end) << offset << " of " << total;
        // [offset, offset + length) clipped to the replica; length 0: to the end.
        uint64_t want = length == 0 || length > total - offset ? total - offset : length;
        CAIRN_CHECK(got.size() == want) << "read " << offset << "+" << length << " of " << total
                                        << ": " << got.size() << " bytes, not " << want;
        if (pristine) CAIRN_CHECK(got == data.substr(offset, want)) << offset << "+" << length;
      } else if (absl::IsOutOfRange(s)) {
        CAIRN_CHECK(past_end) << offset << " of " << total << ": " << s;
      } else {
        CAIRN_CHECK(absl::IsDataLoss(s)) << s;
        CAIRN_CHECK(!pristine) << s;
        CAIRN_CHECK(!store.Has(r.handle(), r.version()));  // set aside
      }
    }
    if (store.Has(r.handle(), r.version())) {
      absl::Status v = store.Verify(r.handle(), r.version());
      CAIRN_CHECK(v.ok() || absl::IsDataLoss(v)) << v;
      CAIRN_CHECK(v.ok() || !pristine) << v;
    }
    absl::Status d = store.Delete(r.handle(), r.version());
    CAIRN_CHECK(d.ok()) << d;  // the replica, or the file set aside
  }
  return 0;
}

#include "chunkserver/chunk_store.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "common/crc32c.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::chunkserver {
namespace {

constexpr char kMagic[8] = {'C', 'A', 'I', 'R', 'N', 'C', 'K', '1'};
constexpr size_t kFooterSize = 40;

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

uint64_t NumBlocks(uint64_t length) { return (length + kBlockSize - 1) / kBlockSize; }

struct Footer {
  uint64_t handle = 0, version = 0, length = 0;
  uint32_t table_crc = 0;
};

std::string EncodeFooter(const Footer& f) {
  std::string out(kMagic, sizeof(kMagic));
  PutU64(&out, f.handle);
  PutU64(&out, f.version);
  PutU64(&out, f.length);
  PutU32(&out, f.table_crc);
  PutU32(&out, Crc32c(out));
  return out;
}

absl::StatusOr<Footer> DecodeFooter(const char* p) {
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0) return absl::DataLossError("bad footer magic");
  if (Crc32c(0, p, kFooterSize - 4) != GetU32(p + kFooterSize - 4)) {
    return absl::DataLossError("footer checksum mismatch");
  }
  Footer f;
  f.handle = GetU64(p + 8);
  f.version = GetU64(p + 16);
  f.length = GetU64(p + 24);
  f.table_crc = GetU32(p + 32);
  return f;
}

// An open replica: its footer and checksum table, validated.
struct OpenReplica {
  std::unique_ptr<RandomAccessFile> file;
  Footer footer;
  std::string table;
};

absl::StatusOr<OpenReplica> OpenAndCheck(FileSystem* fs, const std::string& path) {
  OpenReplica r;
  ASSIGN_OR_RETURN(r.file, fs->NewRandomAccessFile(path));
  ASSIGN_OR_RETURN(uint64_t size, r.file->Size());
  if (size < kFooterSize) return absl::DataLossError(cairn::StrCat(path, ": too short"));
  char footer[kFooterSize];
  ASSIGN_OR_RETURN(size_t n, r.file->Read(size - kFooterSize, kFooterSize, footer));
  if (n != kFooterSize) return absl::DataLossError(cairn::StrCat(path, ": short footer read"));
  ASSIGN_OR_RETURN(r.footer, DecodeFooter(footer));
  uint64_t table_size = 4 * NumBlocks(r.footer.length);
  if (r.footer.length + table_size + kFooterSize != size) {
    return absl::DataLossError(cairn::StrCat(path, ": size does not match footer"));
  }
  r.table.resize(table_size);
  ASSIGN_OR_RETURN(n, r.file->Read(r.footer.length, table_size, r.table.data()));
  if (n != table_size || Crc32c(r.table) != r.footer.table_crc) {
    return absl::DataLossError(cairn::StrCat(path, ": checksum table corrupt"));
  }
  return r;
}

}  // namespace

// ---------------------------------------------------------------- ChunkWriter

ChunkWriter::ChunkWriter(ChunkStore* store, uint64_t handle, uint64_t version, std::string tmp_path,
                         std::unique_ptr<WritableFile> file)
    : store_(store),
      handle_(handle),
      version_(version),
      tmp_path_(std::move(tmp_path)),
      file_(std::move(file)) {}

ChunkWriter::~ChunkWriter() {
  if (!done_) {
    file_.reset();
    store_->fs_->Delete(tmp_path_).IgnoreError();
  }
}

absl::Status ChunkWriter::Append(std::string_view data) {
  if (done_) return absl::FailedPreconditionError("writer finished");
  RETURN_IF_ERROR(file_->Append(data));
  size_ += data.size();
  crc_ = Crc32c(crc_, data.data(), data.size());
  while (!data.empty()) {
    size_t take = std::min<uint64_t>(data.size(), kBlockSize - block_fill_);
    block_crc_ = Crc32c(block_crc_, data.data(), take);
    block_fill_ += take;
    data.remove_prefix(take);
    if (block_fill_ == kBlockSize) {
      PutU32(&crc_table_, block_crc_);
      block_crc_ = 0;
      block_fill_ = 0;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ChunkWriter::Finish() {
  if (done_) return absl::FailedPreconditionError("writer finished");
  if (block_fill_ > 0) PutU32(&crc_table_, block_crc_);
  Footer f{handle_, version_, size_, Crc32c(crc_table_)};
  RETURN_IF_ERROR(file_->Append(crc_table_));
  RETURN_IF_ERROR(file_->Append(EncodeFooter(f)));
  RETURN_IF_ERROR(file_->Sync());
  RETURN_IF_ERROR(file_->Close());
  RETURN_IF_ERROR(store_->Commit(handle_, version_, size_, tmp_path_));
  done_ = true;
  return crc_;
}

// ----------------------------------------------------------------- ChunkStore

ChunkStore::ChunkStore(FileSystem* fs, std::string root)
    : fs_(fs),
      root_(std::move(root)),
      chunks_dir_(root_ + "/chunks"),
      tmp_dir_(root_ + "/tmp"),
      dir_sync_([this] { return fs_->SyncDir(chunks_dir_); }) {}

absl::StatusOr<std::unique_ptr<ChunkStore>> ChunkStore::Open(FileSystem* fs,
                                                             const std::string& root_dir) {
  auto store = std::unique_ptr<ChunkStore>(new ChunkStore(fs, root_dir));
  RETURN_IF_ERROR(store->Load());
  return store;
}

std::string ChunkStore::ChunkPath(uint64_t handle, uint64_t version) const {
  return cairn::StrCat(chunks_dir_, "/", handle, "_", version, ".chunk");
}

absl::Status ChunkStore::Load() {
  RETURN_IF_ERROR(fs_->CreateDirs(chunks_dir_));
  RETURN_IF_ERROR(fs_->CreateDirs(tmp_dir_));
  ASSIGN_OR_RETURN(auto tmp_names, fs_->ListDir(tmp_dir_));
  for (const std::string& name : tmp_names) {
    fs_->Delete(tmp_dir_ + "/" + name).IgnoreError();  // a write the crash interrupted
  }
  ASSIGN_OR_RETURN(auto names, fs_->ListDir(chunks_dir_));
  absl::MutexLock lock(&mu_);
  for (const std::string& name : names) {
    std::string path = chunks_dir_ + "/" + name;
    uint64_t handle = 0, version = 0;
    size_t us = name.find('_');
    bool named = name.ends_with(".chunk") && us != std::string::npos &&
                 absl::SimpleAtoi(ToAbsl(std::string_view(name).substr(0, us)), &handle) &&
                 absl::SimpleAtoi(
                     ToAbsl(std::string_view(name).substr(us + 1, name.size() - us - 7)), &version);
    if (!named) continue;  // not ours (e.g. a .corrupt file set aside earlier)
    auto r = OpenAndCheck(fs_, path);
    if (!r.ok() || r->footer.handle != handle || r->footer.version != version) {
      spdlog::warn("setting aside damaged replica {}: {}", path,
                   r.ok() ? "footer names another chunk" : std::string(r.status().message()));
      fs_->Rename(path, path + ".corrupt").IgnoreError();
      continue;
    }
    auto [it, inserted] = replicas_.try_emplace(handle);
    if (!inserted && it->second.version() >= version) {
      fs_->Delete(path).IgnoreError();  // an older version left over
      continue;
    }
    if (!inserted) {
      fs_->Delete(ChunkPath(handle, it->second.version())).IgnoreError();
      bytes_ -= it->second.size();
    }
    it->second.set_handle(handle);
    it->second.set_version(version);
    it->second.set_size(r->footer.length);
    bytes_ += r->footer.length;
  }
  spdlog::info("chunk store {}: {} replicas, {} bytes", root_, replicas_.size(), bytes_);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ChunkWriter>> ChunkStore::Create(uint64_t handle, uint64_t version) {
  std::string tmp;
  {
    absl::MutexLock lock(&mu_);
    auto it = replicas_.find(handle);
    if (it != replicas_.end() && it->second.version() == version) {
      return absl::AlreadyExistsError(cairn::StrCat("replica ", handle, " v", version, " exists"));
    }
    tmp = cairn::StrCat(tmp_dir_, "/", handle, "_", version, ".", ++tmp_seq_, ".tmp");
  }
  ASSIGN_OR_RETURN(auto file, fs_->NewBulkWritableFile(tmp));
  return std::unique_ptr<ChunkWriter>(new ChunkWriter(this, handle, version, tmp, std::move(file)));
}

absl::Status ChunkStore::Commit(uint64_t handle, uint64_t version, uint64_t size,
                                const std::string& tmp_path) {
  std::string path = ChunkPath(handle, version);
  RETURN_IF_ERROR(fs_->Rename(tmp_path, path));
  RETURN_IF_ERROR(dir_sync_.Sync());  // shared with the renames of concurrent writes
  absl::MutexLock lock(&mu_);
  ReplicaInfo& r = replicas_[handle];
  if (r.handle() != 0 && r.version() != version) {
    fs_->Delete(ChunkPath(handle, r.version())).IgnoreError();
    bytes_ -= r.size();
    changes_.removed.push_back(r);
  } else if (r.handle() != 0) {
    bytes_ -= r.size();
  }
  r.set_handle(handle);
  r.set_version(version);
  r.set_size(size);
  bytes_ += size;
  changes_.added.push_back(r);
  return absl::OkStatus();
}

void ChunkStore::MarkCorrupt(uint64_t handle, uint64_t version, const absl::Status& why) {
  std::string path = ChunkPath(handle, version);
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(handle);
  if (it == replicas_.end() || it->second.version() != version) return;
  spdlog::warn("replica {} v{} is lost ({}); setting it aside", handle, version, why.ToString());
  changes_.corrupt.push_back(it->second);
  bytes_ -= it->second.size();
  replicas_.erase(it);
  fs_->Rename(path, path + ".corrupt").IgnoreError();
}

namespace {

// The replica itself is bad or gone (corrupt, unreadable, not permitted,
// vanished), as opposed to the chunkserver being short of descriptors or
// memory: it is set aside and reported, so the master re-replicates it.
bool ReplicaLost(const absl::Status& s) {
  return absl::IsDataLoss(s) || absl::IsPermissionDenied(s) || absl::IsNotFound(s);
}

}  // namespace

absl::Status ChunkStore::Read(uint64_t handle, uint64_t version, uint64_t offset, uint64_t length,
                              size_t max_piece, const ReadSink& sink) {
  if (!Has(handle, version)) {
    return absl::NotFoundError(cairn::StrCat("no replica ", handle, " v", version));
  }
  absl::Status read = ReadHeld(handle, version, offset, length, max_piece, sink);
  if (ReplicaLost(read)) {
    MarkCorrupt(handle, version, read);
    // NotFound would say the chunkserver never had it; it had it and lost it.
    if (!absl::IsDataLoss(read)) read = absl::DataLossError(read.message());
  }
  return read;
}

absl::Status ChunkStore::ReadHeld(uint64_t handle, uint64_t version, uint64_t offset,
                                  uint64_t length, size_t max_piece, const ReadSink& sink) {
  ASSIGN_OR_RETURN(auto r, OpenAndCheck(fs_, ChunkPath(handle, version)));
  const uint64_t total = r.footer.length;
  if (offset > total || (offset == total && total > 0)) {
    return absl::OutOfRangeError(cairn::StrCat("offset ", offset, " past end ", total));
  }
  // [offset, offset + length) clipped to the replica; offset + length may not fit.
  uint64_t end = length == 0 || length > total - offset ? total : offset + length;
  max_piece = std::max<size_t>(max_piece / kBlockSize, 1) * kBlockSize;
  std::string buf;
  // Read whole blocks, verify each, hand out the requested part.
  uint64_t block = offset / kBlockSize;
  while (block * kBlockSize < end) {
    uint64_t start = block * kBlockSize;
    uint64_t span = std::min<uint64_t>(max_piece, NumBlocks(total) * kBlockSize - start);
    span = std::min(span, ((end - start + kBlockSize - 1) / kBlockSize) * kBlockSize);
    uint64_t want = std::min(span, total - start);
    // Replicas are written past the page cache, so reads come from the disk:
    // ask for the next pieces now, to arrive while this one is sent.
    if (start + want < end) {
      uint64_t ahead = std::min<uint64_t>(end, start + want + 8 * max_piece);
      r.file->Prefetch(start + want, ahead - start - want);
    }
    buf.resize(want);
    ASSIGN_OR_RETURN(size_t n, r.file->Read(start, want, buf.data()));
    if (n != want) return absl::DataLossError(cairn::StrCat("replica ", handle, " truncated"));
    for (uint64_t pos = 0; pos < want; pos += kBlockSize, ++block) {
      size_t len = std::min<uint64_t>(kBlockSize, want - pos);
      if (Crc32c(0, buf.data() + pos, len) != GetU32(r.table.data() + 4 * block)) {
        return absl::DataLossError(
            cairn::StrCat("checksum mismatch in replica ", handle, " block ", block));
      }
    }
    uint64_t from = std::max(offset, start) - start;
    uint64_t to = std::min(end, start + want) - start;
    buf.resize(to);
    buf.erase(0, from);
    RETURN_IF_ERROR(sink(&buf));
  }
  return absl::OkStatus();
}

absl::Status ChunkStore::Verify(uint64_t handle, uint64_t version) {
  return Read(handle, version, 0, 0, 1 << 20, [](std::string*) { return absl::OkStatus(); });
}

absl::Status ChunkStore::Delete(uint64_t handle, uint64_t version) {
  {
    absl::MutexLock lock(&mu_);
    auto it = replicas_.find(handle);
    if (it == replicas_.end() || it->second.version() != version) {
      // A replica set aside as corrupt goes when the master says so.
      std::string corrupt = ChunkPath(handle, version) + ".corrupt";
      if (fs_->Exists(corrupt)) return fs_->Delete(corrupt);
      return absl::NotFoundError(cairn::StrCat("no replica ", handle, " v", version));
    }
    bytes_ -= it->second.size();
    changes_.removed.push_back(it->second);
    replicas_.erase(it);
  }
  return fs_->Delete(ChunkPath(handle, version));
}

std::vector<ReplicaInfo> ChunkStore::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<ReplicaInfo> out;
  out.reserve(replicas_.size());
  for (const auto& [h, r] : replicas_) out.push_back(r);
  return out;
}

bool ChunkStore::Has(uint64_t handle, uint64_t version) const {
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(handle);
  return it != replicas_.end() && it->second.version() == version;
}

StoreStats ChunkStore::Stats() const {
  absl::MutexLock lock(&mu_);
  return StoreStats{replicas_.size(), bytes_};
}

ChunkStore::Changes ChunkStore::TakeChanges() {
  absl::MutexLock lock(&mu_);
  Changes out = std::move(changes_);
  changes_ = Changes();
  return out;
}

}  // namespace cairn::chunkserver

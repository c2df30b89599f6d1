#include "master/metadata_store.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/logging.h"
#include "common/path.h"
#include "common/status.h"
#include "common/strings.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace cairn::master {
namespace {

constexpr char kHandleMarkKey[] = "m/handle_mark";
constexpr char kFormatKey[] = "m/format";
// 1: files list whole chunks (FileMeta.chunks), chunk records count nothing.
// 2: files list extents, chunk records count the extents naming them.
// 3: chunk records also add up those extents' bytes, and mark pack chunks.
constexpr uint64_t kFormat = 3;
// Mutations per WriteBatch while migrating.
constexpr int kMigrateBatch = 10000;

std::string NsKey(std::string_view path) { return cairn::StrCat("n", path); }

// Prefix of every key strictly below directory `dir`.
std::string SubtreePrefix(std::string_view dir) {
  return dir == "/" ? std::string("n/") : cairn::StrCat("n", dir, "/");
}

std::string U64Key(char tag, uint64_t v) {
  std::string key(9, '\0');
  key[0] = tag;
  for (int i = 0; i < 8; ++i) key[1 + i] = static_cast<char>((v >> (56 - 8 * i)) & 0xff);
  return key;
}

uint64_t DecodeU64Key(std::string_view key) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(key[1 + i]);
  return v;
}

std::string ChunkKey(uint64_t handle) { return U64Key('c', handle); }
std::string U64Value(uint64_t v) { return U64Key('x', v).substr(1); }
uint64_t DecodeU64Value(std::string_view v) { return DecodeU64Key(cairn::StrCat("x", v)); }
std::string NodeKey(uint64_t id) { return U64Key('s', id); }

absl::Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound()) return absl::NotFoundError(s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(s.ToString());
  return absl::InternalError(s.ToString());
}

absl::StatusOr<Entry> ParseEntry(std::string_view path, const rocksdb::Slice& value) {
  Entry e;
  if (!e.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(cairn::StrCat("corrupt namespace entry for ", path));
  }
  e.set_path(std::string(path));
  return e;
}

std::string SerializeEntry(Entry e) {
  e.clear_path();
  return e.SerializeAsString();
}

Entry DirEntry(std::string_view path, int64_t mtime_ms) {
  Entry e;
  e.set_path(std::string(path));
  e.set_type(Entry::DIR);
  e.set_mtime_ms(mtime_ms);
  return e;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetadataStore>> MetadataStore::Open(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.max_open_files = 512;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return Annotate(FromRocks(s), cairn::StrCat("opening metadata in ", dir));
  auto store = std::unique_ptr<MetadataStore>(new MetadataStore(std::unique_ptr<rocksdb::DB>(raw)));
  std::string mark;
  s = store->db_->Get(rocksdb::ReadOptions(), kHandleMarkKey, &mark);
  if (s.ok() && mark.size() == 8) {
    absl::MutexLock lock(&store->write_mu_);
    store->handle_mark_ = DecodeU64Value(mark);
  } else if (!s.IsNotFound()) {
    return FromRocks(s);
  }
  RETURN_IF_ERROR(Annotate(store->Migrate(), cairn::StrCat("migrating the metadata in ", dir)));
  return store;
}

absl::Status MetadataStore::Migrate() {
  absl::MutexLock lock(&write_mu_);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kFormatKey, &value);
  uint64_t format = 1;
  if (s.ok()) {
    if (value.size() != 8) return absl::DataLossError("corrupt metadata format record");
    format = DecodeU64Value(value);
  } else if (!s.IsNotFound()) {
    return FromRocks(s);
  }
  if (format == kFormat) return absl::OkStatus();
  if (format > kFormat) {
    return absl::FailedPreconditionError(
        cairn::StrCat("the metadata is format ", format, ", newer than this master's ", kFormat,
                      "; run the release that wrote it or a later one"));
  }
  // Format 1 or 2 (or an empty database). Files' chunk lists (format 1)
  // become extents, then every chunk record gets the count and the bytes of
  // the extents naming it, and is marked a pack chunk if an extent starts
  // inside it (before format 3 only CommitPack wrote such extents: a file's
  // own chunks begin with its bytes). Each batch is complete in itself, and a
  // run over partly migrated metadata converts what is left and recounts
  // everything, so a crash midway only repeats work.
  const absl::Time start = absl::Now();
  struct Count {
    uint64_t refs = 0;
    uint64_t live_bytes = 0;
    bool packed = false;
  };
  absl::flat_hash_map<uint64_t, Count> refs;
  uint64_t files = 0, converted = 0;
  rocksdb::WriteBatch batch;
  auto flush = [&]() -> absl::Status {
    if (batch.Count() == 0) return absl::OkStatus();
    RETURN_IF_ERROR(FromRocks(db_->Write(rocksdb::WriteOptions(), &batch)));
    batch.Clear();
    return absl::OkStatus();
  };
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("n"); it->Valid() && it->key().starts_with("n"); it->Next()) {
    std::string_view path(it->key().data() + 1, it->key().size() - 1);
    ASSIGN_OR_RETURN(Entry e, ParseEntry(path, it->value()));
    if (e.type() != Entry::FILE) continue;
    ++files;
    FileMeta* f = e.mutable_file();
    if (f->chunks_size() > 0) {
      for (const ChunkRef& c : f->chunks()) {
        Extent* x = f->add_extents();
        x->set_handle(c.handle());
        x->set_version(c.version());
        x->set_length(c.size());
      }
      f->clear_chunks();
      batch.Put(it->key(), SerializeEntry(e));
      ++converted;
    }
    for (const Extent& x : f->extents()) {
      Count& c = refs[x.handle()];
      ++c.refs;
      c.live_bytes += x.length();
      c.packed = c.packed || x.offset() > 0;
    }
    if (batch.Count() >= kMigrateBatch) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(FromRocks(it->status()));
  RETURN_IF_ERROR(flush());
  uint64_t records = 0, unreferenced = 0;
  it.reset(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("c"); it->Valid() && it->key().starts_with("c"); it->Next()) {
    ChunkRecord rec;
    if (it->key().size() != 9 ||
        !rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt chunk record");
    }
    const uint64_t handle = DecodeU64Key(it->key().ToStringView());
    auto count = refs.find(handle);
    if (count == refs.end()) {
      // No file names it: format 1 never left such a record, but if one is
      // here its replicas are garbage like any unreferenced chunk's.
      ++unreferenced;
      batch.Delete(it->key());
    } else {
      rec.set_refs(count->second.refs);
      rec.set_live_bytes(count->second.live_bytes);
      rec.set_packed(count->second.packed);
      batch.Put(it->key(), rec.SerializeAsString());
      refs.erase(count);
    }
    ++records;
    if (batch.Count() >= kMigrateBatch) RETURN_IF_ERROR(flush());
  }
  RETURN_IF_ERROR(FromRocks(it->status()));
  if (!refs.empty()) {
    return absl::DataLossError(
        cairn::StrCat(refs.size(), " chunks named by files have no chunk record (chunk ",
                      refs.begin()->first, ", for one); the metadata is damaged"));
  }
  batch.Put(kFormatKey, U64Value(kFormat));
  rocksdb::WriteOptions synced;
  synced.sync = true;
  RETURN_IF_ERROR(FromRocks(db_->Write(synced, &batch)));
  if (files > 0 || records > 0) {
    spdlog::info(
        "metadata migrated from format {} to {}: {} of {} files to extents, {} chunk records "
        "counted ({} unreferenced, dropped) in {}",
        format, kFormat, converted, files, records, unreferenced,
        absl::FormatDuration(absl::Now() - start));
  }
  return absl::OkStatus();
}

MetadataStore::MetadataStore(std::unique_ptr<rocksdb::DB> db)
    : db_(std::move(db)), wal_sync_([this] { return FromRocks(db_->SyncWAL()); }) {}

MetadataStore::~MetadataStore() { db_->Close(); }

MetadataStore::Applied MetadataStore::ApplyLocked(rocksdb::WriteBatch* batch) {
  // Applied under the lock (the next check sees it), synced after it: the
  // WAL is one ordered log, so a synced mutation implies every earlier one is
  // durable too, and concurrent mutations share one WAL sync.
  Applied applied;
  applied.status = FromRocks(db_->Write(rocksdb::WriteOptions(), batch));
  applied.ticket = wal_sync_.Ticket();
  return applied;
}

absl::Status MetadataStore::AwaitDurable(const Applied& applied) {
  RETURN_IF_ERROR(applied.status);
  absl::Status synced = wal_sync_.Wait(applied.ticket);
  if (!synced.ok()) {
    // The mutation is applied, readers may have seen it, and it may or may
    // not be on disk. Neither keeping it (a state lost at the next restart)
    // nor undoing it (the caller would free chunks a durable entry names)
    // is safe. Stop, and let the restart recover what the log holds, as
    // PostgreSQL does after a failed fsync.
    spdlog::critical("metadata WAL sync failed, stopping: {}", synced.ToString());
    std::abort();
  }
  return absl::OkStatus();
}

absl::StatusOr<Entry> MetadataStore::Get(const std::string& path) const {
  if (path == "/") return DirEntry("/", 0);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), NsKey(path), &value);
  if (s.IsNotFound())
    return absl::NotFoundError(cairn::StrCat("no such file or directory: ", path));
  RETURN_IF_ERROR(FromRocks(s));
  return ParseEntry(path, value);
}

absl::Status MetadataStore::AddParents(const std::string& path, int64_t mtime_ms,
                                       rocksdb::WriteBatch* batch) const {
  for (const std::string& dir : AncestorDirs(path)) {
    auto e = Get(dir);
    if (e.ok()) {
      if (e->type() != Entry::DIR) {
        return absl::AlreadyExistsError(cairn::StrCat("a file is in the way: ", dir));
      }
      continue;
    }
    if (!absl::IsNotFound(e.status())) return e.status();
    batch->Put(NsKey(dir), SerializeEntry(DirEntry(dir, mtime_ms)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Entry> MetadataStore::Mkdir(const std::string& path, int64_t mtime_ms) {
  absl::ReleasableMutexLock lock(&write_mu_);
  auto existing = Get(path);
  if (existing.ok()) {
    if (existing->type() == Entry::DIR) return existing;
    return absl::AlreadyExistsError(cairn::StrCat("a file exists at ", path));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(AddParents(path, mtime_ms, &batch));
  Entry e = DirEntry(path, mtime_ms);
  batch.Put(NsKey(path), SerializeEntry(e));
  Applied applied = ApplyLocked(&batch);
  lock.Release();
  RETURN_IF_ERROR(AwaitDurable(applied));
  return e;
}

absl::Status MetadataStore::CheckCreatable(const std::string& path, bool if_none_match) const {
  // Reads only; a racing mutation is caught again by PutFile under the lock.
  for (const std::string& dir : AncestorDirs(path)) {
    auto e = Get(dir);
    if (e.ok() && e->type() != Entry::DIR) {
      return absl::AlreadyExistsError(cairn::StrCat("a file is in the way: ", dir));
    }
    if (!e.ok() && !absl::IsNotFound(e.status())) return e.status();
    if (!e.ok()) break;  // missing ancestors are created at commit
  }
  auto e = Get(path);
  if (e.ok()) {
    if (e->type() == Entry::DIR) {
      return absl::AlreadyExistsError(cairn::StrCat("a directory exists at ", path));
    }
    if (if_none_match) return absl::FailedPreconditionError(cairn::StrCat("file exists: ", path));
  } else if (!absl::IsNotFound(e.status())) {
    return e.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<ChunkRecord*> MetadataStore::LoadChunk(uint64_t handle,
                                                      ChunkRecords* records) const {
  auto it = records->find(handle);
  if (it != records->end()) return &it->second;
  auto rec = GetChunk(handle);
  if (absl::IsNotFound(rec.status())) {
    return absl::InvalidArgumentError(
        cairn::StrCat("chunk ", handle, " is not referenced by any file"));
  }
  RETURN_IF_ERROR(rec.status());
  return &records->emplace(handle, *std::move(rec)).first->second;
}

absl::Status MetadataStore::CountRefs(const FileMeta& file, int64_t delta,
                                      ChunkRecords* records) const {
  for (const Extent& x : file.extents()) {
    auto rec = LoadChunk(x.handle(), records);
    if (!rec.ok() && delta < 0 && absl::IsInvalidArgument(rec.status())) {
      // Damaged metadata must not make the file impossible to remove.
      spdlog::error("a file names chunk {}, which has no chunk record", x.handle());
      continue;
    }
    RETURN_IF_ERROR(rec.status());
    const uint64_t refs = (*rec)->refs();
    const uint64_t live = (*rec)->live_bytes();
    if (delta < 0 && (refs < static_cast<uint64_t>(-delta) || live < x.length())) {
      spdlog::error("chunk {} has {} references of {} bytes, fewer than the files naming it",
                    x.handle(), refs, live);
      (*rec)->set_refs(refs < static_cast<uint64_t>(-delta) ? 0 : refs + delta);
      (*rec)->set_live_bytes(live < x.length() ? 0 : live - x.length());
    } else {
      (*rec)->set_refs(refs + delta);
      (*rec)->set_live_bytes(delta < 0 ? live - x.length() : live + x.length());
    }
  }
  return absl::OkStatus();
}

void MetadataStore::PutRefs(const ChunkRecords& records, rocksdb::WriteBatch* batch,
                            std::vector<uint64_t>* released) {
  for (const auto& [handle, rec] : records) {
    if (rec.refs() == 0) {
      batch->Delete(ChunkKey(handle));
      released->push_back(handle);
    } else {
      batch->Put(ChunkKey(handle), rec.SerializeAsString());
    }
  }
}

absl::Status MetadataStore::CheckExtents(const FileMeta& file, ChunkRecords* records) const {
  uint64_t total = 0;
  for (const Extent& x : file.extents()) {
    ASSIGN_OR_RETURN(const ChunkRecord* rec, LoadChunk(x.handle(), records));
    if (rec->version() != x.version() || x.length() == 0 || x.offset() > rec->size() ||
        x.length() > rec->size() - x.offset()) {
      return absl::InvalidArgumentError(
          cairn::StrCat("extent [", x.offset(), ", +", x.length(), ") of chunk ", x.handle(),
                        " version ", x.version(), " is not within the chunk (version ",
                        rec->version(), ", ", rec->size(), " bytes)"));
    }
    total += x.length();
  }
  if (total != file.length()) {
    return absl::InvalidArgumentError(
        cairn::StrCat("extents add up to ", total, " bytes, not ", file.length()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Entry> MetadataStore::PutFile(
    const std::string& path, const FileMeta& file,
    const std::vector<std::pair<uint64_t, ChunkRecord>>& new_chunks, int64_t mtime_ms,
    bool if_none_match, std::vector<uint64_t>* released) {
  std::vector<absl::StatusOr<Entry>> results;
  std::vector<uint64_t> unreferenced;
  RETURN_IF_ERROR(PutFiles({FilePut{path, file, if_none_match}}, new_chunks, mtime_ms, &results,
                           &unreferenced));
  // A failed file wrote nothing; its new chunks are the caller's to drop.
  if (results[0].ok() && released != nullptr) *released = std::move(unreferenced);
  return std::move(results[0]);
}

absl::Status MetadataStore::PutFiles(
    const std::vector<FilePut>& files,
    const std::vector<std::pair<uint64_t, ChunkRecord>>& new_chunks, int64_t mtime_ms,
    std::vector<absl::StatusOr<Entry>>* results, std::vector<uint64_t>* released) {
  ChunkRecords records;
  for (const auto& [handle, rec] : new_chunks) {
    ChunkRecord& r = records[handle];
    r = rec;
    r.set_refs(0);
    r.set_live_bytes(0);
  }
  results->clear();
  results->reserve(files.size());
  // Paths this call writes: files, and the directories above them. Checks
  // read the database, which holds none of them yet.
  absl::flat_hash_set<std::string> written_files, written_dirs;
  absl::ReleasableMutexLock lock(&write_mu_);
  rocksdb::WriteBatch batch;
  auto put_one = [&](const FilePut& f) -> absl::StatusOr<Entry> {
    if (f.path == "/") return absl::AlreadyExistsError("a directory exists at /");
    std::vector<std::string> ancestors = AncestorDirs(f.path);
    bool clash = written_files.contains(f.path) || written_dirs.contains(f.path);
    for (const std::string& dir : ancestors) clash = clash || written_files.contains(dir);
    if (clash) {
      return absl::AbortedError(
          cairn::StrCat(f.path, " clashes with another file of the same commit"));
    }
    RETURN_IF_ERROR(CheckCreatable(f.path, f.if_none_match));  // again, now under the lock
    RETURN_IF_ERROR(CheckExtents(f.file, &records));
    // The file's own refusals are behind it: a failure from here on is a
    // storage error, which fails the whole call (the batch is dropped).
    if (absl::Status s = AddParents(f.path, mtime_ms, &batch); !s.ok()) {
      return absl::InternalError(
          cairn::StrCat("adding the parents of ", f.path, ": ", ToStd(s.message())));
    }
    RETURN_IF_ERROR(CountRefs(f.file, +1, &records));  // its chunks are loaded: cannot fail
    if (auto old = Get(f.path); old.ok()) {
      RETURN_IF_ERROR(CountRefs(old->file(), -1, &records));
    } else if (!absl::IsNotFound(old.status())) {
      return old.status();
    }
    Entry e;
    e.set_path(f.path);
    e.set_type(Entry::FILE);
    e.set_mtime_ms(mtime_ms);
    *e.mutable_file() = f.file;
    batch.Put(NsKey(f.path), SerializeEntry(e));
    written_files.insert(f.path);
    written_dirs.insert(ancestors.begin(), ancestors.end());
    return e;
  };
  for (const FilePut& f : files) {
    results->push_back(put_one(f));
    const absl::Status& s = results->back().status();
    // Only a file's own refusals are its alone; a storage error is everyone's.
    if (!s.ok() && !absl::IsAlreadyExists(s) && !absl::IsFailedPrecondition(s) &&
        !absl::IsInvalidArgument(s) && !absl::IsAborted(s)) {
      results->clear();
      return s;
    }
  }
  std::vector<uint64_t> unreferenced;
  if (written_files.empty()) {  // every file refused: nothing to write or sync
    for (const auto& [handle, rec] : new_chunks) unreferenced.push_back(handle);
    if (released != nullptr) *released = std::move(unreferenced);
    return absl::OkStatus();
  }
  PutRefs(records, &batch, &unreferenced);
  Applied applied = ApplyLocked(&batch);
  lock.Release();
  if (absl::Status s = AwaitDurable(applied); !s.ok()) {
    results->clear();
    return s;
  }
  if (released != nullptr) *released = std::move(unreferenced);
  return absl::OkStatus();
}

absl::Status MetadataStore::Rename(const std::string& source, const std::string& target,
                                   int64_t mtime_ms) {
  if (source == "/" || target == "/") return absl::InvalidArgumentError("cannot rename /");
  if (IsWithin(target, source)) {
    return absl::InvalidArgumentError(
        cairn::StrCat("cannot move ", source, " into itself (", target, ")"));
  }
  absl::ReleasableMutexLock lock(&write_mu_);
  ASSIGN_OR_RETURN(Entry src, Get(source));
  auto dst = Get(target);
  if (dst.ok()) return absl::AlreadyExistsError(cairn::StrCat("target exists: ", target));
  if (!absl::IsNotFound(dst.status())) return dst.status();
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(AddParents(target, mtime_ms, &batch));
  batch.Delete(NsKey(source));
  batch.Put(NsKey(target), SerializeEntry(src));
  if (src.type() == Entry::DIR) {
    std::string prefix = SubtreePrefix(source);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string_view rest(it->key().data() + prefix.size(), it->key().size() - prefix.size());
      batch.Delete(it->key());
      batch.Put(cairn::StrCat("n", target, "/", rest), it->value());
    }
    RETURN_IF_ERROR(FromRocks(it->status()));
  }
  Applied applied = ApplyLocked(&batch);
  lock.Release();
  return AwaitDurable(applied);
}

absl::Status MetadataStore::Delete(const std::string& path, bool recursive,
                                   std::vector<uint64_t>* released) {
  if (path == "/") return absl::InvalidArgumentError("cannot delete /");
  absl::ReleasableMutexLock lock(&write_mu_);
  ASSIGN_OR_RETURN(Entry e, Get(path));
  rocksdb::WriteBatch batch;
  ChunkRecords records;
  auto drop_file = [&](const Entry& f) { return CountRefs(f.file(), -1, &records); };
  batch.Delete(NsKey(path));
  if (e.type() == Entry::FILE) {
    RETURN_IF_ERROR(drop_file(e));
  } else {
    std::string prefix = SubtreePrefix(path);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (!recursive) {
        return absl::AbortedError(
            cairn::StrCat("directory not empty: ", path, " (use recursive=true)"));
      }
      std::string_view child(it->key().data() + 1, it->key().size() - 1);
      ASSIGN_OR_RETURN(Entry c, ParseEntry(child, it->value()));
      if (c.type() == Entry::FILE) RETURN_IF_ERROR(drop_file(c));
      batch.Delete(it->key());
    }
    RETURN_IF_ERROR(FromRocks(it->status()));
  }
  std::vector<uint64_t> unreferenced;
  PutRefs(records, &batch, &unreferenced);
  Applied applied = ApplyLocked(&batch);
  lock.Release();
  RETURN_IF_ERROR(AwaitDurable(applied));
  if (released != nullptr)
    released->insert(released->end(), unreferenced.begin(), unreferenced.end());
  return absl::OkStatus();
}

absl::StatusOr<ListResult> MetadataStore::List(const std::string& path, bool recursive,
                                               const std::string& start_after, size_t limit) const {
  ASSIGN_OR_RETURN(Entry dir, Get(path));
  if (dir.type() != Entry::DIR) {
    return absl::InvalidArgumentError(cairn::StrCat("not a directory: ", path));
  }
  const std::string prefix = SubtreePrefix(path);
  ListResult result;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string start = prefix;
  if (!start_after.empty() && IsWithin(start_after, path)) {
    start = NsKey(start_after);
    start.push_back('\0');  // the first key after start_after
  }
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix);) {
    std::string_view rest(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    size_t slash = rest.find('/');
    if (!recursive && slash != std::string_view::npos) {
      // A grandchild: skip the child's whole subtree ('0' sorts right after '/').
      it->Seek(cairn::StrCat(prefix, rest.substr(0, slash), "0"));
      continue;
    }
    if (result.entries.size() >= limit) {
      result.truncated = true;
      break;
    }
    std::string_view full(it->key().data() + 1, it->key().size() - 1);
    ASSIGN_OR_RETURN(Entry e, ParseEntry(full, it->value()));
    result.entries.push_back(std::move(e));
    it->Next();
  }
  RETURN_IF_ERROR(FromRocks(it->status()));
  return result;
}

absl::StatusOr<UsageReply> MetadataStore::Usage(const std::string& path) const {
  ASSIGN_OR_RETURN(Entry root, Get(path));
  UsageReply reply;
  if (root.type() == Entry::FILE) {
    reply.set_files(1);
    reply.set_bytes(root.file().length());
    return reply;
  }
  const std::string prefix = SubtreePrefix(path);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  // A child's keys are not consecutive: "a.b" sorts between "a" and "a/x"
  // ('.' < '/'), so children are found by name.
  absl::flat_hash_map<std::string, int> index;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view rest(it->key().data() + prefix.size(), it->key().size() - prefix.size());
    std::string_view name = rest.substr(0, rest.find('/'));
    auto [slot, added] = index.try_emplace(std::string(name), reply.children_size());
    if (added) reply.add_children()->set_name(std::string(name));
    UsageReply::Child* child = reply.mutable_children(slot->second);
    std::string_view full(it->key().data() + 1, it->key().size() - 1);
    ASSIGN_OR_RETURN(Entry e, ParseEntry(full, it->value()));
    if (rest.size() == name.size()) child->set_is_dir(e.type() == Entry::DIR);
    if (e.type() == Entry::FILE) {
      child->set_files(child->files() + 1);
      child->set_bytes(child->bytes() + e.file().length());
      reply.set_files(reply.files() + 1);
      reply.set_bytes(reply.bytes() + e.file().length());
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status()));
  return reply;
}

absl::StatusOr<ChunkRecord> MetadataStore::GetChunk(uint64_t handle) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ChunkKey(handle), &value);
  if (s.IsNotFound()) return absl::NotFoundError(cairn::StrCat("no chunk record for ", handle));
  RETURN_IF_ERROR(FromRocks(s));
  ChunkRecord rec;
  if (!rec.ParseFromString(value)) {
    return absl::DataLossError(cairn::StrCat("corrupt chunk record for ", handle));
  }
  return rec;
}

absl::Status MetadataStore::ForEachChunk(
    const std::function<void(uint64_t, const ChunkRecord&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("c"); it->Valid() && it->key().starts_with("c"); it->Next()) {
    ChunkRecord rec;
    if (it->key().size() != 9 ||
        !rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt chunk record");
    }
    fn(DecodeU64Key(it->key().ToStringView()), rec);
  }
  return FromRocks(it->status());
}

absl::StatusOr<MetadataStore::CompactionScan> MetadataStore::ScanCompaction(
    double threshold, size_t max_candidates, const absl::flat_hash_set<uint64_t>& exclude) const {
  CompactionScan scan;
  absl::flat_hash_map<uint64_t, size_t> index;  // handle -> candidate
  RETURN_IF_ERROR(ForEachChunk([&](uint64_t handle, const ChunkRecord& rec) {
    if (!rec.packed()) return;
    ++scan.pack_chunks;
    scan.reclaimable_bytes += rec.size() - std::min(rec.size(), rec.live_bytes());
    if (rec.refs() == 0 || scan.candidates.size() >= max_candidates || exclude.contains(handle) ||
        static_cast<double>(rec.live_bytes()) >= threshold * static_cast<double>(rec.size())) {
      return;
    }
    index[handle] = scan.candidates.size();
    scan.candidates.push_back(CompactionCandidate{handle, rec, {}});
  }));
  if (scan.candidates.empty()) return scan;
  rocksdb::ReadOptions bulk;
  bulk.fill_cache = false;  // a pass over everything: keep the cache for the hot entries
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(bulk));
  for (it->Seek("n"); it->Valid() && it->key().starts_with("n"); it->Next()) {
    std::string_view path(it->key().data() + 1, it->key().size() - 1);
    ASSIGN_OR_RETURN(Entry e, ParseEntry(path, it->value()));
    if (e.type() != Entry::FILE) continue;
    for (const Extent& x : e.file().extents()) {
      auto c = index.find(x.handle());
      if (c == index.end() || scan.candidates[c->second].record.version() != x.version()) continue;
      CompactionMove& m = scan.candidates[c->second].moves.emplace_back();
      m.set_path(std::string(path));
      m.set_offset(x.offset());
      m.set_length(x.length());
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status()));
  for (CompactionCandidate& c : scan.candidates) {
    std::sort(c.moves.begin(), c.moves.end(), [](const CompactionMove& a, const CompactionMove& b) {
      return a.offset() < b.offset();
    });
  }
  return scan;
}

absl::StatusOr<uint32_t> MetadataStore::SwitchExtents(const ChunkRef& old_chunk,
                                                      uint64_t new_handle,
                                                      const ChunkRecord& new_record,
                                                      const std::vector<CompactionMove>& moves,
                                                      std::vector<uint64_t>* released) {
  for (const CompactionMove& m : moves) {
    if (m.length() == 0 || m.new_offset() > new_record.size() ||
        m.length() > new_record.size() - m.new_offset()) {
      return absl::InvalidArgumentError(
          cairn::StrCat("the move of ", m.path(), " to [", m.new_offset(), ", +", m.length(),
                        ") is not within the new chunk (", new_record.size(), " bytes)"));
    }
  }
  ChunkRecords records;
  ChunkRecord& fresh = records[new_handle];
  fresh = new_record;
  fresh.set_refs(0);
  fresh.set_live_bytes(0);
  fresh.set_packed(true);
  absl::ReleasableMutexLock lock(&write_mu_);
  // Entries changed by this call, by path: a second move of one file sees the first.
  absl::flat_hash_map<std::string, Entry> changed;
  absl::flat_hash_set<std::string> dirty;  // of `changed`, those that moved
  uint32_t moved = 0;
  for (const CompactionMove& m : moves) {
    Entry* e = nullptr;
    if (auto c = changed.find(m.path()); c != changed.end()) {
      e = &c->second;
    } else {
      auto got = Get(m.path());
      if (absl::IsNotFound(got.status())) continue;  // deleted or renamed meanwhile
      RETURN_IF_ERROR(got.status());
      if (got->type() != Entry::FILE) continue;
      e = &changed.emplace(m.path(), *std::move(got)).first->second;
    }
    FileMeta* f = e->mutable_file();
    Extent* x = nullptr;
    for (Extent& candidate : *f->mutable_extents()) {
      if (candidate.handle() == old_chunk.handle() && candidate.version() == old_chunk.version() &&
          candidate.offset() == m.offset() && candidate.length() == m.length()) {
        x = &candidate;
        break;
      }
    }
    if (x == nullptr) continue;  // replaced meanwhile
    // Stored chunks of a file's extents are loaded by CountRefs; the old one
    // must be there (its extent is), so only the new one could be refused.
    FileMeta before = *f;
    x->set_handle(new_handle);
    x->set_version(new_record.version());
    x->set_offset(m.new_offset());
    RETURN_IF_ERROR(CountRefs(before, -1, &records));
    RETURN_IF_ERROR(CountRefs(*f, +1, &records));
    dirty.insert(m.path());
    ++moved;
  }
  std::vector<uint64_t> unreferenced;
  if (moved == 0) {
    if (released != nullptr) released->push_back(new_handle);
    return 0u;
  }
  rocksdb::WriteBatch batch;
  for (const std::string& path : dirty) batch.Put(NsKey(path), SerializeEntry(changed[path]));
  PutRefs(records, &batch, &unreferenced);
  Applied applied = ApplyLocked(&batch);
  lock.Release();
  RETURN_IF_ERROR(AwaitDurable(applied));
  if (released != nullptr) *released = std::move(unreferenced);
  return moved;
}

absl::Status MetadataStore::PutNode(uint64_t id, const NodeRecord& node) {
  absl::ReleasableMutexLock lock(&write_mu_);
  rocksdb::WriteBatch batch;
  batch.Put(NodeKey(id), node.SerializeAsString());
  Applied applied = ApplyLocked(&batch);
  lock.Release();
  return AwaitDurable(applied);
}

absl::Status MetadataStore::ForEachNode(
    const std::function<void(uint64_t, const NodeRecord&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("s"); it->Valid() && it->key().starts_with("s"); it->Next()) {
    NodeRecord rec;
    if (it->key().size() != 9 ||
        !rec.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt node record");
    }
    fn(DecodeU64Key(it->key().ToStringView()), rec);
  }
  return FromRocks(it->status());
}

absl::StatusOr<uint64_t> MetadataStore::ReserveHandles(uint64_t count) {
  absl::ReleasableMutexLock lock(&write_mu_);
  uint64_t mark = handle_mark_ + count;
  rocksdb::WriteBatch batch;
  batch.Put(kHandleMarkKey, U64Value(mark));
  handle_mark_ = mark;  // a failed sync only skips handles
  Applied applied = ApplyLocked(&batch);
  lock.Release();
  RETURN_IF_ERROR(AwaitDurable(applied));
  return mark;
}

absl::Status MetadataStore::Checkpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw)));
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  return FromRocks(cp->CreateCheckpoint(dir));
}

}  // namespace cairn::master

#include "master/metadata_store.h"

#include "absl/container/flat_hash_map.h"
#include "common/logging.h"
#include "common/path.h"
#include "common/status.h"
#include "common/strings.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace cairn::master {
namespace {

constexpr char kHandleMarkKey[] = "m/handle_mark";

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
    store->handle_mark_ = DecodeU64Key(cairn::StrCat("x", mark));
  } else if (!s.IsNotFound()) {
    return FromRocks(s);
  }
  return store;
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

absl::StatusOr<Entry> MetadataStore::PutFile(const std::string& path, const FileMeta& file,
                                             int64_t mtime_ms, bool if_none_match,
                                             std::vector<ChunkRef>* replaced_chunks) {
  if (path == "/") return absl::AlreadyExistsError("a directory exists at /");
  absl::ReleasableMutexLock lock(&write_mu_);
  RETURN_IF_ERROR(CheckCreatable(path, if_none_match));  // again, now under the lock
  rocksdb::WriteBatch batch;
  RETURN_IF_ERROR(AddParents(path, mtime_ms, &batch));
  std::vector<ChunkRef> old_chunks;
  if (auto old = Get(path); old.ok()) {
    for (const ChunkRef& c : old->file().chunks()) {
      old_chunks.push_back(c);
      batch.Delete(ChunkKey(c.handle()));
    }
  }
  Entry e;
  e.set_path(path);
  e.set_type(Entry::FILE);
  e.set_mtime_ms(mtime_ms);
  *e.mutable_file() = file;
  batch.Put(NsKey(path), SerializeEntry(e));
  for (const ChunkRef& c : file.chunks()) {
    ChunkRecord rec;
    rec.set_version(c.version());
    rec.set_size(c.size());
    rec.set_crc32c(c.crc32c());
    rec.set_replication(file.replication());
    batch.Put(ChunkKey(c.handle()), rec.SerializeAsString());
  }
  Applied applied = ApplyLocked(&batch);
  lock.Release();
  RETURN_IF_ERROR(AwaitDurable(applied));
  if (replaced_chunks != nullptr) *replaced_chunks = std::move(old_chunks);
  return e;
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
                                   std::vector<ChunkRef>* removed) {
  if (path == "/") return absl::InvalidArgumentError("cannot delete /");
  absl::ReleasableMutexLock lock(&write_mu_);
  ASSIGN_OR_RETURN(Entry e, Get(path));
  rocksdb::WriteBatch batch;
  std::vector<ChunkRef> chunks;
  auto drop_file = [&](const Entry& f) {
    for (const ChunkRef& c : f.file().chunks()) {
      chunks.push_back(c);
      batch.Delete(ChunkKey(c.handle()));
    }
  };
  batch.Delete(NsKey(path));
  if (e.type() == Entry::FILE) {
    drop_file(e);
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
      if (c.type() == Entry::FILE) drop_file(c);
      batch.Delete(it->key());
    }
    RETURN_IF_ERROR(FromRocks(it->status()));
  }
  Applied applied = ApplyLocked(&batch);
  lock.Release();
  RETURN_IF_ERROR(AwaitDurable(applied));
  if (removed != nullptr) removed->insert(removed->end(), chunks.begin(), chunks.end());
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
  batch.Put(kHandleMarkKey, U64Key('x', mark).substr(1));
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

// MetadataStore: the master's persistent state in RocksDB. The namespace
// (directories and files with their chunk lists), chunk records (version,
// size, checksum, replication) and registered chunkservers. Chunk locations are
// not here: chunkservers report them.
//
// Every mutation is one RocksDB WriteBatch, applied under the write lock and
// made durable by a WAL sync (shared by concurrent mutations) before the call
// returns, so an acknowledged change survives a crash. Readers may see a
// mutation a moment before it is durable; a failed sync stops the process. Key schema in
// doc/formats.md: "n<path>" sorts so that a range scan lists a directory or a
// whole subtree by prefix.
//
// Thread-safe: mutations are serialized; reads run concurrently and see each
// batch entirely or not at all.
#ifndef CAIRN_MASTER_METADATA_STORE_H_
#define CAIRN_MASTER_METADATA_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/group_sync.h"
#include "proto/master.pb.h"
#include "rocksdb/db.h"

namespace cairn::master {

struct ListResult {
  std::vector<Entry> entries;
  bool truncated = false;
};

struct UsageTotals {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

class MetadataStore {
 public:
  // Opens (creating if needed) the database in `dir`.
  static absl::StatusOr<std::unique_ptr<MetadataStore>> Open(const std::string& dir);
  ~MetadataStore();

  // The entry at `path` ("/" is always a directory). NotFound if absent.
  absl::StatusOr<Entry> Get(const std::string& path) const;

  // Creates `path` and missing parents (like mkdir -p). OK if it already is a
  // directory. AlreadyExists if a file is at `path` or at any ancestor.
  absl::StatusOr<Entry> Mkdir(const std::string& path, int64_t mtime_ms);

  // Checks that a file could be created at `path`: AlreadyExists if a
  // directory is there or a file is at an ancestor; FailedPrecondition if
  // `if_none_match` and something is at `path`.
  absl::Status CheckCreatable(const std::string& path, bool if_none_match) const;

  // Atomically creates or replaces the file at `path` with `file` and records
  // its chunks, creating missing parents. Errors as CheckCreatable. On success
  // `replaced_chunks` (if not null) receives the chunks of the file it replaced.
  absl::StatusOr<Entry> PutFile(const std::string& path, const FileMeta& file, int64_t mtime_ms,
                                bool if_none_match, std::vector<ChunkRef>* replaced_chunks);

  // Atomically moves `source` (file or directory, with its subtree) to
  // `target`, creating target's missing parents. NotFound if source is absent;
  // AlreadyExists if target exists; InvalidArgument if target is inside source
  // or either is "/".
  absl::Status Rename(const std::string& source, const std::string& target, int64_t mtime_ms);

  // Deletes a file, or a directory (with its subtree if `recursive`). NotFound
  // if absent; Aborted if a non-empty directory and not `recursive`;
  // InvalidArgument for "/". Appends the deleted files' chunks to `removed`.
  absl::Status Delete(const std::string& path, bool recursive, std::vector<ChunkRef>* removed);

  // Children of directory `path` (all descendants if `recursive`) in byte
  // order of their paths, starting after `start_after` (a full path; "" from
  // the start), at most `limit`. NotFound if absent; InvalidArgument
  // (not a directory) for a file.
  absl::StatusOr<ListResult> List(const std::string& path, bool recursive,
                                  const std::string& start_after, size_t limit) const;

  // Totals under `path` and per direct child.
  absl::StatusOr<UsageReply> Usage(const std::string& path) const;

  // Chunk records of all files, for rebuilding the in-memory chunk map.
  absl::Status ForEachChunk(
      const std::function<void(uint64_t handle, const ChunkRecord&)>& fn) const;

  // Node registry.
  absl::Status PutNode(uint64_t id, const NodeRecord& node);
  absl::Status ForEachNode(const std::function<void(uint64_t id, const NodeRecord&)>& fn) const;

  // Reserves chunk handles: returns a durable high-water mark such that no
  // handle below it was ever handed out before this call's reservation.
  // Handles in [previous mark, returned mark) are the caller's.
  absl::StatusOr<uint64_t> ReserveHandles(uint64_t count);

  // Writes a consistent checkpoint (RocksDB Checkpoint) into `dir`, which must not exist.
  absl::Status Checkpoint(const std::string& dir);

 private:
  explicit MetadataStore(std::unique_ptr<rocksdb::DB> db);
  // Adds puts for missing ancestors of `path` to `batch`. AlreadyExists if one is a file.
  absl::Status AddParents(const std::string& path, int64_t mtime_ms,
                          rocksdb::WriteBatch* batch) const;
  // A mutation applied (visible to readers) but maybe not yet durable.
  struct Applied {
    absl::Status status;
    uint64_t ticket = 0;  // of the WAL sync that makes it durable
  };
  // Applies `batch`. Callers release write_mu_, then AwaitDurable: a group
  // commit, one WAL sync for many concurrent mutations. Readers may see a
  // mutation a moment before it is durable; no caller is answered before it is.
  Applied ApplyLocked(rocksdb::WriteBatch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status AwaitDurable(const Applied& applied) ABSL_LOCKS_EXCLUDED(write_mu_);

  const std::unique_ptr<rocksdb::DB> db_;
  GroupSync wal_sync_;
  // Serializes read-check-write sequences of mutations.
  absl::Mutex write_mu_;
  uint64_t handle_mark_ ABSL_GUARDED_BY(write_mu_) = 1;
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_METADATA_STORE_H_

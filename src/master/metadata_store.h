// MetadataStore: the master's persistent state in RocksDB. The namespace
// (directories and files with their extents), chunk records (version, size,
// checksum, replication, and how many extents reference the chunk) and
// registered chunkservers. Chunk locations are
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
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
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

  // Atomically creates or replaces the file at `path` with `file`, creating
  // missing parents, and counts its extents' references: `new_chunks` are
  // the records of chunks this commit wrote (their references start at 0);
  // every other chunk an extent names must already be referenced.
  // InvalidArgument for an extent of an unknown chunk, a stale version or
  // past the chunk's end; else errors as CheckCreatable. On success
  // `released` (if not null) receives the handles of chunks that no file
  // references any more (the replaced file's, unless shared).
  absl::StatusOr<Entry> PutFile(const std::string& path, const FileMeta& file,
                                const std::vector<std::pair<uint64_t, ChunkRecord>>& new_chunks,
                                int64_t mtime_ms, bool if_none_match,
                                std::vector<uint64_t>* released);

  // One file of PutFiles.
  struct FilePut {
    std::string path;
    FileMeta file;
    bool if_none_match = false;
  };
  // Group commit (packed small files, DESIGN.md §10): creates or replaces
  // every file of `files` in one WriteBatch and one WAL sync. Each file is
  // checked as PutFile checks it and succeeds or fails alone: (*results)[i]
  // is files[i]'s entry or error, and a file whose path is that of an earlier
  // file of the call, an ancestor or a descendant of one, fails with Aborted.
  // A chunk of `new_chunks` that no committed file references is not
  // written and is listed in `released`. The returned status is not OK only
  // for a storage error, and then no file was written.
  absl::Status PutFiles(const std::vector<FilePut>& files,
                        const std::vector<std::pair<uint64_t, ChunkRecord>>& new_chunks,
                        int64_t mtime_ms, std::vector<absl::StatusOr<Entry>>* results,
                        std::vector<uint64_t>* released);

  // Atomically moves `source` (file or directory, with its subtree) to
  // `target`, creating target's missing parents. NotFound if source is absent;
  // AlreadyExists if target exists; InvalidArgument if target is inside source
  // or either is "/".
  absl::Status Rename(const std::string& source, const std::string& target, int64_t mtime_ms);

  // Deletes a file, or a directory (with its subtree if `recursive`). NotFound
  // if absent; Aborted if a non-empty directory and not `recursive`;
  // InvalidArgument for "/". Appends to `released` the handles of chunks that
  // no file references any more.
  absl::Status Delete(const std::string& path, bool recursive, std::vector<uint64_t>* released);

  // Children of directory `path` (all descendants if `recursive`) in byte
  // order of their paths, starting after `start_after` (a full path; "" from
  // the start), at most `limit`. NotFound if absent; InvalidArgument
  // (not a directory) for a file.
  absl::StatusOr<ListResult> List(const std::string& path, bool recursive,
                                  const std::string& start_after, size_t limit) const;

  // Totals under `path` and per direct child.
  absl::StatusOr<UsageReply> Usage(const std::string& path) const;

  // The chunk record of `handle`. NotFound if no file references it.
  absl::StatusOr<ChunkRecord> GetChunk(uint64_t handle) const;

  // Chunk records of all files, for rebuilding the in-memory chunk map.
  absl::Status ForEachChunk(
      const std::function<void(uint64_t handle, const ChunkRecord&)>& fn) const;

  // ---- compaction of pack chunks (DESIGN.md §10) ----
  struct CompactionCandidate {
    uint64_t handle = 0;
    ChunkRecord record;
    std::vector<CompactionMove> moves;  // the files naming it, by offset
  };
  struct CompactionScan {
    uint64_t pack_chunks = 0;
    uint64_t reclaimable_bytes = 0;  // of every pack chunk: its size less its live bytes
    std::vector<CompactionCandidate> candidates;
  };
  // The pack chunks whose live bytes are below `threshold` × their size, at
  // most `max_candidates`, none of `exclude`, each with the files naming it
  // (one pass over the chunk records, and over the namespace if there is a
  // candidate).
  absl::StatusOr<CompactionScan> ScanCompaction(double threshold, size_t max_candidates,
                                                const absl::flat_hash_set<uint64_t>& exclude) const;

  // Switches, in one synced WriteBatch, the file of each move from its
  // extent [offset, +length) of chunk `old_chunk` to [new_offset, +length) of
  // the new pack chunk `new_handle` (record `new_record`, stored only if a
  // file moves). A file that no longer has that extent (replaced, deleted or
  // renamed meanwhile) is left alone. Returns how many files moved.
  // InvalidArgument for a move outside the new chunk. `released` receives
  // the chunks no file references any more: the old one once every file
  // left it, the new one if none moved.
  absl::StatusOr<uint32_t> SwitchExtents(const ChunkRef& old_chunk, uint64_t new_handle,
                                         const ChunkRecord& new_record,
                                         const std::vector<CompactionMove>& moves,
                                         std::vector<uint64_t>* released);

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
  // Brings metadata of an earlier format to the current one (format 1: files
  // as whole chunks, no reference counts; format 2: no live bytes, pack
  // chunks unmarked). One-way; safe to interrupt and run again.
  absl::Status Migrate();
  // Chunk records a mutation reads and changes: those it creates and those
  // already stored, each with its reference count after the mutation.
  using ChunkRecords = absl::flat_hash_map<uint64_t, ChunkRecord>;
  // The record of `handle` in `records`, else loaded into it. InvalidArgument
  // if no file references the chunk.
  absl::StatusOr<ChunkRecord*> LoadChunk(uint64_t handle, ChunkRecords* records) const;
  // Adds `delta` (+1 or -1) to the references of each chunk `file`'s
  // extents name (once per extent), and their lengths to its live bytes.
  absl::Status CountRefs(const FileMeta& file, int64_t delta, ChunkRecords* records) const;
  // Writes `records` into `batch`, deleting those no file references any more
  // (their handles appended to `released`).
  static void PutRefs(const ChunkRecords& records, rocksdb::WriteBatch* batch,
                      std::vector<uint64_t>* released);
  // PutFile's checks of one file's extents against `records` (which it
  // loads into): InvalidArgument unless each lies within its chunk's current
  // version and together they add up to the file's length.
  absl::Status CheckExtents(const FileMeta& file, ChunkRecords* records) const;
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

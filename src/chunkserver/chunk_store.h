// ChunkStore: chunk replicas as files under <root>/chunks, one file each.
//
// File layout (doc/formats.md): the chunk's bytes, then one little-endian
// CRC32C per 64 KiB block, then a 40-byte footer (magic, handle, version,
// length, CRC of the table, CRC of the footer). A replica is written under
// <root>/tmp, fsynced, then renamed into place and the directory synced, so a
// crash never leaves a file in chunks/ that looks complete but is not.
// Every read verifies the CRC of each block it touches before returning a byte.
//
// Thread-safe.
#ifndef CAIRN_CHUNKSERVER_CHUNK_STORE_H_
#define CAIRN_CHUNKSERVER_CHUNK_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/file_system.h"
#include "common/group_sync.h"
#include "proto/common.pb.h"

namespace cairn::chunkserver {

inline constexpr uint64_t kBlockSize = 64 << 10;

class ChunkStore;

// Writes one replica. Not thread-safe. Destroying an unfinished writer
// discards the temporary file.
class ChunkWriter {
 public:
  ~ChunkWriter();
  absl::Status Append(std::string_view data);
  // Writes checksums and footer, fsyncs, renames into place. Afterwards the
  // replica is listed and readable. Returns the replica's CRC32C of all data.
  absl::StatusOr<uint32_t> Finish();
  uint64_t size() const { return size_; }

 private:
  friend class ChunkStore;
  ChunkWriter(ChunkStore* store, uint64_t handle, uint64_t version, std::string tmp_path,
              std::unique_ptr<WritableFile> file);

  ChunkStore* const store_;
  const uint64_t handle_;
  const uint64_t version_;
  const std::string tmp_path_;
  std::unique_ptr<WritableFile> file_;
  uint64_t size_ = 0;
  uint32_t crc_ = 0;         // of all data
  uint32_t block_crc_ = 0;   // of the current partial block
  uint64_t block_fill_ = 0;  // bytes in the current block
  std::string crc_table_;    // little-endian CRCs of complete blocks
  bool done_ = false;
};

struct StoreStats {
  uint64_t chunks = 0;
  uint64_t bytes = 0;  // data bytes of all replicas
};

class ChunkStore {
 public:
  // Opens the store under `root_dir`, creating it if needed. Removes leftover
  // temporary files and sets aside files that fail their footer check.
  // `fs` must outlive the store.
  static absl::StatusOr<std::unique_ptr<ChunkStore>> Open(FileSystem* fs,
                                                          const std::string& root_dir);

  // Starts writing replica (handle, version). AlreadyExists if that exact
  // replica is stored.
  absl::StatusOr<std::unique_ptr<ChunkWriter>> Create(uint64_t handle, uint64_t version);

  // Calls `sink` with consecutive verified pieces of bytes [offset,
  // offset+length) of the replica (length 0: to the end), each at most
  // `max_piece` bytes. NotFound: no such replica (or other version);
  // OutOfRange: offset past the end; DataLoss: a checksum mismatch, or the
  // replica's file could not be read, opened or found (the replica is then
  // set aside, dropped from the listing and reported by TakeChanges, so the
  // master re-replicates it). Other errors (out of descriptors or memory)
  // leave the replica alone.
  // A non-OK status from `sink` stops the read and is returned. The sink may
  // take the piece's string (swap it with its own), saving a copy.
  using ReadSink = std::function<absl::Status(std::string* piece)>;
  absl::Status Read(uint64_t handle, uint64_t version, uint64_t offset, uint64_t length,
                    size_t max_piece, const ReadSink& sink);

  // Reads and verifies the whole replica (scrubbing).
  absl::Status Verify(uint64_t handle, uint64_t version);

  // Deletes the replica, or the file of one set aside as corrupt. NotFound
  // if that version is not stored.
  absl::Status Delete(uint64_t handle, uint64_t version);

  std::vector<ReplicaInfo> List() const;
  // True if (handle, version) is stored.
  bool Has(uint64_t handle, uint64_t version) const;
  StoreStats Stats() const;
  absl::StatusOr<SpaceInfo> Space() const { return fs_->Space(root_); }

  // Replicas added, removed and found corrupt since the last call (for
  // incremental heartbeat reports).
  struct Changes {
    std::vector<ReplicaInfo> added, removed, corrupt;
  };
  Changes TakeChanges();

  const std::string& root() const { return root_; }

 private:
  friend class ChunkWriter;
  ChunkStore(FileSystem* fs, std::string root);
  absl::Status Load();
  std::string ChunkPath(uint64_t handle, uint64_t version) const;
  absl::Status Commit(uint64_t handle, uint64_t version, uint64_t size,
                      const std::string& tmp_path);
  void MarkCorrupt(uint64_t handle, uint64_t version, const absl::Status& why);
  // Read() of a replica the listing holds.
  absl::Status ReadHeld(uint64_t handle, uint64_t version, uint64_t offset, uint64_t length,
                        size_t max_piece, const ReadSink& sink);

  FileSystem* const fs_;
  const std::string root_;
  const std::string chunks_dir_;
  const std::string tmp_dir_;
  GroupSync dir_sync_;  // fsync of chunks_dir_, one for many concurrent commits

  mutable absl::Mutex mu_;
  std::map<uint64_t, ReplicaInfo> replicas_ ABSL_GUARDED_BY(mu_);
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t tmp_seq_ ABSL_GUARDED_BY(mu_) = 0;
  Changes changes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn::chunkserver

#endif  // CAIRN_CHUNKSERVER_CHUNK_STORE_H_

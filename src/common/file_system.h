// The file system seam. Storage code takes a FileSystem* so tests can run it
// against an in-memory file system that simulates crashes (unsynced data is
// dropped) and injects failures into chosen calls.
#ifndef CAIRN_COMMON_FILE_SYSTEM_H_
#define CAIRN_COMMON_FILE_SYSTEM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn {

// A file open for appending. Not thread-safe. Close() does not sync.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(std::string_view data) = 0;
  // Makes everything appended so far durable.
  virtual absl::Status Sync() = 0;
  virtual absl::Status Close() = 0;
};

// A file open for positional reads. Thread-safe.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset` into `scratch`; returns the bytes read
  // (fewer only at the end of the file).
  virtual absl::StatusOr<size_t> Read(uint64_t offset, size_t n, char* scratch) const = 0;
  virtual absl::StatusOr<uint64_t> Size() const = 0;
  // A hint that [offset, offset+n) will be read soon: the file system may
  // start reading it in the background.
  virtual void Prefetch(uint64_t offset, size_t n) const {}
};

struct SpaceInfo {
  uint64_t capacity = 0;
  uint64_t free = 0;
};

// Thread-safe. Errors: NotFound for a missing path, ResourceExhausted for a
// full device, Internal/Unavailable for other I/O errors.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Creates or truncates `path`.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(
      const std::string& path) = 0;
  // The same, for large files written once and read rarely soon after (chunk
  // replicas): where the file system allows, the data bypasses the page cache
  // (O_DIRECT). Same semantics; by default just NewWritableFile.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewBulkWritableFile(
      const std::string& path) {
    return NewWritableFile(path);
  }
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;
  // Atomically replaces `to` with `from`; durable once the directory is synced.
  virtual absl::Status Rename(const std::string& from, const std::string& to) = 0;
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  virtual absl::Status Delete(const std::string& path) = 0;
  virtual absl::Status CreateDirs(const std::string& dir) = 0;
  // Names (not paths) of the entries of `dir`.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual absl::StatusOr<SpaceInfo> Space(const std::string& dir) = 0;

  // The process-wide POSIX file system; never destroyed.
  static FileSystem* Posix();
};

// Reads a whole small file.
absl::StatusOr<std::string> ReadFileToString(FileSystem* fs, const std::string& path);
// Writes `data` to `path` durably and atomically (temp file, sync, rename, sync dir).
absl::Status WriteFileAtomically(FileSystem* fs, const std::string& path, std::string_view data);

}  // namespace cairn

#endif  // CAIRN_COMMON_FILE_SYSTEM_H_

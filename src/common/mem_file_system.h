// An in-memory FileSystem for tests that models what survives a crash and
// injects failures.
//
// Crash model: a file's data is durable up to its last Sync(); a create,
// rename or delete is durable once its directory is synced. SimulateCrash()
// throws away everything that was not durable, as a power cut would.
#ifndef CAIRN_COMMON_MEM_FILE_SYSTEM_H_
#define CAIRN_COMMON_MEM_FILE_SYSTEM_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/file_system.h"

namespace cairn {

class MemFileSystem : public FileSystem {
 public:
  enum class Op { kOpenWrite, kOpenRead, kAppend, kSync, kRename, kDelete, kSyncDir, kRead };
  // Returns a non-OK status to make the call fail. Runs under the file system's
  // lock: it must not call back into the file system.
  using FaultHook = std::function<absl::Status(Op op, const std::string& path)>;

  MemFileSystem() = default;

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status SyncDir(const std::string& dir) override;
  absl::Status Delete(const std::string& path) override;
  absl::Status CreateDirs(const std::string& dir) override;
  absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) override;
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override;
  bool Exists(const std::string& path) override;
  absl::StatusOr<SpaceInfo> Space(const std::string& dir) override;

  void SetFaultHook(FaultHook hook);
  // Appends past `bytes` of total file data fail with ResourceExhausted.
  void SetCapacity(uint64_t bytes);
  // Drops everything not durable. Open files must not be used afterwards.
  void SimulateCrash();
  // Overwrites one byte of a file's content (durable and live), as bit rot would.
  absl::Status CorruptByte(const std::string& path, uint64_t offset);

  struct Node {
    std::string data;
    std::string synced;
  };

 private:
  friend class MemWritableFile;
  friend class MemRandomAccessFile;
  absl::Status Check(Op op, const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t UsedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Node>> live_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Node>> durable_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> dirs_ ABSL_GUARDED_BY(mu_);
  FaultHook hook_ ABSL_GUARDED_BY(mu_);
  uint64_t capacity_ ABSL_GUARDED_BY(mu_) = uint64_t{1} << 40;
};

}  // namespace cairn

#endif  // CAIRN_COMMON_MEM_FILE_SYSTEM_H_

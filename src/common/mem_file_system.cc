#include "common/mem_file_system.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn {
namespace {

std::string DirOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

class MemWritableFile : public WritableFile {
 public:
  MemWritableFile(MemFileSystem* fs, std::string path, std::shared_ptr<MemFileSystem::Node> node)
      : fs_(fs), path_(std::move(path)), node_(std::move(node)) {}
  absl::Status Append(std::string_view data) override {
    absl::MutexLock lock(&fs_->mu_);
    RETURN_IF_ERROR(fs_->Check(MemFileSystem::Op::kAppend, path_));
    if (fs_->UsedLocked() + data.size() > fs_->capacity_) {
      return absl::ResourceExhaustedError(
          cairn::StrCat("write ", path_, ": No space left on device"));
    }
    node_->data.append(data);
    return absl::OkStatus();
  }
  absl::Status Sync() override {
    absl::MutexLock lock(&fs_->mu_);
    RETURN_IF_ERROR(fs_->Check(MemFileSystem::Op::kSync, path_));
    node_->synced = node_->data;
    return absl::OkStatus();
  }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  MemFileSystem* const fs_;
  const std::string path_;
  const std::shared_ptr<MemFileSystem::Node> node_;
};

class MemRandomAccessFile : public RandomAccessFile {
 public:
  MemRandomAccessFile(MemFileSystem* fs, std::string path,
                      std::shared_ptr<MemFileSystem::Node> node)
      : fs_(fs), path_(std::move(path)), node_(std::move(node)) {}
  absl::StatusOr<size_t> Read(uint64_t offset, size_t n, char* scratch) const override {
    absl::MutexLock lock(&fs_->mu_);
    RETURN_IF_ERROR(fs_->Check(MemFileSystem::Op::kRead, path_));
    if (offset >= node_->data.size()) return 0;
    size_t len = std::min<uint64_t>(n, node_->data.size() - offset);
    node_->data.copy(scratch, len, offset);
    return len;
  }
  absl::StatusOr<uint64_t> Size() const override {
    absl::MutexLock lock(&fs_->mu_);
    return node_->data.size();
  }

 private:
  MemFileSystem* const fs_;
  const std::string path_;
  const std::shared_ptr<MemFileSystem::Node> node_;
};

absl::Status MemFileSystem::Check(Op op, const std::string& path) {
  if (hook_) return hook_(op, path);
  return absl::OkStatus();
}

uint64_t MemFileSystem::UsedLocked() const {
  uint64_t used = 0;
  for (const auto& [path, node] : live_) used += node->data.size();
  return used;
}

absl::StatusOr<std::unique_ptr<WritableFile>> MemFileSystem::NewWritableFile(
    const std::string& path) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(Check(Op::kOpenWrite, path));
  if (!dirs_.contains(DirOf(path))) return absl::NotFoundError(cairn::StrCat("open ", path));
  auto node = std::make_shared<Node>();
  live_[path] = node;
  return std::make_unique<MemWritableFile>(this, path, node);
}

absl::StatusOr<std::unique_ptr<RandomAccessFile>> MemFileSystem::NewRandomAccessFile(
    const std::string& path) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(Check(Op::kOpenRead, path));
  auto it = live_.find(path);
  if (it == live_.end()) return absl::NotFoundError(cairn::StrCat("open ", path));
  return std::make_unique<MemRandomAccessFile>(this, path, it->second);
}

absl::Status MemFileSystem::Rename(const std::string& from, const std::string& to) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(Check(Op::kRename, from));
  auto it = live_.find(from);
  if (it == live_.end()) return absl::NotFoundError(cairn::StrCat("rename ", from));
  if (from == to) return absl::OkStatus();  // as rename(2): erasing `from` would lose it
  live_[to] = it->second;
  live_.erase(from);
  return absl::OkStatus();
}

absl::Status MemFileSystem::SyncDir(const std::string& dir) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(Check(Op::kSyncDir, dir));
  auto in_dir = [&](const std::string& path) { return DirOf(path) == dir; };
  for (auto it = durable_.begin(); it != durable_.end();) {
    it = in_dir(it->first) ? durable_.erase(it) : std::next(it);
  }
  for (const auto& [path, node] : live_) {
    if (in_dir(path)) durable_[path] = node;
  }
  return absl::OkStatus();
}

absl::Status MemFileSystem::Delete(const std::string& path) {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(Check(Op::kDelete, path));
  if (live_.erase(path) == 0) return absl::NotFoundError(cairn::StrCat("unlink ", path));
  return absl::OkStatus();
}

absl::Status MemFileSystem::CreateDirs(const std::string& dir) {
  absl::MutexLock lock(&mu_);
  for (std::filesystem::path p(dir); !p.empty() && p != p.root_path(); p = p.parent_path()) {
    dirs_.insert(p.string());
  }
  dirs_.insert(".");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> MemFileSystem::ListDir(const std::string& dir) {
  absl::MutexLock lock(&mu_);
  if (!dirs_.contains(dir)) return absl::NotFoundError(cairn::StrCat("opendir ", dir));
  std::vector<std::string> names;
  for (const auto& [path, node] : live_) {
    if (DirOf(path) == dir) names.push_back(std::filesystem::path(path).filename().string());
  }
  return names;
}

absl::StatusOr<uint64_t> MemFileSystem::FileSize(const std::string& path) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(path);
  if (it == live_.end()) return absl::NotFoundError(cairn::StrCat("stat ", path));
  return it->second->data.size();
}

bool MemFileSystem::Exists(const std::string& path) {
  absl::MutexLock lock(&mu_);
  return live_.contains(path) || dirs_.contains(path);
}

absl::StatusOr<SpaceInfo> MemFileSystem::Space(const std::string& dir) {
  absl::MutexLock lock(&mu_);
  uint64_t used = UsedLocked();
  return SpaceInfo{capacity_, capacity_ > used ? capacity_ - used : 0};
}

void MemFileSystem::SetFaultHook(FaultHook hook) {
  absl::MutexLock lock(&mu_);
  hook_ = std::move(hook);
}

void MemFileSystem::SetCapacity(uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  capacity_ = bytes;
}

void MemFileSystem::SimulateCrash() {
  absl::MutexLock lock(&mu_);
  live_.clear();
  for (auto& [path, node] : durable_) {
    // A crash detaches old handles: give survivors fresh nodes holding only synced bytes.
    auto fresh = std::make_shared<Node>();
    fresh->data = node->synced;
    fresh->synced = node->synced;
    node = fresh;
    live_[path] = fresh;
  }
}

absl::Status MemFileSystem::CorruptByte(const std::string& path, uint64_t offset) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(path);
  if (it == live_.end() || offset >= it->second->data.size()) {
    return absl::NotFoundError(cairn::StrCat("corrupt ", path));
  }
  it->second->data[offset] ^= 0x5a;
  if (offset < it->second->synced.size()) it->second->synced[offset] ^= 0x5a;
  return absl::OkStatus();
}

}  // namespace cairn

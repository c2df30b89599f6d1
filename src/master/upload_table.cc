#include "master/upload_table.h"

#include "common/check.h"

namespace cairn::master {

uint64_t UploadTable::Start(const std::string& path, uint32_t replication, bool if_none_match,
                            absl::Time now) {
  uint64_t id = next_id_++;
  Upload& u = uploads_[id];
  u.path = path;
  u.replication = replication;
  u.if_none_match = if_none_match;
  u.last_activity = now;
  return id;
}

Upload* UploadTable::Find(uint64_t id) {
  auto it = uploads_.find(id);
  return it == uploads_.end() ? nullptr : &it->second;
}

void UploadTable::AddAllocation(uint64_t id, Allocation a) {
  Upload* u = Find(id);
  CAIRN_CHECK(u != nullptr) << "allocation for unknown upload " << id;
  bool fresh = pending_.emplace(a.handle, id).second;
  CAIRN_CHECK(fresh) << "handle " << a.handle << " allocated twice";
  u->allocations.push_back(std::move(a));
}

std::optional<Upload> UploadTable::Remove(uint64_t id) {
  auto it = uploads_.find(id);
  if (it == uploads_.end()) return std::nullopt;
  Upload u = std::move(it->second);
  uploads_.erase(it);
  for (const Allocation& a : u.allocations) pending_.erase(a.handle);
  return u;
}

std::vector<uint64_t> UploadTable::Idle(absl::Time now, absl::Duration timeout) const {
  std::vector<uint64_t> idle;
  for (const auto& [id, u] : uploads_) {
    if (!u.committing && now - u.last_activity >= timeout) idle.push_back(id);
  }
  return idle;
}

}  // namespace cairn::master

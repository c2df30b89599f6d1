// UploadTable: uploads in progress (not persisted: an upload does not survive
// a master restart, and the gateway reports it as failed). Each upload has the
// chunks allocated to it so far, and each allocated handle maps back to its
// upload until the upload is committed or dropped, so a replica reported for
// it is not mistaken for garbage.
//
// Not thread-safe: a plain part of the Master, which holds its mutex around
// every call (REQUIRES: the master's mutex held).
#ifndef CAIRN_MASTER_UPLOAD_TABLE_H_
#define CAIRN_MASTER_UPLOAD_TABLE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

namespace cairn::master {

struct Allocation {
  uint64_t handle = 0;
  std::vector<uint64_t> nodes;  // where the replicas were placed
};

struct Upload {
  std::string path;
  uint32_t replication = 0;
  bool if_none_match = false;
  bool committing = false;  // a CommitUpload is under way; no second one may start
  absl::Time last_activity;
  std::vector<Allocation> allocations;
};

class UploadTable {
 public:
  // Starts an upload; returns its id (never reused while the master runs).
  uint64_t Start(const std::string& path, uint32_t replication, bool if_none_match, absl::Time now);
  // nullptr for an unknown (expired, dropped or committed) upload.
  Upload* Find(uint64_t id);
  // REQUIRES: `id` is a started upload and `a.handle` was never allocated.
  void AddAllocation(uint64_t id, Allocation a);
  // Whether `handle` was allocated to an upload still in progress.
  bool IsPending(uint64_t handle) const { return pending_.contains(handle); }
  // Removes the upload and its pending handles; returns it (nullopt if unknown).
  std::optional<Upload> Remove(uint64_t id);
  // Uploads idle for at least `timeout` and not being committed.
  std::vector<uint64_t> Idle(absl::Time now, absl::Duration timeout) const;

 private:
  absl::flat_hash_map<uint64_t, Upload> uploads_;
  absl::flat_hash_map<uint64_t, uint64_t> pending_;  // handle -> upload
  uint64_t next_id_ = 1;
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_UPLOAD_TABLE_H_

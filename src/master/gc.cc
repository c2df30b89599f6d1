#include "master/gc.h"

namespace cairn::master {

void GarbageCollector::OnUnknownReplica(Node& node, const ReplicaInfo& r,
                                        const UploadTable& uploads, bool allowed) {
  if (uploads.IsPending(r.handle())) return;         // an upload in progress
  if (doomed_handles_.contains(r.handle())) return;  // deleted once its grace period ends
  // A replica missed now is unknown again at the node's next full report.
  if (allowed) node.deletes.push_back(r);
}

void GarbageCollector::Forget(const std::vector<uint64_t>& handles, ChunkTable& chunks,
                              absl::Time now) {
  absl::Time due = now + grace_;
  for (uint64_t handle : handles) {
    const Chunk* c = chunks.Find(handle);
    if (c == nullptr) continue;
    Doomed d;
    d.due = due;
    d.replica.set_handle(handle);
    d.replica.set_version(c->version);
    d.nodes = c->nodes;
    doomed_.push_back(std::move(d));
    doomed_handles_.insert(handle);
    chunks.Erase(handle);
  }
}

void GarbageCollector::DropAllocations(const Upload& upload, const ChunkTable& chunks,
                                       NodeRegistry& nodes) {
  for (const Allocation& a : upload.allocations) {
    if (chunks.Contains(a.handle)) continue;  // the committed file took it
    // Committed, then replaced by a racing commit to the same path before
    // this upload was dropped: deleted when its grace period ends.
    if (doomed_handles_.contains(a.handle)) continue;
    ReplicaInfo r;
    r.set_handle(a.handle);
    r.set_version(1);
    for (uint64_t id : a.nodes) {
      if (Node* n = nodes.Find(id)) n->deletes.push_back(r);
    }
  }
}

void GarbageCollector::Collect(absl::Time now, bool allowed, NodeRegistry& nodes) {
  while (allowed && !doomed_.empty() && doomed_.front().due <= now) {
    const Doomed& d = doomed_.front();
    for (uint32_t id : d.nodes) {
      if (Node* n = nodes.Find(id)) n->deletes.push_back(d.replica);
    }
    doomed_handles_.erase(d.replica.handle());
    doomed_.pop_front();
  }
}

void GarbageCollector::TakeDeletes(Node& node, bool allowed, HeartbeatReply* reply) {
  if (!allowed) return;
  for (ReplicaInfo& r : node.deletes) *reply->add_delete_() = std::move(r);
  node.deletes.clear();
}

}  // namespace cairn::master

// Master: compaction of pack chunks (DESIGN.md §10).
//
// Deleting or replacing a packed small file leaves its record in the pack
// chunk: the chunk stays while any of its files lives. The chunk records
// count the live bytes of each chunk (MetadataStore), so a scan finds the
// pack chunks mostly dead. A gateway asks for one (CompactionTask), copies
// its live files into a new pack chunk through the replica pipeline, and
// commits (CommitCompaction): the files that still have their old extent
// switch to the new chunk in one synced WriteBatch, the rest are left alone.
// The old chunk's references then reach 0 and it is collected after the
// grace period, as a deleted file's chunk is.
//
// A crash at any step loses nothing: before the commit the new chunk is an
// upload's, collected as garbage; the commit is atomic; after it the old
// chunk is garbage. A lease keeps two gateways from compacting one chunk at
// once; if they did, the second commit would find no file still on the old
// extent and move nothing.
#include "common/logging.h"
#include "common/status.h"
#include "common/strings.h"
#include "master/master.h"

namespace cairn::master {
namespace {

// Chunks queued per scan.
constexpr size_t kScanCandidates = 64;

}  // namespace

absl::StatusOr<CompactionTaskReply> Master::CompactionTask() {
  CompactionTaskReply reply;
  if (options_.compaction_threshold <= 0) return reply;
  bool scan_now = false;
  absl::flat_hash_set<uint64_t> leased;  // not candidates of this scan
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_->Now();
    if (safe_mode_.on()) return reply;  // replicas not all known yet
    absl::erase_if(compaction_leases_, [&](const auto& lease) { return lease.second <= now; });
    if (compaction_queue_.empty() && !compaction_scanning_ &&
        now - last_compaction_scan_ >= options_.compaction_interval) {
      scan_now = true;
      compaction_scanning_ = true;
      last_compaction_scan_ = now;
      for (const auto& [handle, until] : compaction_leases_) leased.insert(handle);
    }
  }
  if (scan_now) {
    auto scan = store_->ScanCompaction(options_.compaction_threshold, kScanCandidates, leased);
    absl::MutexLock lock(&mu_);
    compaction_scanning_ = false;
    if (!scan.ok()) {
      spdlog::warn("compaction scan failed: {}", scan.status().ToString());
      return scan.status();
    }
    compaction_reclaimable_ = scan->reclaimable_bytes;
    if (!scan->candidates.empty()) {
      spdlog::info("compaction scan: {} of {} pack chunks below {:.0f}% live, {} bytes reclaimable",
                   scan->candidates.size(), scan->pack_chunks, 100 * options_.compaction_threshold,
                   scan->reclaimable_bytes);
    }
    for (auto& c : scan->candidates) compaction_queue_.push_back(std::move(c));
  }
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  while (!compaction_queue_.empty()) {
    MetadataStore::CompactionCandidate c = std::move(compaction_queue_.front());
    compaction_queue_.pop_front();
    const Chunk* chunk = chunks_.Find(c.handle);
    // Gone or rewritten since the scan, or nothing to read it from.
    if (chunk == nullptr || chunk->version != c.record.version() || c.moves.empty() ||
        compaction_leases_.contains(c.handle)) {
      continue;
    }
    ::cairn::CompactionTask* task = reply.mutable_task();
    LocateLocked(c.handle, now, task->mutable_locations());
    if (task->locations().alive() == 0) {
      reply.clear_task();
      continue;
    }
    task->mutable_chunk()->set_handle(c.handle);
    task->mutable_chunk()->set_version(c.record.version());
    task->set_size(c.record.size());
    for (CompactionMove& m : c.moves) *task->add_moves() = std::move(m);
    compaction_leases_[c.handle] = now + options_.compaction_lease;
    return reply;
  }
  return reply;
}

absl::StatusOr<CommitCompactionReply> Master::CommitCompaction(const CommitCompactionRequest& req) {
  const ChunkRef& chunk = req.chunk().chunk();
  ChunkRecord rec;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(rec, BeginPackCommitLocked(req.upload_id(), req.chunk()));
  }
  std::vector<CompactionMove> moves(req.moves().begin(), req.moves().end());
  // The old chunk once no file is left on it; the new one if none moved.
  std::vector<uint64_t> released;
  absl::StatusOr<uint32_t> moved =
      store_->SwitchExtents(req.old_chunk(), chunk.handle(), rec, moves, &released);
  absl::MutexLock lock(&mu_);
  EndPackCommitLocked(req.upload_id(), chunk.handle(), moved.status(), released);
  compaction_leases_.erase(req.old_chunk().handle());
  RETURN_IF_ERROR(moved.status());
  CommitCompactionReply reply;
  reply.set_moved(*moved);
  reply.set_skipped(static_cast<uint32_t>(moves.size()) - *moved);
  if (*moved > 0) {
    ++compactions_;
    compaction_rewritten_bytes_ += chunk.size();
  }
  spdlog::info("compacted pack chunk {} into {} ({} bytes): {} files moved, {} left alone",
               req.old_chunk().handle(), chunk.handle(), chunk.size(), reply.moved(),
               reply.skipped());
  return reply;
}

}  // namespace cairn::master

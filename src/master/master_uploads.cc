// The upload half of Master (master.h): start, allocate, commit, abort.
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "common/check.h"
#include "common/logging.h"
#include "common/path.h"
#include "common/status.h"
#include "common/strings.h"
#include "master/master.h"
#include "master/placement.h"

namespace cairn::master {
namespace {

constexpr uint64_t kHandleBlock = 1 << 16;
constexpr uint32_t kMaxReplication = 16;

absl::Status UploadNotFound(uint64_t id) {
  return absl::NotFoundError(
      cairn::StrCat("upload ", id, " not found (expired or master restarted)"));
}

}  // namespace

absl::StatusOr<StartUploadReply> Master::StartUpload(const StartUploadRequest& req) {
  RETURN_IF_ERROR(ValidatePath(req.path()));
  if (req.path() == "/") return absl::AlreadyExistsError("a directory exists at /");
  RETURN_IF_ERROR(store_->CheckCreatable(req.path(), req.if_none_match()));
  std::optional<uint64_t> expected;
  if (req.has_expected_length()) expected = req.expected_length();
  return OpenUpload(req.path(), req.replication(), req.if_none_match(), req.allocate_first_chunk(),
                    expected);
}

absl::StatusOr<StartUploadReply> Master::OpenUpload(const std::string& path, uint32_t replication,
                                                    bool if_none_match, bool allocate_first,
                                                    std::optional<uint64_t> expected_size) {
  if (replication == 0) replication = options_.replication;
  if (replication > kMaxReplication) {
    return absl::InvalidArgumentError(
        cairn::StrCat("replication must be at most ", kMaxReplication));
  }
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    id = uploads_.Start(path, replication, if_none_match, clock_->Now());
  }
  StartUploadReply reply;
  reply.set_upload_id(id);
  reply.set_chunk_size(options_.chunk_size);
  reply.set_replication(replication);
  if (allocate_first) {
    AllocateChunkRequest areq;
    areq.set_upload_id(id);
    if (expected_size.has_value()) {
      areq.set_expected_size(std::min(*expected_size, options_.chunk_size));
    }
    auto first = AllocateChunk(areq);
    if (!first.ok()) {
      AbortUpload(id).IgnoreError();
      return first.status();
    }
    *reply.mutable_first_chunk() = *std::move(first);
  }
  return reply;
}

absl::StatusOr<uint64_t> Master::NextHandleLocked() {
  if (next_handle_ >= handle_limit_) {
    // A synced write under the lock, once per kHandleBlock chunks: releasing
    // the lock here would let two callers reserve at once.
    ASSIGN_OR_RETURN(uint64_t limit, store_->ReserveHandles(kHandleBlock));
    CAIRN_CHECK(limit >= kHandleBlock && limit - kHandleBlock >= handle_limit_)
        << "handle reservation went backwards";
    next_handle_ = limit - kHandleBlock;
    handle_limit_ = limit;
  }
  return next_handle_++;
}

absl::StatusOr<AllocateChunkReply> Master::AllocateChunk(const AllocateChunkRequest& req) {
  absl::MutexLock lock(&mu_);
  Upload* u = uploads_.Find(req.upload_id());
  if (u == nullptr) return UploadNotFound(req.upload_id());
  absl::Time now = clock_->Now();
  u->last_activity = now;
  absl::flat_hash_set<uint64_t> exclude(req.exclude_nodes().begin(), req.exclude_nodes().end());
  std::vector<PlacementCandidate> candidates = nodes_.PlacementCandidates(now, exclude);
  // What the chunk will take on each node: a whole chunk unless the writer
  // said how much it will write.
  const uint64_t charge = req.has_expected_size()
                              ? std::clamp<uint64_t>(req.expected_size(), 1, options_.chunk_size)
                              : options_.chunk_size;
  if (candidates.size() < u->replication) {
    return absl::UnavailableError(
        cairn::StrCat("only ", candidates.size(), " chunkservers alive, need ", u->replication));
  }
  PlacementOptions popts;
  popts.chunk_size = charge;
  std::vector<uint64_t> chosen = ChooseReplicas(std::move(candidates), u->replication, popts);
  if (chosen.size() < u->replication) {
    return absl::ResourceExhaustedError(cairn::StrCat(
        "only ", chosen.size(), " chunkservers have room for a chunk, need ", u->replication));
  }
  ASSIGN_OR_RETURN(uint64_t handle, NextHandleLocked());
  // The pipeline's head receives the writer's stream and forwards it: rotate
  // it over the chosen nodes, which would otherwise list the same node first
  // for every chunk when replication equals the node count.
  if (!chosen.empty()) {
    std::rotate(chosen.begin(), chosen.begin() + handle % chosen.size(), chosen.end());
  }
  AllocateChunkReply reply;
  reply.mutable_chunk()->set_handle(handle);
  reply.mutable_chunk()->set_version(1);
  for (uint64_t id : chosen) {
    *reply.add_replicas() = nodes_.Address(id);
    Node& n = nodes_.Get(id);
    ++n.recent;
    n.recent_bytes += charge;
  }
  uploads_.AddAllocation(req.upload_id(), {handle, chosen});
  return reply;
}

void Master::DropUploadLocked(uint64_t id) {
  std::optional<Upload> upload = uploads_.Remove(id);
  if (upload) gc_.DropAllocations(*upload, chunks_, nodes_);
}

absl::Status Master::CheckCommittedChunkLocked(const CommittedChunk& c, const Upload& upload,
                                               const std::string& what) const {
  const Allocation* allocated = nullptr;
  for (const Allocation& a : upload.allocations) {
    if (a.handle == c.chunk().handle()) allocated = &a;
  }
  if (allocated == nullptr) {
    return absl::InvalidArgumentError(
        cairn::StrCat(what, " (handle ", c.chunk().handle(), ") is not of this upload"));
  }
  if (static_cast<uint32_t>(c.nodes_size()) < upload.replication) {
    return absl::InvalidArgumentError(cairn::StrCat(what, " has too few replicas"));
  }
  for (uint64_t node : c.nodes()) {
    if (std::find(allocated->nodes.begin(), allocated->nodes.end(), node) ==
        allocated->nodes.end()) {
      return absl::InvalidArgumentError(
          cairn::StrCat(what, " has a replica on node ", node, ", not placed there"));
    }
  }
  return absl::OkStatus();
}

absl::Status Master::CheckCommitLocked(const CommitUploadRequest& req, const Upload& upload) const {
  // The chunk list must be distinct chunks this upload allocated, of
  // chunk_size each but the last, adding up to the length, each with enough
  // replicas, all on nodes the chunk was placed on.
  absl::flat_hash_set<uint64_t> seen;
  uint64_t total = 0;
  for (int i = 0; i < req.chunks_size(); ++i) {
    const ChunkRef& c = req.chunks(i).chunk();
    RETURN_IF_ERROR(CheckCommittedChunkLocked(req.chunks(i), upload, cairn::StrCat("chunk ", i)));
    if (!seen.insert(c.handle()).second) {
      return absl::InvalidArgumentError(cairn::StrCat("chunk ", c.handle(), " listed twice"));
    }
    bool last = i + 1 == req.chunks_size();
    if (c.size() == 0 || c.size() > options_.chunk_size ||
        (!last && c.size() != options_.chunk_size)) {
      return absl::InvalidArgumentError(cairn::StrCat("chunk ", i, " has a bad size ", c.size()));
    }
    total += c.size();
  }
  if (total != req.length()) {
    return absl::InvalidArgumentError(
        cairn::StrCat("chunks add up to ", total, " bytes, not ", req.length()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Entry> Master::CommitUpload(const CommitUploadRequest& req) {
  // What the commit needs of the upload, read while it is marked committing.
  std::string path;
  uint32_t replication = 0;
  bool if_none_match = false;
  {
    absl::MutexLock lock(&mu_);
    Upload* u = uploads_.Find(req.upload_id());
    if (u == nullptr) return UploadNotFound(req.upload_id());
    if (u->committing) {
      return absl::AbortedError(cairn::StrCat("upload ", req.upload_id(), " is being committed"));
    }
    if (u->path.empty()) {
      return absl::InvalidArgumentError(
          cairn::StrCat("upload ", req.upload_id(), " is a pack: commit it with CommitPack"));
    }
    RETURN_IF_ERROR(CheckCommitLocked(req, *u));
    u->committing = true;
    path = u->path;
    replication = u->replication;
    if_none_match = u->if_none_match;
    // Readers see the new entry as soon as PutFile applies it, a moment
    // before it is synced: its chunks must be locatable by then.
    for (const CommittedChunk& c : req.chunks()) {
      chunks_.AddCommitted(c.chunk(), replication, c.nodes());
    }
  }
  // The file is its chunks, each whole, in order.
  FileMeta meta;
  meta.set_length(req.length());
  meta.set_replication(replication);
  meta.set_sha256(req.sha256());
  std::vector<std::pair<uint64_t, ChunkRecord>> written;
  for (const CommittedChunk& c : req.chunks()) {
    Extent* x = meta.add_extents();
    x->set_handle(c.chunk().handle());
    x->set_version(c.chunk().version());
    x->set_length(c.chunk().size());
    ChunkRecord rec;
    rec.set_version(c.chunk().version());
    rec.set_size(c.chunk().size());
    rec.set_crc32c(c.chunk().crc32c());
    rec.set_replication(replication);
    written.emplace_back(c.chunk().handle(), std::move(rec));
  }
  std::vector<uint64_t> released;
  auto entry = store_->PutFile(path, meta, written, NowMs(), if_none_match, &released);
  absl::MutexLock lock(&mu_);
  if (!entry.ok()) {
    for (const CommittedChunk& c : req.chunks()) chunks_.Erase(c.chunk().handle());
  } else {
    // A Lookup holds mu_ from reading the entry to resolving its chunks, so a
    // reader that saw the old entry still finds the old chunks' locations.
    gc_.Forget(released, chunks_, clock_->Now());
  }
  // Allocations not in the file (retried chunks, or all of a failed commit)
  // become garbage.
  DropUploadLocked(req.upload_id());
  return entry;
}

absl::StatusOr<StartUploadReply> Master::StartPack(const StartPackRequest& req) {
  return OpenUpload("", req.replication(), /*if_none_match=*/false, /*allocate_first=*/true,
                    req.expected_size());
}

absl::StatusOr<ChunkRecord> Master::BeginPackCommitLocked(uint64_t upload_id,
                                                          const CommittedChunk& c) {
  Upload* u = uploads_.Find(upload_id);
  if (u == nullptr) return UploadNotFound(upload_id);
  if (u->committing) {
    return absl::AbortedError(cairn::StrCat("upload ", upload_id, " is being committed"));
  }
  if (!u->path.empty()) {
    return absl::InvalidArgumentError(
        cairn::StrCat("upload ", upload_id, " is not a pack: commit it with CommitUpload"));
  }
  RETURN_IF_ERROR(CheckCommittedChunkLocked(c, *u, "the pack chunk"));
  if (c.chunk().size() == 0 || c.chunk().size() > options_.chunk_size) {
    return absl::InvalidArgumentError(
        cairn::StrCat("the pack chunk has a bad size ", c.chunk().size()));
  }
  u->committing = true;
  // Locatable before its files are visible (as in CommitUpload).
  chunks_.AddCommitted(c.chunk(), u->replication, c.nodes());
  ChunkRecord rec;
  rec.set_version(c.chunk().version());
  rec.set_size(c.chunk().size());
  rec.set_crc32c(c.chunk().crc32c());
  rec.set_replication(u->replication);
  rec.set_packed(true);
  return rec;
}

void Master::EndPackCommitLocked(uint64_t upload_id, uint64_t handle, const absl::Status& stored,
                                 const std::vector<uint64_t>& released) {
  if (!stored.ok()) {
    chunks_.Erase(handle);
  } else {
    gc_.Forget(released, chunks_, clock_->Now());
  }
  DropUploadLocked(upload_id);
}

absl::StatusOr<CommitPackReply> Master::CommitPack(const CommitPackRequest& req) {
  const ChunkRef& chunk = req.chunk().chunk();
  ChunkRecord rec;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(rec, BeginPackCommitLocked(req.upload_id(), req.chunk()));
  }
  std::vector<MetadataStore::FilePut> puts;
  std::vector<int> put_of(req.files_size(), -1);  // index into puts, per file
  CommitPackReply reply;
  for (int i = 0; i < req.files_size(); ++i) {
    const PackedFile& f = req.files(i);
    PackedFileResult* r = reply.add_results();
    absl::Status s = ValidatePath(f.path());
    if (s.ok() && (f.offset() > chunk.size() || f.length() > chunk.size() - f.offset())) {
      s = absl::InvalidArgumentError(cairn::StrCat("bytes [", f.offset(), ", +", f.length(),
                                                   ") of ", f.path(), " are not in the chunk"));
    }
    if (!s.ok()) {
      r->set_code(static_cast<int>(s.code()));
      r->set_message(std::string(s.message()));
      continue;
    }
    MetadataStore::FilePut& p = puts.emplace_back();
    p.path = f.path();
    p.if_none_match = f.if_none_match();
    p.file.set_length(f.length());
    p.file.set_replication(rec.replication());
    p.file.set_sha256(f.sha256());
    if (f.length() > 0) {
      Extent* x = p.file.add_extents();
      x->set_handle(chunk.handle());
      x->set_version(chunk.version());
      x->set_offset(f.offset());
      x->set_length(f.length());
    }
    put_of[i] = static_cast<int>(puts.size()) - 1;
  }
  std::vector<absl::StatusOr<Entry>> results;
  std::vector<uint64_t> released;  // the pack chunk itself if every file was refused
  absl::Status s = store_->PutFiles(puts, {{chunk.handle(), rec}}, NowMs(), &results, &released);
  absl::MutexLock lock(&mu_);
  EndPackCommitLocked(req.upload_id(), chunk.handle(), s, released);
  RETURN_IF_ERROR(s);
  for (int i = 0; i < req.files_size(); ++i) {
    if (put_of[i] < 0) continue;
    const absl::StatusOr<Entry>& e = results[put_of[i]];
    PackedFileResult* r = reply.mutable_results(i);
    if (e.ok()) {
      *r->mutable_entry() = *e;
    } else {
      r->set_code(static_cast<int>(e.status().code()));
      r->set_message(std::string(e.status().message()));
    }
  }
  return reply;
}

absl::Status Master::AbortUpload(uint64_t upload_id) {
  absl::MutexLock lock(&mu_);
  Upload* u = uploads_.Find(upload_id);
  if (u == nullptr) return absl::NotFoundError(cairn::StrCat("upload ", upload_id, " not found"));
  // A commit under way owns the upload now; it drops it when it is done.
  if (u->committing) return absl::OkStatus();
  DropUploadLocked(upload_id);
  return absl::OkStatus();
}

}  // namespace cairn::master

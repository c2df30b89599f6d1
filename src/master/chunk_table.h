// ChunkTable: every chunk a file references, with its version, size,
// checksum and wanted replication (persisted as chunk records), and the
// nodes holding a replica (not persisted: rebuilt from chunkserver reports,
// as in GFS). This is where a chunk's references will be counted once files
// share chunks.
//
// Not thread-safe: a plain part of the Master, which holds its mutex around
// every call (REQUIRES: the master's mutex held).
#ifndef CAIRN_MASTER_CHUNK_TABLE_H_
#define CAIRN_MASTER_CHUNK_TABLE_H_

#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "proto/master.pb.h"

namespace cairn::master {

struct Chunk {
  uint64_t version = 0;
  uint64_t size = 0;
  uint32_t crc32c = 0;
  uint32_t replication = 0;
  absl::InlinedVector<uint32_t, 3> nodes;  // reported or acknowledged replicas, distinct

  bool HasReplicaOn(uint32_t node) const;
};

class ChunkTable {
 public:
  // A chunk record read from the metadata at startup (no replicas known yet).
  void AddLoaded(uint64_t handle, const ChunkRecord& record);
  // A chunk of a file being committed, with the nodes that acknowledged it.
  // REQUIRES: `chunk.handle()` is not in the table (handles are never reused).
  void AddCommitted(const ChunkRef& chunk, uint32_t replication,
                    const google::protobuf::RepeatedField<uint64_t>& nodes);
  void Erase(uint64_t handle) { chunks_.erase(handle); }

  // nullptr if no file references `handle`.
  Chunk* Find(uint64_t handle);
  const Chunk* Find(uint64_t handle) const;
  bool Contains(uint64_t handle) const { return chunks_.contains(handle); }

  // Records that `node` holds `handle` at `version`. False (and nothing
  // recorded) if no file references that handle at that version: the replica
  // is garbage or an upload's.
  bool AddReplica(uint64_t handle, uint64_t version, uint32_t node);
  void RemoveReplica(uint64_t handle, uint32_t node);
  // After a full report of `node`: forgets its replicas not in `held`.
  void RetainReplicas(uint32_t node, const absl::flat_hash_set<uint64_t>& held);
  // Forgets every replica on `nodes` (dead ones). Returns how many chunks
  // still have a replica.
  uint64_t DropNodes(const absl::flat_hash_set<uint32_t>& nodes);

  size_t size() const { return chunks_.size(); }
  bool empty() const { return chunks_.empty(); }
  auto begin() { return chunks_.begin(); }
  auto end() { return chunks_.end(); }

 private:
  absl::flat_hash_map<uint64_t, Chunk> chunks_;
};

}  // namespace cairn::master

#endif  // CAIRN_MASTER_CHUNK_TABLE_H_

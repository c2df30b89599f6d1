#include "master/chunk_table.h"

#include <algorithm>

#include "common/check.h"

namespace cairn::master {

bool Chunk::HasReplicaOn(uint32_t node) const {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

void ChunkTable::AddLoaded(uint64_t handle, const ChunkRecord& record) {
  Chunk& c = chunks_[handle];
  c.version = record.version();
  c.size = record.size();
  c.crc32c = record.crc32c();
  c.replication = record.replication();
}

void ChunkTable::AddCommitted(const ChunkRef& ref, uint32_t replication,
                              const google::protobuf::RepeatedField<uint64_t>& nodes) {
  auto [it, inserted] = chunks_.try_emplace(ref.handle());
  CAIRN_CHECK(inserted) << "chunk " << ref.handle() << " committed twice";
  Chunk& c = it->second;
  c.version = ref.version();
  c.size = ref.size();
  c.crc32c = ref.crc32c();
  c.replication = replication;
  for (uint64_t node : nodes) {
    if (!c.HasReplicaOn(static_cast<uint32_t>(node)))
      c.nodes.push_back(static_cast<uint32_t>(node));
  }
}

Chunk* ChunkTable::Find(uint64_t handle) {
  auto it = chunks_.find(handle);
  return it == chunks_.end() ? nullptr : &it->second;
}

const Chunk* ChunkTable::Find(uint64_t handle) const {
  auto it = chunks_.find(handle);
  return it == chunks_.end() ? nullptr : &it->second;
}

bool ChunkTable::AddReplica(uint64_t handle, uint64_t version, uint32_t node) {
  Chunk* c = Find(handle);
  if (c == nullptr || c->version != version) return false;
  if (!c->HasReplicaOn(node)) c->nodes.push_back(node);
  return true;
}

void ChunkTable::RemoveReplica(uint64_t handle, uint32_t node) {
  if (Chunk* c = Find(handle)) {
    c->nodes.erase(std::remove(c->nodes.begin(), c->nodes.end(), node), c->nodes.end());
  }
}

void ChunkTable::RetainReplicas(uint32_t node, const absl::flat_hash_set<uint64_t>& held) {
  for (auto& [handle, c] : chunks_) {
    if (!held.contains(handle)) {
      c.nodes.erase(std::remove(c.nodes.begin(), c.nodes.end(), node), c.nodes.end());
    }
  }
}

uint64_t ChunkTable::DropNodes(const absl::flat_hash_set<uint32_t>& nodes) {
  uint64_t with_replica = 0;
  for (auto& [handle, c] : chunks_) {
    if (!nodes.empty()) {
      c.nodes.erase(std::remove_if(c.nodes.begin(), c.nodes.end(),
                                   [&](uint32_t n) { return nodes.contains(n); }),
                    c.nodes.end());
    }
    if (!c.nodes.empty()) ++with_replica;
  }
  return with_replica;
}

}  // namespace cairn::master

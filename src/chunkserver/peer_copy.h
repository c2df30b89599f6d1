// Copying a replica from another chunkserver (re-replication, rebalancing,
// the CopyChunk RPC). The copy is streamed through the peer's verified
// ReadChunk and checked again here before it is kept.
#ifndef CAIRN_CHUNKSERVER_PEER_COPY_H_
#define CAIRN_CHUNKSERVER_PEER_COPY_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "chunkserver/chunk_store.h"
#include "common/net.h"
#include "proto/chunkserver.grpc.pb.h"

namespace cairn::chunkserver {

// Copies replica `chunk` (handle, version, size, CRC32C) from the chunkserver
// at `source` into `store`. `pace`, if set, is called with each piece's size
// before it is written; returning false cancels the copy. `store` and
// `peers` are borrowed for the call.
//
// OK: the replica is stored now (or already was: nothing is copied).
// DataLoss: a piece failed its CRC32C, or the copy's size or whole-chunk
//   CRC32C differs from `chunk` (nothing is kept).
// Cancelled: `pace` returned false.
// Any other code: the peer's ReadChunk failed (message prefixed with
//   "copy from <source>"), or the store's, e.g. ResourceExhausted.
absl::Status CopyFromPeer(ChunkStore* store, StubCache<cairn::Chunkserver>* peers,
                          const ChunkRef& chunk, const std::string& source,
                          const std::function<bool(size_t)>& pace = nullptr);

}  // namespace cairn::chunkserver

#endif  // CAIRN_CHUNKSERVER_PEER_COPY_H_

#include "chunkserver/peer_copy.h"

#include <chrono>

#include "common/crc32c.h"
#include "common/status.h"
#include "common/strings.h"

namespace cairn::chunkserver {

absl::Status CopyFromPeer(ChunkStore* store, StubCache<cairn::Chunkserver>* peers,
                          const ChunkRef& chunk, const std::string& source,
                          const std::function<bool(size_t)>& pace) {
  if (store->Has(chunk.handle(), chunk.version())) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto writer, store->Create(chunk.handle(), chunk.version()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  ReadChunkRequest req;
  req.set_handle(chunk.handle());
  req.set_version(chunk.version());
  auto reader = peers->Get(source)->ReadChunk(&ctx, req);
  ReadChunkReply piece;
  while (reader->Read(&piece)) {
    if (Crc32c(piece.data()) != piece.data_crc32c()) {
      ctx.TryCancel();
      return absl::DataLossError(cairn::StrCat("copy from ", source, ": piece failed its CRC32C"));
    }
    if (pace && !pace(piece.data().size())) {
      ctx.TryCancel();
      return absl::CancelledError("copy cancelled");
    }
    RETURN_IF_ERROR(writer->Append(piece.data()));
  }
  RETURN_IF_ERROR(Annotate(FromGrpcStatus(reader->Finish()), cairn::StrCat("copy from ", source)));
  if (writer->size() != chunk.size()) {
    return absl::DataLossError(cairn::StrCat("copy of ", chunk.handle(), " from ", source, ": ",
                                             writer->size(), " bytes, want ", chunk.size()));
  }
  ASSIGN_OR_RETURN(uint32_t crc, writer->Finish());
  if (crc != chunk.crc32c()) {
    store->Delete(chunk.handle(), chunk.version()).IgnoreError();
    return absl::DataLossError(
        cairn::StrCat("copy of ", chunk.handle(), " from ", source, ": checksum mismatch"));
  }
  return absl::OkStatus();
}

}  // namespace cairn::chunkserver

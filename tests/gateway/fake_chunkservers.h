// In-memory chunkservers behind gmock chunkserver stubs, for testing the
// gateway's data path (Uploader, Downloader) without TCP. A write to a
// pipeline stores the chunk on its first replica and on every downstream
// address, as the real pipeline does; a node can be told to fail writes
// (the first replica fails the stream, a downstream one is blamed by a
// typed PipelineFailure) or to fail or corrupt reads.
#ifndef CAIRN_TESTS_GATEWAY_FAKE_CHUNKSERVERS_H_
#define CAIRN_TESTS_GATEWAY_FAKE_CHUNKSERVERS_H_

#include <gmock/gmock.h>

#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/crc32c.h"
#include "common/pipeline_failure.h"
#include "gateway/chunk_io.h"
#include "proto/chunkserver_mock.grpc.pb.h"

namespace cairn::gateway::testing {

class FakeChunkservers {
 public:
  struct Node {
    std::map<uint64_t, std::string> chunks;  // handle -> bytes
    bool fail_writes = false;
    bool fail_reads = false;
    bool corrupt_reads = false;
    int write_streams = 0;  // WriteChunk calls this node received as first replica
    int read_streams = 0;
  };

  Node& node(const std::string& address) {
    absl::MutexLock lock(&mu_);
    return nodes_[address];
  }
  // Chunk I/O over these nodes, with short stall timeouts.
  ChunkIo* io() { return &io_; }

 private:
  class Writer : public grpc::ClientWriterInterface<WriteChunkRequest> {
   public:
    Writer(FakeChunkservers* cs, std::string address, WriteChunkReply* reply)
        : cs_(cs), address_(std::move(address)), reply_(reply) {}
    bool Write(const WriteChunkRequest& msg, grpc::WriteOptions) override {
      if (msg.has_header()) header_ = msg.header();
      data_ += msg.data();
      return !cs_->node(address_).fail_writes;
    }
    bool WritesDone() override { return true; }
    grpc::Status Finish() override {
      if (cs_->node(address_).fail_writes) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, address_ + " is down");
      }
      for (const std::string& d : header_.downstream()) {
        if (cs_->node(d).fail_writes) {
          return ToGrpcPipelineStatus(
              BlamePipelineNode(d, absl::UnavailableError("downstream is down")));
        }
      }
      cs_->node(address_).chunks[header_.handle()] = data_;
      for (const std::string& d : header_.downstream()) {
        cs_->node(d).chunks[header_.handle()] = data_;
      }
      reply_->set_size(data_.size());
      reply_->set_crc32c(Crc32c(data_));
      return grpc::Status::OK;
    }

   private:
    FakeChunkservers* const cs_;
    const std::string address_;
    WriteChunkReply* const reply_;
    WriteHeader header_;
    std::string data_;
  };

  class Reader : public grpc::ClientReaderInterface<ReadChunkReply> {
   public:
    Reader(const Node& node, const ReadChunkRequest& req) {
      if (node.fail_reads) {
        status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "read failed");
        return;
      }
      auto it = node.chunks.find(req.handle());
      if (it == node.chunks.end()) {
        status_ = grpc::Status(grpc::StatusCode::NOT_FOUND, "no such chunk");
        return;
      }
      std::string data = it->second.substr(req.offset(), req.length());
      for (size_t off = 0; off < data.size(); off += kPiece) {
        ReadChunkReply piece;
        piece.set_data(data.substr(off, kPiece));
        piece.set_data_crc32c(Crc32c(piece.data()) + (node.corrupt_reads ? 1 : 0));
        pieces_.push_back(std::move(piece));
      }
    }
    bool Read(ReadChunkReply* msg) override {
      if (next_ == pieces_.size()) return false;
      *msg = pieces_[next_++];
      return true;
    }
    bool NextMessageSize(uint32_t* sz) override {
      *sz = 1 << 20;
      return next_ < pieces_.size();
    }
    grpc::Status Finish() override { return status_; }
    void WaitForInitialMetadata() override {}

   private:
    static constexpr size_t kPiece = 64 << 10;
    std::vector<ReadChunkReply> pieces_;
    size_t next_ = 0;
    grpc::Status status_ = grpc::Status::OK;
  };

  std::unique_ptr<cairn::Chunkserver::StubInterface> NewStub(const std::string& address) {
    auto stub = std::make_unique<::testing::NiceMock<MockChunkserverStub>>();
    ON_CALL(*stub, WriteChunkRaw)
        .WillByDefault([this, address](grpc::ClientContext*, WriteChunkReply* reply) {
          ++node(address).write_streams;
          return new Writer(this, address, reply);
        });
    ON_CALL(*stub, ReadChunkRaw)
        .WillByDefault([this, address](grpc::ClientContext*, const ReadChunkRequest& req) {
          Node& n = node(address);
          ++n.read_streams;
          return new Reader(n, req);
        });
    return stub;
  }

  absl::Mutex mu_;
  std::map<std::string, Node> nodes_ ABSL_GUARDED_BY(mu_);  // std::map: references stay valid
  ChunkIo io_{[this](const std::string& a) { return NewStub(a); }};
};

}  // namespace cairn::gateway::testing

#endif  // CAIRN_TESTS_GATEWAY_FAKE_CHUNKSERVERS_H_

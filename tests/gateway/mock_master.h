// A gmock master behind a MasterClient, for testing the gateway's data path,
// and the placement the fakes use: a chunk on the first three of nodes
// 1..N not excluded, addressed as FakeChunkservers' nodes ("cs<N>:1").
#ifndef CAIRN_TESTS_GATEWAY_MOCK_MASTER_H_
#define CAIRN_TESTS_GATEWAY_MOCK_MASTER_H_

#include <gmock/gmock.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "common/master_client.h"
#include "proto/master_mock.grpc.pb.h"

namespace cairn::gateway::testing {

inline std::string NodeAddressOf(uint64_t node) { return "cs" + std::to_string(node) + ":1"; }

// A MasterClient whose only master is a NiceMock stub; `*stub` is set to it.
inline std::unique_ptr<MasterClient> MockMasterClient(::testing::NiceMock<MockMasterStub>** stub) {
  auto s = std::make_unique<::testing::NiceMock<MockMasterStub>>();
  *stub = s.get();
  std::vector<std::unique_ptr<cairn::Master::StubInterface>> stubs;
  stubs.push_back(std::move(s));
  return std::make_unique<MasterClient>(std::move(stubs));
}

// Chunk `handle` (version 1) on the first three of nodes 1..`nodes` that
// `req` does not exclude.
inline void PlaceOnFirstNodes(const AllocateChunkRequest& req, uint64_t handle, int nodes,
                              AllocateChunkReply* r) {
  r->mutable_chunk()->set_handle(handle);
  r->mutable_chunk()->set_version(1);
  for (uint64_t n = 1; n <= static_cast<uint64_t>(nodes) && r->replicas_size() < 3; ++n) {
    if (absl::c_linear_search(req.exclude_nodes(), n)) continue;
    NodeAddress* a = r->add_replicas();
    a->set_node_id(n);
    a->set_address(NodeAddressOf(n));
  }
}

}  // namespace cairn::gateway::testing

#endif  // CAIRN_TESTS_GATEWAY_MOCK_MASTER_H_

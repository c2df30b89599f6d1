// Which member of a write pipeline failed, as a typed field rather than text
// to parse. A chunkserver that fails a WriteChunk because of a replica further
// down the pipeline blames that replica's address:
//  - inside a process, as an absl::Status payload (kPipelineFailureUrl, a
//    serialized cairn.PipelineFailure);
//  - on the wire, as the gRPC status details of the failed call (the same
//    serialized message in grpc::Status::error_details()), so every hop and
//    the gateway can read it after Finish(), and a fake stub can return it.
// The human-readable message keeps the form "pipeline <address>: <cause>".
//
// Header-only: users link cairn_proto.
#ifndef CAIRN_COMMON_PIPELINE_FAILURE_H_
#define CAIRN_COMMON_PIPELINE_FAILURE_H_

#include <grpcpp/support/status.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "common/status.h"
#include "common/strings.h"
#include "proto/chunkserver.pb.h"

namespace cairn {

// The absl::Status payload type URL carrying the blamed node.
inline constexpr char kPipelineFailureUrl[] = "type.googleapis.com/cairn.PipelineFailure";

// `cause` (REQUIRES: not OK) blamed on the pipeline member at `address`:
// same code, message "pipeline <address>: <cause's message>".
inline absl::Status BlamePipelineNode(std::string_view address, const absl::Status& cause) {
  absl::Status s(cause.code(), cairn::StrCat("pipeline ", address, ": ", cause.message()));
  PipelineFailure failure;
  failure.set_address(std::string(address));
  s.SetPayload(kPipelineFailureUrl, absl::Cord(failure.SerializeAsString()));
  return s;
}

// The address `status` blames, or "" if it blames none.
inline std::string BlamedPipelineNode(const absl::Status& status) {
  auto payload = status.GetPayload(kPipelineFailureUrl);  // absl::optional<absl::Cord>
  PipelineFailure failure;
  if (!payload || !failure.ParseFromString(std::string(*payload))) return "";
  return failure.address();
}

// ToGrpcStatus, keeping the blamed node in the status details.
inline grpc::Status ToGrpcPipelineStatus(const absl::Status& status) {
  grpc::Status s = ToGrpcStatus(status);
  auto payload = status.GetPayload(kPipelineFailureUrl);  // a serialized PipelineFailure
  if (!payload) return s;
  return grpc::Status(s.error_code(), s.error_message(), std::string(*payload));
}

// FromGrpcStatus, keeping the blamed node from the status details. Details
// that are not a PipelineFailure are ignored.
inline absl::Status FromGrpcPipelineStatus(const grpc::Status& status) {
  absl::Status s = FromGrpcStatus(status);
  PipelineFailure failure;
  if (s.ok() || status.error_details().empty() ||
      !failure.ParseFromString(status.error_details()) || failure.address().empty()) {
    return s;
  }
  s.SetPayload(kPipelineFailureUrl, absl::Cord(status.error_details()));
  return s;
}

}  // namespace cairn

#endif  // CAIRN_COMMON_PIPELINE_FAILURE_H_

// Status conversion to and from gRPC, plus (through status_macros.h) the
// RETURN_IF_ERROR / ASSIGN_OR_RETURN / Annotate helpers.
#ifndef CAIRN_COMMON_STATUS_H_
#define CAIRN_COMMON_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status_macros.h"

namespace cairn {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace cairn

#endif  // CAIRN_COMMON_STATUS_H_

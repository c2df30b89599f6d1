// Status helpers Debian's Abseil lacks: RETURN_IF_ERROR, ASSIGN_OR_RETURN and
// Annotate. Free of gRPC, so every target can use them (cairn_base);
// common/status.h adds the conversions to and from grpc::Status.
#ifndef CAIRN_COMMON_STATUS_MACROS_H_
#define CAIRN_COMMON_STATUS_MACROS_H_

#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CAIRN_CONCAT_INNER_(a, b) a##b
#define CAIRN_CONCAT_(a, b) CAIRN_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    absl::Status _cairn_status = (expr);           \
    if (!_cairn_status.ok()) return _cairn_status; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(CAIRN_CONCAT_(_cairn_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

namespace cairn {

// Prefixes the message of a non-OK status with `context`; OK stays OK.
absl::Status Annotate(const absl::Status& status, std::string_view context);

}  // namespace cairn

#endif  // CAIRN_COMMON_STATUS_MACROS_H_

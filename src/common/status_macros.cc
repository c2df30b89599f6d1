#include "common/status_macros.h"

#include "common/strings.h"

namespace cairn {

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), cairn::StrCat(context, ": ", status.message()));
}

}  // namespace cairn

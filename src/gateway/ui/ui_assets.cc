#include "gateway/ui/ui_assets.h"

#include <cstddef>

namespace cairn::gateway {
namespace ui_internal {
// Defined in the generated ui_assets_data.cc.
extern const UiAsset kAssets[];
extern const size_t kAssetCount;
}  // namespace ui_internal

const UiAsset* FindUiAsset(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) path = "index.html";
  for (size_t i = 0; i < ui_internal::kAssetCount; ++i) {
    if (ui_internal::kAssets[i].path == path) return &ui_internal::kAssets[i];
  }
  return nullptr;
}

}  // namespace cairn::gateway

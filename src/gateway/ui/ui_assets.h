// The web dashboard's static files (index.html, app.js, style.css, ...),
// compiled into the binary at build time by embed_assets.cmake, so the
// gateway serves /ui/ without files on disk.
#ifndef CAIRN_GATEWAY_UI_UI_ASSETS_H_
#define CAIRN_GATEWAY_UI_UI_ASSETS_H_

#include <string_view>

namespace cairn::gateway {

struct UiAsset {
  std::string_view path;          // "index.html", "app.js", ...
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// The asset at `path`, relative to /ui/ ("app.js"); a leading '/' is
// ignored and "" means "index.html". nullptr if there is none. The result
// points to static storage: valid for the life of the program, thread-safe.
const UiAsset* FindUiAsset(std::string_view path);

}  // namespace cairn::gateway

#endif  // CAIRN_GATEWAY_UI_UI_ASSETS_H_

// The namespace path rules (common/path.h) and the CLI's normalisation of a
// typed path and URL encoding (client/paths.h), over any bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_split.h"
#include "client/paths.h"
#include "common/check.h"
#include "common/path.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace {

// An independent UTF-8 check: nlohmann::json refuses to dump invalid UTF-8.
bool JsonAcceptsUtf8(std::string_view s) {
  try {
    nlohmann::json(std::string(s)).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

int Hex(char c) { return c <= '9' ? c - '0' : c - 'A' + 10; }

// Decodes what EncodePath produced: every '%' starts an escape.
std::string Decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// What a valid path promises (the header's first comment and the helpers'
// examples).
void CheckValidPath(std::string_view path) {
  CAIRN_CHECK(!path.empty() && path.front() == '/') << path;
  CAIRN_CHECK(path.size() <= cairn::kMaxPathLength) << path.size();
  CAIRN_CHECK(path.find('\0') == std::string_view::npos) << path;
  CAIRN_CHECK(cairn::IsValidUtf8(path)) << path;
  CAIRN_CHECK(cairn::IsWithin(path, "/") && cairn::IsWithin(path, path)) << path;
  if (path == "/") {
    CAIRN_CHECK(cairn::BaseName(path).empty());
    CAIRN_CHECK(cairn::ParentPath(path) == "/");
    CAIRN_CHECK(cairn::AncestorDirs(path).empty());
    return;
  }
  size_t components = 0;
  for (absl::string_view part : absl::StrSplit(cairn::ToAbsl(path.substr(1)), '/')) {
    CAIRN_CHECK(!part.empty() && part != "." && part != "..") << path;
    CAIRN_CHECK(part.size() <= cairn::kMaxNameLength) << path;
    ++components;
  }
  std::string_view parent = cairn::ParentPath(path);
  std::string_view base = cairn::BaseName(path);
  CAIRN_CHECK(cairn::ValidatePath(parent).ok()) << path << " parent " << parent;
  CAIRN_CHECK(!base.empty() && base.find('/') == std::string_view::npos) << path;
  CAIRN_CHECK(cairn::JoinPath(parent, base) == path) << path;
  CAIRN_CHECK(cairn::IsWithin(path, parent)) << path;
  CAIRN_CHECK(!cairn::IsWithin(parent, path)) << path;

  std::vector<std::string> ancestors = cairn::AncestorDirs(path);
  CAIRN_CHECK(ancestors.size() == components - 1) << path;
  for (const std::string& dir : ancestors) {
    CAIRN_CHECK(cairn::ValidatePath(dir).ok()) << path << " ancestor " << dir;
    CAIRN_CHECK(cairn::IsWithin(path, dir) && dir != path) << path << " ancestor " << dir;
  }
  if (!ancestors.empty()) CAIRN_CHECK(ancestors.back() == parent) << path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  CAIRN_CHECK(cairn::IsValidUtf8(text) == JsonAcceptsUtf8(text)) << text;

  bool valid = cairn::ValidatePath(text).ok();
  if (valid) CheckValidPath(text);

  // A typed path normalises to a valid one, once and for all; a valid path is
  // already normal.
  absl::StatusOr<std::string> normal = cairn::client::NormalizeUserPath(text);
  if (normal.ok()) {
    CheckValidPath(*normal);
    absl::StatusOr<std::string> again = cairn::client::NormalizeUserPath(*normal);
    CAIRN_CHECK(again.ok() && *again == *normal) << text << " -> " << *normal;
  } else {
    CAIRN_CHECK(absl::IsInvalidArgument(normal.status())) << normal.status();
  }
  if (valid) CAIRN_CHECK(normal.ok() && *normal == text) << text;

  // The URL form of a path has only well-formed escapes and decodes back to it.
  std::string encoded = cairn::client::EncodePath(text);
  CAIRN_CHECK(cairn::CheckPercentEscapes(encoded).ok()) << encoded;
  CAIRN_CHECK(encoded.find('?') == std::string::npos) << encoded;
  CAIRN_CHECK(Decode(encoded) == text) << encoded;

  (void)cairn::CheckPercentEscapes(text);
  return 0;
}

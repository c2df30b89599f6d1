#include "client/paths.h"

#include "common/strings.h"

namespace cairn::client {
namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace

absl::Status ValidatePath(std::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("empty path");
  if (path.front() != '/') {
    return absl::InvalidArgumentError(
        cairn::StrCat("path must be absolute: \"", path, "\""));
  }
  if (path.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("path contains a NUL byte");
  }
  if (path == "/") return absl::OkStatus();
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view component = path.substr(start, end - start);
    if (component.empty()) {
      return absl::InvalidArgumentError(
          cairn::StrCat("path has an empty component: \"", path, "\""));
    }
    if (component == "." || component == "..") {
      return absl::InvalidArgumentError(cairn::StrCat(
          "path may not contain \".\" or \"..\": \"", path, "\""));
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeUserPath(std::string_view typed) {
  if (typed.empty()) return absl::InvalidArgumentError("empty path");
  std::string path = typed.front() == '/' ? std::string(typed)
                                          : cairn::StrCat("/", typed);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  absl::Status valid = ValidatePath(path);
  if (!valid.ok()) return valid;
  return path;
}

std::string EncodePath(std::string_view path) {
  return PercentEncode(path, /*keep_slash=*/true);
}

std::string EncodeQueryValue(std::string_view value) {
  return PercentEncode(value, /*keep_slash=*/true);
}

std::string_view Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  if (dir == "/") return cairn::StrCat("/", name);
  return cairn::StrCat(dir, "/", name);
}

}  // namespace cairn::client

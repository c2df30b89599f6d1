#include "common/path.h"

#include <cctype>

#include "absl/strings/str_split.h"
#include "common/strings.h"

namespace cairn {

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong encodings, surrogates and values past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

absl::Status ValidatePath(std::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("path is empty");
  if (path.front() != '/') return absl::InvalidArgumentError("path must be absolute");
  if (path.size() > kMaxPathLength) {
    return absl::InvalidArgumentError(cairn::StrCat("path longer than ", kMaxPathLength, " bytes"));
  }
  if (path.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("path contains a NUL byte");
  }
  if (!IsValidUtf8(path)) return absl::InvalidArgumentError("path is not valid UTF-8");
  if (path == "/") return absl::OkStatus();
  for (absl::string_view part : absl::StrSplit(ToAbsl(path.substr(1)), '/')) {
    if (part.empty()) return absl::InvalidArgumentError("path has an empty component");
    if (part == "." || part == "..") {
      return absl::InvalidArgumentError("path has a '.' or '..' component");
    }
    if (part.size() > kMaxNameLength) {
      return absl::InvalidArgumentError(
          cairn::StrCat("path component longer than ", kMaxNameLength, " bytes"));
    }
  }
  return absl::OkStatus();
}

std::string_view ParentPath(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return "/";
  return path.substr(0, slash);
}

std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::vector<std::string> AncestorDirs(std::string_view path) {
  std::vector<std::string> dirs;
  for (size_t pos = path.find('/', 1); pos != std::string_view::npos;
       pos = path.find('/', pos + 1)) {
    dirs.emplace_back(path.substr(0, pos));
  }
  return dirs;
}

bool IsWithin(std::string_view path, std::string_view dir) {
  if (dir == "/") return true;
  if (!path.starts_with(dir)) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  return dir == "/" ? cairn::StrCat("/", name) : cairn::StrCat(dir, "/", name);
}

absl::Status CheckPercentEscapes(std::string_view target) {
  target = target.substr(0, target.find('?'));
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') continue;
    if (i + 2 >= target.size() || !std::isxdigit(static_cast<unsigned char>(target[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(target[i + 2]))) {
      return absl::InvalidArgumentError("malformed percent-escape in path");
    }
  }
  return absl::OkStatus();
}

}  // namespace cairn

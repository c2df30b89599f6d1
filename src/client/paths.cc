#include "client/paths.h"

#include "common/strings.h"

namespace cairn::client {
namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
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

absl::StatusOr<std::string> NormalizeUserPath(std::string_view typed) {
  if (typed.empty()) return absl::InvalidArgumentError("empty path");
  std::string path = typed.front() == '/' ? std::string(typed) : cairn::StrCat("/", typed);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  absl::Status valid = ValidatePath(path);
  if (!valid.ok()) return valid;
  return path;
}

std::string EncodePath(std::string_view path) { return PercentEncode(path, /*keep_slash=*/true); }

std::string EncodeQueryValue(std::string_view value) {
  return PercentEncode(value, /*keep_slash=*/true);
}

}  // namespace cairn::client

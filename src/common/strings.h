// String building over std::string_view. Debian's Abseil is built with its own
// absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW 0), so absl::StrCat does
// not take std::string_view; these small helpers do, and convert between views.
#ifndef CAIRN_COMMON_STRINGS_H_
#define CAIRN_COMMON_STRINGS_H_

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace cairn {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

namespace strings_internal {
inline void Append(std::string& out, std::string_view v) { out.append(v); }
inline void Append(std::string& out, absl::string_view v) { out.append(v.data(), v.size()); }
inline void Append(std::string& out, const std::string& v) { out.append(v); }
inline void Append(std::string& out, const char* v) { out.append(v); }
inline void Append(std::string& out, char c) { out.push_back(c); }
template <typename T>
requires(std::is_arithmetic_v<T> && !std::is_same_v<T, char> &&
         !std::is_same_v<T, bool>) void Append(std::string& out, T v) {
  out.append(std::to_string(v));
}
inline void Append(std::string& out, bool v) { out.append(v ? "true" : "false"); }
}  // namespace strings_internal

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (strings_internal::Append(*out, args), ...);
}

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  StrAppend(&out, args...);
  return out;
}

}  // namespace cairn

#endif  // CAIRN_COMMON_STRINGS_H_

#include "gateway/http_util.h"

#include "absl/strings/numbers.h"
#include "common/api_errors.h"
#include "common/path.h"
#include "common/strings.h"

namespace cairn::gateway {

int HttpStatusFor(const absl::Status& status) { return HttpStatusForCode(status.code()); }

void SetJson(HttpResponse& res, const nlohmann::json& body, int http_status) {
  res.status = http_status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  "application/json");
}

absl::StatusOr<std::optional<ByteRange>> ParseRange(std::string_view header, uint64_t size) {
  if (!header.starts_with("bytes=")) return std::nullopt;
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return std::nullopt;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view first = spec.substr(0, dash), last = spec.substr(dash + 1);
  uint64_t a = 0, b = 0;
  auto number = [](std::string_view s, uint64_t* v) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos &&
           absl::SimpleAtoi(ToAbsl(s), v);
  };
  if (first.empty()) {  // suffix: the last b bytes
    if (!number(last, &b)) return std::nullopt;
    if (b == 0 || size == 0) return absl::OutOfRangeError("range not satisfiable");
    b = std::min(b, size);
    return ByteRange{size - b, b};
  }
  if (!number(first, &a)) return std::nullopt;
  if (last.empty()) {
    b = size == 0 ? 0 : size - 1;
  } else if (!number(last, &b) || b < a) {
    return std::nullopt;
  }
  if (a >= size) return absl::OutOfRangeError("range not satisfiable");
  b = std::min(b, size - 1);
  return ByteRange{a, b - a + 1};
}

absl::StatusOr<std::string> PathFromCapture(const HttpRequest& req, size_t group) {
  if (absl::Status s = CheckPercentEscapes(req.target); !s.ok()) return s;
  if (req.matches.size() <= group || req.matches[group].empty()) {
    return absl::InvalidArgumentError("path is empty");
  }
  std::string path = req.matches[group];
  if (absl::Status s = ValidatePath(path); !s.ok()) return s;
  return path;
}

absl::StatusOr<std::string> PathFromParam(const HttpRequest& req, const std::string& name,
                                          bool required) {
  if (!req.has_param(name)) {
    if (!required) return std::string("/");
    return absl::InvalidArgumentError(cairn::StrCat("missing query parameter '", name, "'"));
  }
  std::string path = req.param(name);
  if (absl::Status s = ValidatePath(path); !s.ok()) return s;
  return path;
}

nlohmann::json EntryJson(const Entry& e) {
  nlohmann::json j;
  j["name"] = e.path() == "/" ? "" : std::string(BaseName(e.path()));
  j["path"] = e.path();
  j["type"] = e.type() == Entry::DIR ? "dir" : "file";
  j["mtime"] = e.mtime_ms() / 1000;
  j["mtime_ms"] = e.mtime_ms();
  if (e.type() == Entry::FILE) {
    j["size"] = e.file().length();
    j["sha256"] = e.file().sha256();
    j["chunks"] = e.file().extents_size();
    j["replication"] = e.file().replication();
  } else {
    j["size"] = 0;
  }
  return j;
}

}  // namespace cairn::gateway

#include "client/fake_gateway.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/status/statusor.h"
#include "client/sha256.h"
#include "common/api_errors.h"
#include "common/path.h"
#include "common/status_macros.h"
#include "common/strings.h"
#ifdef CAIRN_FAKE_GATEWAY_UI
#include "gateway/ui/ui_assets.h"
#endif

namespace cairn::client::testing {
namespace {

using nlohmann::json;

// Replies are rendered as src/gateway/http_util.cc renders them: compact
// JSON plus a newline, errors named from the shared API error table.
void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n",
                  "application/json");
}

void SendError(httplib::Response& res, const absl::Status& status) {
  ApiError error = ApiErrorFor(status.code());
  SendJson(
      res, error.http_status,
      {{"error", {{"code", std::string(error.name)}, {"message", std::string(status.message())}}}});
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The gateway's HTTP-date for Last-Modified.
std::string HttpDate(int64_t mtime_ms) {
  std::time_t seconds = static_cast<std::time_t>(mtime_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// The path of a /api/v1/files/{path} request, or the gateway's 400.
absl::StatusOr<std::string> FilesPath(const httplib::Request& req) {
  if (absl::Status s = CheckPercentEscapes(req.target); !s.ok()) return s;
  if (req.matches.size() < 2 || req.matches[1].length() == 0) {
    return absl::InvalidArgumentError("path is empty");
  }
  std::string path = req.matches[1].str();
  if (absl::Status s = ValidatePath(path); !s.ok()) return s;
  return path;
}

// The path in query parameter "path": "/" if absent and not `required`.
absl::StatusOr<std::string> ParamPath(const httplib::Request& req, bool required) {
  if (!req.has_param("path")) {
    if (!required) return std::string("/");
    return absl::InvalidArgumentError("missing query parameter 'path'");
  }
  std::string path = req.get_param_value("path");
  if (absl::Status s = ValidatePath(path); !s.ok()) return s;
  return path;
}

absl::StatusOr<json> ParseBody(const httplib::Request& req) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return absl::InvalidArgumentError("request body must be a JSON object");
  }
  return body;
}

absl::StatusOr<std::string> StringField(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    return absl::InvalidArgumentError(cairn::StrCat("field '", name, "' must be a string"));
  }
  return it->get<std::string>();
}

bool IsTrue(const std::string& value) { return value == "true" || value == "1"; }

std::string Parent(const std::string& path) { return std::string(ParentPath(path)); }

bool IsUnder(const std::string& path, const std::string& dir) {
  return path != dir && IsWithin(path, dir);
}

const std::string& Param(const httplib::Request& req, const char* name) {
  static const std::string kEmpty;
  auto it = req.params.find(name);
  return it == req.params.end() ? kEmpty : it->second;
}

// The gateway's entry JSON (src/gateway/http_util.cc EntryJson).
json DirJson(const std::string& path, int64_t mtime_ms) {
  return {{"name", path == "/" ? "" : std::string(BaseName(path))},
          {"path", path},
          {"type", "dir"},
          {"mtime", mtime_ms / 1000},
          {"mtime_ms", mtime_ms},
          {"size", 0}};
}

json FileJson(const std::string& path, uint64_t size, const std::string& sha256, int64_t mtime_ms,
              uint64_t chunk_size) {
  return {{"name", std::string(BaseName(path))},
          {"path", path},
          {"type", "file"},
          {"mtime", mtime_ms / 1000},
          {"mtime_ms", mtime_ms},
          {"size", size},
          {"sha256", sha256},
          {"chunks", (size + chunk_size - 1) / chunk_size},
          {"replication", 3}};
}

}  // namespace

FakeGateway::FakeGateway(FakeGatewayOptions options)
    : options_(options), server_(std::make_unique<httplib::Server>()) {
  absl::MutexLock lock(&mu_);
  dirs_["/"] = 0;
}

FakeGateway::~FakeGateway() { Stop(); }

std::string FakeGateway::url() const { return cairn::StrCat("http://127.0.0.1:", port_); }

int FakeGateway::Start() {
  Route();
  server_->set_tcp_nodelay(true);
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ < 0) return -1;
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // httplib's stop() is a no-op until the accept loop runs, so make sure it
  // does before anyone can call Stop().
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return port_;
}

void FakeGateway::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

void FakeGateway::FailNextRequest(absl::Status status) {
  absl::MutexLock lock(&mu_);
  next_failure_ = std::move(status);
}

void FakeGateway::CorruptNextDownload() {
  absl::MutexLock lock(&mu_);
  corrupt_next_download_ = true;
}

void FakeGateway::OmitNextChecksum() {
  absl::MutexLock lock(&mu_);
  omit_next_checksum_ = true;
}

void FakeGateway::AddFile(const std::string& path, std::string content) {
  absl::MutexLock lock(&mu_);
  AddParentsLocked(path).IgnoreError();
  std::string sha = Sha256Hex(content);
  files_[path] = File{std::move(content), std::move(sha), NowMs()};
}

std::optional<std::string> FakeGateway::FileContent(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  return it->second.content;
}

bool FakeGateway::IsDirectory(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  return dirs_.count(path) > 0;
}

std::vector<RecordedRequest> FakeGateway::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void FakeGateway::Record(const httplib::Request& req, std::vector<size_t> pieces) {
  RecordedRequest record;
  record.method = req.method;
  record.target = req.target;
  record.path = req.path;
  record.content_length = req.get_header_value("Content-Length");
  record.transfer_encoding = req.get_header_value("Transfer-Encoding");
  record.if_none_match = req.get_header_value("If-None-Match");
  record.body_pieces = std::move(pieces);
  absl::MutexLock lock(&mu_);
  requests_.push_back(std::move(record));
}

bool FakeGateway::TakeFailure(httplib::Response& res) {
  std::optional<absl::Status> failure;
  {
    absl::MutexLock lock(&mu_);
    failure.swap(next_failure_);
  }
  if (!failure.has_value()) return false;
  SendError(res, *failure);
  return true;
}

// As the master's MetadataStore::AddParents: creates the missing ancestors
// of `path` (not `path` itself).
absl::Status FakeGateway::AddParentsLocked(const std::string& path) {
  for (const std::string& dir : AncestorDirs(path)) {
    if (files_.count(dir) > 0) {
      return absl::AlreadyExistsError(cairn::StrCat("a file is in the way: ", dir));
    }
  }
  const int64_t now = NowMs();
  for (const std::string& dir : AncestorDirs(path)) dirs_.emplace(dir, now);
  return absl::OkStatus();
}

// As the master's MetadataStore::Mkdir.
absl::Status FakeGateway::MakeDirsLocked(const std::string& path) {
  if (dirs_.count(path) > 0) return absl::OkStatus();
  if (files_.count(path) > 0) {
    return absl::AlreadyExistsError(cairn::StrCat("a file exists at ", path));
  }
  RETURN_IF_ERROR(AddParentsLocked(path));
  dirs_.emplace(path, NowMs());
  return absl::OkStatus();
}

void FakeGateway::Route() {
  const std::string files = R"(/api/v1/files([\s\S]*))";
  server_->Put(files,
               [this](const httplib::Request& req, httplib::Response& res,
                      const httplib::ContentReader& reader) { HandlePut(req, res, reader); });
  server_->Get(files, [this](const httplib::Request& req, httplib::Response& res) {
    HandleGet(req, res, req.method == "HEAD");
  });
  // A route calling one of our (req, res) handlers.
  auto to = [this](void (FakeGateway::*handler)(const httplib::Request&, httplib::Response&)) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      (this->*handler)(req, res);
    };
  };
  server_->Delete(files, to(&FakeGateway::HandleDelete));
  server_->Get("/api/v1/list", to(&FakeGateway::HandleList));
  server_->Post("/api/v1/mkdir", to(&FakeGateway::HandleMkdir));
  server_->Post("/api/v1/rename", to(&FakeGateway::HandleRename));
  server_->Get("/api/v1/fileinfo", to(&FakeGateway::HandleFileInfo));
  server_->Get("/api/v1/cluster", to(&FakeGateway::HandleCluster));
  server_->Get("/api/v1/usage", to(&FakeGateway::HandleUsage));
  // As the gateway: httplib's own errors (no route, bad Range) get JSON bodies.
  server_->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.has_header("Content-Length")) return;  // the route's own
    switch (res.status) {
      case 404:
        SendError(res,
                  absl::NotFoundError(cairn::StrCat("no route for ", req.method, " ", req.path)));
        break;
      case 416:
        SendError(res, absl::OutOfRangeError("malformed or unsatisfiable Range"));
        break;
      case 413:
        SendError(res, absl::InvalidArgumentError("request too large"));
        break;
      default:
        if (res.status >= 400 && res.status < 500) {
          SendError(res, absl::InvalidArgumentError("malformed request"));
          res.status = 400;
        }
    }
  });
#ifdef CAIRN_FAKE_GATEWAY_UI
  // The real dashboard over fake data: handy for working on the UI.
  server_->Get(R"(/ui/(.*))", [](const httplib::Request& req, httplib::Response& res) {
    const gateway::UiAsset* asset = gateway::FindUiAsset(req.matches[1].str());
    if (asset == nullptr) return SendError(res, absl::NotFoundError("no such asset"));
    res.set_content(std::string(asset->body), std::string(asset->content_type));
  });
  server_->Get("/ui",
               [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/ui/"); });
#endif
}

// The master's StartUpload checks (MetadataStore::CheckCreatable), in its order.
bool FakeGateway::RejectUpload(const httplib::Request& req, const std::string& path,
                               httplib::Response& res) {
  std::string inm = req.get_header_value("If-None-Match");
  if (!inm.empty() && inm != "*") {
    SendError(res, absl::InvalidArgumentError("If-None-Match on upload supports only *"));
    return true;
  }
  if (path == "/") {
    SendError(res, absl::AlreadyExistsError("a directory exists at /"));
    return true;
  }
  absl::MutexLock lock(&mu_);
  for (const std::string& dir : AncestorDirs(path)) {
    if (files_.count(dir) > 0) {
      SendError(res, absl::AlreadyExistsError(cairn::StrCat("a file is in the way: ", dir)));
      return true;
    }
  }
  if (dirs_.count(path) > 0) {
    SendError(res, absl::AlreadyExistsError(cairn::StrCat("a directory exists at ", path)));
    return true;
  }
  if (inm == "*" && files_.count(path) > 0) {
    SendError(res, absl::FailedPreconditionError(cairn::StrCat("file exists: ", path)));
    return true;
  }
  return false;
}

void FakeGateway::HandlePut(const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
  absl::StatusOr<std::string> valid = FilesPath(req);
  const std::string path = valid.ok() ? *valid : "";
  auto reject = [&] {
    if (valid.ok()) return RejectUpload(req, path, res);
    SendError(res, valid.status());
    return true;
  };
  if (!options_.read_rejected_uploads && reject()) {
    Record(req, {});
    return;  // body left unread
  }
  std::string body;
  std::vector<size_t> pieces;
  reader([&](const char* data, size_t length) {
    body.append(data, length);
    pieces.push_back(length);
    return true;
  });
  Record(req, std::move(pieces));
  if (TakeFailure(res)) return;
  if (reject()) return;
  absl::MutexLock lock(&mu_);
  if (absl::Status made = AddParentsLocked(path); !made.ok()) return SendError(res, made);
  File file{std::move(body), "", NowMs()};
  file.sha256 = Sha256Hex(file.content);
  uint64_t size = file.content.size();
  uint64_t chunks = (size + options_.chunk_size - 1) / options_.chunk_size;
  res.set_header("ETag", "\"" + file.sha256 + "\"");
  res.set_header("X-Checksum-Sha256", file.sha256);
  SendJson(res, 201, {{"path", path}, {"size", size}, {"chunks", chunks}, {"sha256", file.sha256}});
  files_[path] = std::move(file);
}

void FakeGateway::HandleGet(const httplib::Request& req, httplib::Response& res, bool head) {
  Record(req, {});
  if (TakeFailure(res)) return;
  absl::StatusOr<std::string> path = FilesPath(req);
  if (!path.ok()) return SendError(res, path.status());
  auto content = std::make_shared<std::string>();
  std::string sha;
  int64_t mtime_ms = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = files_.find(*path);
    if (it == files_.end()) {
      if (dirs_.count(*path) > 0) {
        return SendError(res, absl::InvalidArgumentError(*path + " is a directory"));
      }
      return SendError(res, absl::NotFoundError("no such file or directory: " + *path));
    }
    *content = it->second.content;
    sha = it->second.sha256;
    mtime_ms = it->second.mtime_ms;
    if (corrupt_next_download_ && !head) {
      sha = Sha256Hex("something else");
      corrupt_next_download_ = false;
    }
    if (omit_next_checksum_ && !head) {
      sha.clear();
      omit_next_checksum_ = false;
    }
  }
  // A fake of a gateway without checksums sends neither.
  const std::string etag = "\"" + sha + "\"";
  if (!sha.empty()) {
    res.set_header("ETag", etag);
    res.set_header("X-Checksum-Sha256", sha);
  }
  res.set_header("Accept-Ranges", "bytes");
  res.set_header("Last-Modified", HttpDate(mtime_ms));
  if (!sha.empty() && req.get_header_value("If-None-Match") == etag) {
    res.status = 304;
    return;
  }
  if (content->empty()) {
    // httplib 0.11 sends no Content-Length for a zero-length provider, and
    // the client would wait for a body until its timeout.
    return res.set_content("", "application/octet-stream");
  }
  // A sized provider: httplib answers Range (206, or 416 for a bad one).
  const size_t piece = options_.download_piece;
  res.set_content_provider(content->size(), "application/octet-stream",
                           [content, piece](size_t offset, size_t length, httplib::DataSink& sink) {
                             sink.write(content->data() + offset, std::min(piece, length));
                             return true;
                           });
}

void FakeGateway::HandleDelete(const httplib::Request& req, httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  absl::StatusOr<std::string> valid = FilesPath(req);
  if (!valid.ok()) return SendError(res, valid.status());
  const std::string& path = *valid;
  if (path == "/") return SendError(res, absl::InvalidArgumentError("cannot delete /"));
  bool recursive = IsTrue(Param(req, "recursive"));
  const json deleted = {{"path", path}, {"deleted", true}};
  absl::MutexLock lock(&mu_);
  if (files_.erase(path) > 0) return SendJson(res, 200, deleted);
  if (dirs_.count(path) == 0) {
    return SendError(res, absl::NotFoundError("no such file or directory: " + path));
  }
  bool empty = std::none_of(files_.begin(), files_.end(),
                            [&](const auto& f) { return IsUnder(f.first, path); }) &&
               std::none_of(dirs_.begin(), dirs_.end(),
                            [&](const auto& d) { return IsUnder(d.first, path); });
  if (!empty && !recursive) {
    return SendError(res,
                     absl::AbortedError("directory not empty: " + path + " (use recursive=true)"));
  }
  std::erase_if(files_, [&](const auto& f) { return IsUnder(f.first, path); });
  std::erase_if(dirs_, [&](const auto& d) { return IsWithin(d.first, path); });
  SendJson(res, 200, deleted);
}

void FakeGateway::HandleList(const httplib::Request& req, httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  absl::StatusOr<std::string> valid = ParamPath(req, /*required=*/false);
  if (!valid.ok()) return SendError(res, valid.status());
  const std::string& path = *valid;
  bool recursive = IsTrue(Param(req, "recursive"));
  // As the gateway: "limit" (1..100000) caps a page; so does list_page_size.
  size_t page = options_.list_page_size;
  if (req.has_param("limit")) {
    size_t limit = 0;
    try {
      limit = std::stoul(req.get_param_value("limit"));
    } catch (...) {
      return SendError(res, absl::InvalidArgumentError("limit must be a number"));
    }
    limit = std::clamp<size_t>(limit, 1, 100000);
    page = page == 0 ? limit : std::min(page, limit);
  }
  absl::MutexLock lock(&mu_);
  if (dirs_.count(path) == 0) {
    if (files_.count(path) > 0) {
      return SendError(res, absl::InvalidArgumentError("not a directory: " + path));
    }
    return SendError(res, absl::NotFoundError("no such file or directory: " + path));
  }
  auto wanted = [&](const std::string& p) {
    return IsUnder(p, path) && (recursive || Parent(p) == path);
  };
  std::map<std::string, json> entries;  // sorted by path
  for (const auto& [dir, mtime_ms] : dirs_) {
    if (wanted(dir)) entries[dir] = DirJson(dir, mtime_ms);
  }
  for (const auto& [p, file] : files_) {
    if (!wanted(p)) continue;
    entries[p] = FileJson(p, file.content.size(), file.sha256, file.mtime_ms, options_.chunk_size);
  }
  // Pages like the real gateway: "truncated" plus "next_start_after"; a
  // start_after outside `path` is ignored.
  std::string start_after = Param(req, "start_after");
  if (!start_after.empty() && !IsWithin(start_after, path)) start_after.clear();
  json list = json::array();
  bool truncated = false;
  for (auto it = entries.upper_bound(start_after); it != entries.end(); ++it) {
    if (page > 0 && list.size() == page) {
      truncated = true;
      break;
    }
    list.push_back(std::move(it->second));
  }
  json reply = {{"path", path}, {"entries", list}, {"truncated", truncated}};
  if (truncated) reply["next_start_after"] = list.back()["path"];
  SendJson(res, 200, reply);
}

void FakeGateway::HandleMkdir(const httplib::Request& req, httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  absl::StatusOr<json> body = ParseBody(req);
  if (!body.ok()) return SendError(res, body.status());
  absl::StatusOr<std::string> path = StringField(*body, "path");
  if (!path.ok()) return SendError(res, path.status());
  if (absl::Status valid = ValidatePath(*path); !valid.ok()) return SendError(res, valid);
  absl::MutexLock lock(&mu_);
  if (absl::Status made = MakeDirsLocked(*path); !made.ok()) return SendError(res, made);
  SendJson(res, 201, DirJson(*path, dirs_[*path]));
}

void FakeGateway::HandleRename(const httplib::Request& req, httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  absl::StatusOr<json> body = ParseBody(req);
  if (!body.ok()) return SendError(res, body.status());
  absl::StatusOr<std::string> source_field = StringField(*body, "source");
  if (!source_field.ok()) return SendError(res, source_field.status());
  absl::StatusOr<std::string> target_field = StringField(*body, "target");
  if (!target_field.ok()) return SendError(res, target_field.status());
  const std::string source = *source_field;
  const std::string target = *target_field;
  if (absl::Status valid = ValidatePath(source); !valid.ok()) return SendError(res, valid);
  if (absl::Status valid = ValidatePath(target); !valid.ok()) return SendError(res, valid);
  if (source == "/" || target == "/") {
    return SendError(res, absl::InvalidArgumentError("cannot rename /"));
  }
  if (IsWithin(target, source)) {
    return SendError(res, absl::InvalidArgumentError(cairn::StrCat("cannot move ", source,
                                                                   " into itself (", target, ")")));
  }
  absl::MutexLock lock(&mu_);
  bool is_file = files_.count(source) > 0;
  if (!is_file && dirs_.count(source) == 0) {
    return SendError(res, absl::NotFoundError("no such file or directory: " + source));
  }
  if (files_.count(target) > 0 || dirs_.count(target) > 0) {
    return SendError(res, absl::AlreadyExistsError("target exists: " + target));
  }
  if (absl::Status made = AddParentsLocked(target); !made.ok()) return SendError(res, made);
  auto moved = [&](const std::string& p) { return target + p.substr(source.size()); };
  if (is_file) {
    files_[target] = std::move(files_[source]);
    files_.erase(source);
  } else {
    std::map<std::string, File> kept_files;
    for (auto& [p, file] : files_) {
      kept_files[IsUnder(p, source) ? moved(p) : p] = std::move(file);
    }
    files_ = std::move(kept_files);
    std::map<std::string, int64_t> kept_dirs;
    for (const auto& [d, mtime_ms] : dirs_) {
      kept_dirs[IsWithin(d, source) ? moved(d) : d] = mtime_ms;
    }
    dirs_ = std::move(kept_dirs);
  }
  SendJson(res, 200, {{"source", source}, {"target", target}});
}

void FakeGateway::HandleFileInfo(const httplib::Request& req, httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  absl::StatusOr<std::string> valid = ParamPath(req, /*required=*/true);
  if (!valid.ok()) return SendError(res, valid.status());
  const std::string& path = *valid;
  absl::MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) {
    auto dir = dirs_.find(path);
    if (dir != dirs_.end()) return SendJson(res, 200, DirJson(path, dir->second));
    return SendError(res, absl::NotFoundError("no such file or directory: " + path));
  }
  const File& file = it->second;
  json chunks = json::array();
  for (uint64_t offset = 0, index = 0; offset < file.content.size();
       offset += options_.chunk_size, ++index) {
    json replicas = json::array();
    for (int node = 1; node <= 3; ++node) {
      replicas.push_back({{"node_id", cairn::StrCat("cs-", node)},
                          {"address", cairn::StrCat("127.0.0.1:", 8080 + node)},
                          {"zone", cairn::StrCat("z", node)}});
    }
    chunks.push_back(
        {{"index", index},
         {"handle", 4096 + index},  // a number, as the gateway sends it
         {"version", 1},
         {"offset", 0},
         {"size", std::min<uint64_t>(options_.chunk_size, file.content.size() - offset)},
         {"crc32c", 0},
         {"replicas", std::move(replicas)}});
  }
  json reply = FileJson(path, file.content.size(), file.sha256, file.mtime_ms, options_.chunk_size);
  reply["chunks"] = std::move(chunks);
  SendJson(res, 200, reply);
}

void FakeGateway::HandleCluster(const httplib::Request& req, httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  constexpr uint64_t kCapacity = uint64_t{100} << 30;
  uint64_t bytes = 0;
  uint64_t chunks = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [p, file] : files_) {
      bytes += file.content.size();
      chunks += (file.content.size() + options_.chunk_size - 1) / options_.chunk_size;
    }
  }
  json nodes = json::array();
  for (int node = 1; node <= 3; ++node) {
    nodes.push_back({{"id", cairn::StrCat("cs-", node)},
                     {"address", cairn::StrCat("127.0.0.1:", 8080 + node)},
                     {"zone", cairn::StrCat("z", node)},
                     {"state", "alive"},
                     {"capacity", kCapacity},
                     {"used", bytes},
                     {"free", kCapacity - bytes},
                     {"chunks", chunks},
                     {"last_heartbeat_ms_ago", 250 * node}});
  }
  SendJson(res, 200,
           {{"nodes", std::move(nodes)},
            {"totals",
             {{"nodes", 3},
              {"alive", 3},
              {"capacity", 3 * kCapacity},
              {"used", 3 * bytes},
              {"usage_percent", 100.0 * bytes / kCapacity},
              {"chunks", chunks},
              {"under_replicated", 0},
              {"replication_queue", 0}}},
            {"compaction", {{"reclaimable_bytes", 0}, {"compactions", 0}, {"rewritten_bytes", 0}}},
            {"safe_mode", false},
            {"chunk_size", options_.chunk_size},
            {"replication", 3}});
}

void FakeGateway::HandleUsage(const httplib::Request& req, httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  absl::StatusOr<std::string> valid = ParamPath(req, /*required=*/false);
  if (!valid.ok()) return SendError(res, valid.status());
  const std::string& path = *valid;
  absl::MutexLock lock(&mu_);
  if (auto file = files_.find(path); file != files_.end()) {  // a file: itself, no children
    return SendJson(res, 200,
                    {{"path", path},
                     {"files", 1},
                     {"bytes", file->second.content.size()},
                     {"children", json::array()}});
  }
  if (dirs_.count(path) == 0) {
    return SendError(res, absl::NotFoundError("no such file or directory: " + path));
  }
  json children = json::array();
  auto child_of = [&](const std::string& p) { return IsUnder(p, path) && Parent(p) == path; };
  std::set<std::string> names;
  for (const auto& [d, mtime_ms] : dirs_) {
    if (child_of(d)) names.insert(d);
  }
  for (const auto& [p, file] : files_) {
    if (child_of(p)) names.insert(p);
  }
  uint64_t total_files = 0;
  uint64_t total_bytes = 0;
  for (const std::string& child : names) {
    uint64_t files = 0;
    uint64_t bytes = 0;
    for (const auto& [p, file] : files_) {
      if (IsWithin(p, child)) {
        ++files;
        bytes += file.content.size();
      }
    }
    total_files += files;
    total_bytes += bytes;
    children.push_back({{"name", std::string(BaseName(child))},
                        {"type", dirs_.count(child) > 0 ? "dir" : "file"},
                        {"files", files},
                        {"bytes", bytes}});
  }
  SendJson(res, 200,
           {{"path", path},
            {"files", total_files},
            {"bytes", total_bytes},
            {"children", std::move(children)}});
}

}  // namespace cairn::client::testing

#include "client/fake_gateway.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include <nlohmann/json.hpp>

#include "common/api_errors.h"
#include "common/path.h"
#include "client/sha256.h"
#include "common/strings.h"
#ifdef CAIRN_FAKE_GATEWAY_UI
#include "gateway/ui/ui_assets.h"
#endif

namespace cairn::client::testing {
namespace {

using nlohmann::json;

// The reply the real gateway sends for `status`: names and HTTP statuses
// from the shared API error table.
void SendError(httplib::Response& res, const absl::Status& status) {
  ApiError error = ApiErrorFor(status.code());
  res.status = error.http_status;
  json body = {{"error",
                {{"code", std::string(error.name)}, {"message", std::string(status.message())}}}};
  res.set_content(body.dump(), "application/json");
}

void SendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

// False (and a 400 sent) unless `path` is a valid Cairn path.
bool CheckPath(const std::string& path, httplib::Response& res) {
  absl::Status valid = ValidatePath(path);
  if (valid.ok()) return true;
  SendError(res, valid);
  return false;
}

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool IsUnder(const std::string& path, const std::string& dir) {
  if (dir == "/") return path != "/";
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

const std::string& Param(const httplib::Request& req, const char* name) {
  static const std::string kEmpty;
  auto it = req.params.find(name);
  return it == req.params.end() ? kEmpty : it->second;
}

}  // namespace

FakeGateway::FakeGateway(FakeGatewayOptions options)
    : options_(options), server_(std::make_unique<httplib::Server>()) {
  absl::MutexLock lock(&mu_);
  dirs_.insert("/");
}

FakeGateway::~FakeGateway() { Stop(); }

std::string FakeGateway::url() const {
  return cairn::StrCat("http://127.0.0.1:", port_);
}

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
  MakeDirsLocked(Parent(path));
  std::string sha = Sha256Hex(content);
  files_[path] = File{std::move(content), std::move(sha), std::time(nullptr)};
}

std::optional<std::string> FakeGateway::FileContent(
    const std::string& path) const {
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

void FakeGateway::Record(const httplib::Request& req,
                         std::vector<size_t> pieces) {
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

bool FakeGateway::MakeDirsLocked(const std::string& path) {
  if (dirs_.count(path) > 0) return true;
  if (files_.count(path) > 0) return false;
  if (!MakeDirsLocked(Parent(path))) return false;
  dirs_.insert(path);
  return true;
}

void FakeGateway::Route() {
  const std::string files = R"(/api/v1/files(/.*))";
  server_->Put(files, [this](const httplib::Request& req, httplib::Response& res,
                             const httplib::ContentReader& reader) {
    HandlePut(req, res, reader);
  });
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
#ifdef CAIRN_FAKE_GATEWAY_UI
  // The real dashboard over fake data: handy for working on the UI.
  server_->Get(R"(/ui/(.*))", [](const httplib::Request& req,
                                 httplib::Response& res) {
    const gateway::UiAsset* asset = gateway::FindUiAsset(req.matches[1].str());
    if (asset == nullptr) return SendError(res, absl::NotFoundError("no such asset"));
    res.set_content(std::string(asset->body), std::string(asset->content_type));
  });
  server_->Get("/ui", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/ui/");
  });
#endif
}

bool FakeGateway::RejectUpload(const httplib::Request& req,
                               const std::string& path,
                               httplib::Response& res) {
  if (!CheckPath(path, res)) return true;
  absl::MutexLock lock(&mu_);
  if (dirs_.count(path) > 0) {
    SendError(res, absl::AlreadyExistsError(path + " is a directory"));
    return true;
  }
  if (req.get_header_value("If-None-Match") == "*" && files_.count(path) > 0) {
    SendError(res, absl::FailedPreconditionError(path + " exists"));
    return true;
  }
  for (std::string p = Parent(path); p != "/"; p = Parent(p)) {
    if (files_.count(p) > 0) {
      SendError(res, absl::AlreadyExistsError("a file is in the way of " + path));
      return true;
    }
  }
  return false;
}

void FakeGateway::HandlePut(const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
  const std::string path = req.matches[1];
  if (!options_.read_rejected_uploads && RejectUpload(req, path, res)) {
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
  if (RejectUpload(req, path, res)) return;
  absl::MutexLock lock(&mu_);
  if (!MakeDirsLocked(Parent(path))) {
    return SendError(res, absl::AlreadyExistsError("a file is in the way of " + Parent(path)));
  }
  File file{std::move(body), "", std::time(nullptr)};
  file.sha256 = Sha256Hex(file.content);
  uint64_t size = file.content.size();
  uint64_t chunks = (size + options_.chunk_size - 1) / options_.chunk_size;
  SendJson(res, 201,
           {{"path", path}, {"size", size}, {"chunks", chunks},
            {"sha256", file.sha256}});
  files_[path] = std::move(file);
}

void FakeGateway::HandleGet(const httplib::Request& req,
                            httplib::Response& res, bool head) {
  Record(req, {});
  if (TakeFailure(res)) return;
  const std::string path = req.matches[1];
  if (!CheckPath(path, res)) return;
  auto content = std::make_shared<std::string>();
  std::string sha;
  {
    absl::MutexLock lock(&mu_);
    auto it = files_.find(path);
    if (it == files_.end()) {
      if (dirs_.count(path) > 0) {
        return SendError(res, absl::InvalidArgumentError(path + " is a directory"));
      }
      return SendError(res, absl::NotFoundError("no such file: " + path));
    }
    *content = it->second.content;
    sha = it->second.sha256;
    if (corrupt_next_download_ && !head) {
      sha = Sha256Hex("something else");
      corrupt_next_download_ = false;
    }
    if (omit_next_checksum_ && !head) {
      sha.clear();
      omit_next_checksum_ = false;
    }
  }
  res.set_header("ETag", "\"" + sha + "\"");
  if (!sha.empty()) res.set_header("X-Checksum-Sha256", sha);
  if (content->empty()) {
    // httplib 0.11 sends no Content-Length for a zero-length provider, and
    // the client would wait for a body until its timeout.
    return res.set_content("", "application/octet-stream");
  }
  const size_t piece = options_.download_piece;
  res.set_content_provider(
      content->size(), "application/octet-stream",
      [content, piece](size_t offset, size_t length, httplib::DataSink& sink) {
        sink.write(content->data() + offset, std::min(piece, length));
        return true;
      });
}

void FakeGateway::HandleDelete(const httplib::Request& req,
                               httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  const std::string path = req.matches[1];
  if (!CheckPath(path, res)) return;
  if (path == "/") return SendError(res, absl::InvalidArgumentError("cannot delete /"));
  bool recursive = Param(req, "recursive") == "true";
  absl::MutexLock lock(&mu_);
  if (files_.erase(path) > 0) return SendJson(res, 200, {{"deleted", path}});
  if (dirs_.count(path) == 0) {
    return SendError(res, absl::NotFoundError("no such file or directory: " + path));
  }
  bool empty = std::none_of(files_.begin(), files_.end(),
                            [&](const auto& f) { return IsUnder(f.first, path); }) &&
               std::none_of(dirs_.begin(), dirs_.end(),
                            [&](const auto& d) { return IsUnder(d, path); });
  if (!empty && !recursive) {
    return SendError(res, absl::AbortedError("directory not empty: " + path));
  }
  std::erase_if(files_, [&](const auto& f) { return IsUnder(f.first, path); });
  std::erase_if(dirs_, [&](const auto& d) { return d == path || IsUnder(d, path); });
  SendJson(res, 200, {{"deleted", path}});
}

void FakeGateway::HandleList(const httplib::Request& req,
                             httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  const std::string& path = Param(req, "path");
  if (!CheckPath(path, res)) return;
  bool recursive = Param(req, "recursive") == "true";
  absl::MutexLock lock(&mu_);
  if (dirs_.count(path) == 0) {
    if (files_.count(path) > 0) {
      return SendError(res, absl::InvalidArgumentError("not a directory: " + path));
    }
    return SendError(res, absl::NotFoundError("no such directory: " + path));
  }
  auto wanted = [&](const std::string& p) {
    return IsUnder(p, path) && (recursive || Parent(p) == path);
  };
  std::map<std::string, json> entries;  // sorted by path
  for (const std::string& dir : dirs_) {
    if (!wanted(dir)) continue;
    entries[dir] = {{"name", std::string(BaseName(dir))}, {"path", dir},
                    {"type", "dir"}, {"size", 0}, {"mtime", 0}};
  }
  for (const auto& [p, file] : files_) {
    if (!wanted(p)) continue;
    entries[p] = {{"name", std::string(BaseName(p))}, {"path", p},
                  {"type", "file"}, {"size", file.content.size()},
                  {"mtime", file.mtime}};
  }
  // Pages like the real gateway: "truncated" plus "next_start_after".
  const std::string& start_after = Param(req, "start_after");
  json list = json::array();
  bool truncated = false;
  for (auto it = entries.upper_bound(start_after); it != entries.end(); ++it) {
    if (options_.list_page_size > 0 && list.size() == options_.list_page_size) {
      truncated = true;
      break;
    }
    list.push_back(std::move(it->second));
  }
  json reply = {{"path", path}, {"entries", list}, {"truncated", truncated}};
  if (truncated) reply["next_start_after"] = list.back()["path"];
  SendJson(res, 200, reply);
}

void FakeGateway::HandleMkdir(const httplib::Request& req,
                              httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("path") || !body["path"].is_string()) {
    return SendError(res, absl::InvalidArgumentError("expected {\"path\": ...}"));
  }
  const std::string path = body["path"];
  if (!CheckPath(path, res)) return;
  absl::MutexLock lock(&mu_);
  if (!MakeDirsLocked(path)) {
    return SendError(res, absl::AlreadyExistsError("a file is in the way of " + path));
  }
  SendJson(res, 200, {{"path", path}});
}

void FakeGateway::HandleRename(const httplib::Request& req,
                               httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("source") || !body.contains("target") ||
      !body["source"].is_string() || !body["target"].is_string()) {
    return SendError(res, absl::InvalidArgumentError("expected {\"source\": ..., \"target\": ...}"));
  }
  const std::string source = body["source"];
  const std::string target = body["target"];
  if (!CheckPath(source, res) || !CheckPath(target, res)) return;
  if (source == "/" || target == "/" || IsUnder(target, source)) {
    return SendError(res, absl::InvalidArgumentError("cannot move a directory into itself"));
  }
  absl::MutexLock lock(&mu_);
  bool is_file = files_.count(source) > 0;
  if (!is_file && dirs_.count(source) == 0) {
    return SendError(res, absl::NotFoundError("no such file or directory: " + source));
  }
  if (files_.count(target) > 0 || dirs_.count(target) > 0) {
    return SendError(res, absl::AlreadyExistsError(target + " exists"));
  }
  if (!MakeDirsLocked(Parent(target))) {
    return SendError(res, absl::AlreadyExistsError("a file is in the way of " + target));
  }
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
    std::set<std::string> kept_dirs;
    for (const std::string& d : dirs_) {
      kept_dirs.insert(d == source || IsUnder(d, source) ? moved(d) : d);
    }
    dirs_ = std::move(kept_dirs);
  }
  SendJson(res, 200, {{"source", source}, {"target", target}});
}

void FakeGateway::HandleFileInfo(const httplib::Request& req,
                                 httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  const std::string& path = Param(req, "path");
  if (!CheckPath(path, res)) return;
  absl::MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) {
    if (dirs_.count(path) > 0) {  // described, without chunks
      return SendJson(res, 200, {{"path", path}, {"type", "dir"}, {"size", 0}});
    }
    return SendError(res, absl::NotFoundError("no such file: " + path));
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
         {"handle", 4096 + index},  // a number: the client accepts either
         {"version", 1},
         {"size", std::min<uint64_t>(options_.chunk_size,
                                     file.content.size() - offset)},
         {"replicas", std::move(replicas)}});
  }
  SendJson(res, 200,
           {{"path", path}, {"type", "file"}, {"size", file.content.size()},
            {"sha256", file.sha256}, {"replication", 3},
            {"mtime", file.mtime}, {"chunks", std::move(chunks)}});
}

void FakeGateway::HandleCluster(const httplib::Request& req,
                                httplib::Response& res) {
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
                     {"chunks", chunks},
                     {"last_heartbeat_ms_ago", 250 * node}});
  }
  SendJson(res, 200,
           {{"nodes", std::move(nodes)},
            {"totals",
             {{"nodes", 3}, {"alive", 3}, {"capacity", 3 * kCapacity},
              {"used", 3 * bytes},
              {"usage_percent", 100.0 * bytes / kCapacity},
              {"chunks", 3 * chunks}, {"under_replicated", 0},
              {"replication_queue", 0}}},
            {"safe_mode", false},
            {"chunk_size", options_.chunk_size},
            {"replication", 3}});
}

void FakeGateway::HandleUsage(const httplib::Request& req,
                              httplib::Response& res) {
  Record(req, {});
  if (TakeFailure(res)) return;
  const std::string& path = Param(req, "path");
  if (!CheckPath(path, res)) return;
  absl::MutexLock lock(&mu_);
  if (dirs_.count(path) == 0) {
    return SendError(res, absl::NotFoundError("no such directory: " + path));
  }
  json children = json::array();
  auto child_of = [&](const std::string& p) { return IsUnder(p, path) && Parent(p) == path; };
  std::set<std::string> names;
  for (const std::string& d : dirs_) {
    if (child_of(d)) names.insert(d);
  }
  for (const auto& [p, file] : files_) {
    if (child_of(p)) names.insert(p);
  }
  for (const std::string& child : names) {
    uint64_t files = 0;
    uint64_t bytes = 0;
    for (const auto& [p, file] : files_) {
      if (p == child || IsUnder(p, child)) {
        ++files;
        bytes += file.content.size();
      }
    }
    children.push_back({{"name", std::string(BaseName(child))},
                        {"type", dirs_.count(child) > 0 ? "dir" : "file"},
                        {"files", files}, {"bytes", bytes}});
  }
  SendJson(res, 200, {{"path", path}, {"children", std::move(children)}});
}

}  // namespace cairn::client::testing

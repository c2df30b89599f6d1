// /api/v1/list, /mkdir, /rename, /fileinfo, /usage.
#include "common/path.h"
#include "common/status.h"
#include "common/strings.h"
#include "gateway/http_util.h"
#include "gateway/routes.h"

namespace cairn::gateway {
namespace {

// Largest listing answered in one response; beyond it the reply says
// "truncated" and gives "next_start_after" for the next page.
constexpr size_t kMaxListEntries = 100000;

absl::StatusOr<nlohmann::json> ParseBody(const HttpRequest& req) {
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return absl::InvalidArgumentError("request body must be a JSON object");
  }
  return body;
}

absl::StatusOr<std::string> StringField(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    return absl::InvalidArgumentError(cairn::StrCat("field '", name, "' must be a string"));
  }
  return it->get<std::string>();
}

void HandleList(GatewayContext* ctx, const HttpRequest& req, HttpResponse& res) {
  auto path = PathFromParam(req, "path", /*required=*/false);
  if (!path.ok()) return SetApiError(res, path.status());
  std::string recursive = req.param("recursive");
  size_t limit = kMaxListEntries;
  if (req.has_param("limit")) {
    try {
      limit = std::stoul(req.param("limit"));
    } catch (...) {
      return SetApiError(res, absl::InvalidArgumentError("limit must be a number"));
    }
    limit = std::clamp<size_t>(limit, 1, kMaxListEntries);
  }
  ListRequest lreq;
  lreq.set_path(*path);
  lreq.set_recursive(recursive == "true" || recursive == "1");
  // A full path (as next_start_after gives it), or empty: from the start.
  std::string start_after = req.param("start_after");
  if (!start_after.empty()) {
    if (absl::Status s = ValidatePath(start_after); !s.ok()) {
      return SetApiError(res, Annotate(s, "start_after"));
    }
  }
  lreq.set_start_after(start_after);
  nlohmann::json entries = nlohmann::json::array();
  bool truncated = false;
  std::string last;
  while (true) {
    lreq.set_limit(static_cast<uint32_t>(std::min<size_t>(limit - entries.size(), 1000)));
    ListReply reply;
    absl::Status s = FromGrpcStatus(ctx->master->Unary(&Master::StubInterface::List, lreq, &reply));
    if (!s.ok()) return SetApiError(res, s);
    for (const Entry& e : reply.entries()) {
      entries.push_back(EntryJson(e));
      last = e.path();
    }
    if (!reply.truncated()) break;
    if (entries.size() >= limit) {
      truncated = true;
      break;
    }
    lreq.set_start_after(last);
  }
  nlohmann::json body = {{"path", *path}, {"entries", entries}, {"truncated", truncated}};
  if (truncated) body["next_start_after"] = last;
  SetJson(res, body);
}

void HandleMkdir(GatewayContext* ctx, const HttpRequest& req, HttpResponse& res) {
  auto body = ParseBody(req);
  if (!body.ok()) return SetApiError(res, body.status());
  auto path = StringField(*body, "path");
  if (!path.ok()) return SetApiError(res, path.status());
  MkdirRequest mreq;
  mreq.set_path(*path);
  MkdirReply reply;
  absl::Status s = FromGrpcStatus(ctx->master->Unary(&Master::StubInterface::Mkdir, mreq, &reply));
  if (!s.ok()) return SetApiError(res, s);
  SetJson(res, EntryJson(reply.entry()), 201);
}

void HandleRename(GatewayContext* ctx, const HttpRequest& req, HttpResponse& res) {
  auto body = ParseBody(req);
  if (!body.ok()) return SetApiError(res, body.status());
  auto source = StringField(*body, "source");
  if (!source.ok()) return SetApiError(res, source.status());
  auto target = StringField(*body, "target");
  if (!target.ok()) return SetApiError(res, target.status());
  RenameRequest rreq;
  rreq.set_source(*source);
  rreq.set_target(*target);
  RenameReply reply;
  absl::Status s = FromGrpcStatus(ctx->master->Unary(&Master::StubInterface::Rename, rreq, &reply));
  if (!s.ok()) return SetApiError(res, s);
  SetJson(res, {{"source", *source}, {"target", *target}});
}

void HandleFileInfo(GatewayContext* ctx, const HttpRequest& req, HttpResponse& res) {
  auto path = PathFromParam(req, "path");
  if (!path.ok()) return SetApiError(res, path.status());
  LookupRequest lreq;
  lreq.set_path(*path);
  LookupReply reply;
  absl::Status s = FromGrpcStatus(ctx->master->Unary(&Master::StubInterface::Lookup, lreq, &reply));
  if (!s.ok()) return SetApiError(res, s);
  nlohmann::json j = EntryJson(reply.entry());
  if (reply.entry().type() == Entry::FILE) {
    // One element per extent (for whole-chunk files, per chunk).
    nlohmann::json chunks = nlohmann::json::array();
    const auto& refs = reply.entry().file().extents();
    for (int i = 0; i < refs.size(); ++i) {
      nlohmann::json replicas = nlohmann::json::array();
      uint32_t chunk_crc = 0;
      if (i < reply.locations_size()) {
        chunk_crc = reply.locations(i).chunk_crc32c();
        for (const NodeAddress& r : reply.locations(i).replicas()) {
          replicas.push_back(
              {{"node_id", r.node_id()}, {"address", r.address()}, {"zone", r.zone()}});
        }
      }
      chunks.push_back({{"index", i},
                        {"handle", refs[i].handle()},
                        {"version", refs[i].version()},
                        {"offset", refs[i].offset()},
                        {"size", refs[i].length()},
                        {"crc32c", chunk_crc},  // of the whole chunk
                        {"replicas", replicas}});
    }
    j["chunks"] = chunks;
  }
  SetJson(res, j);
}

void HandleUsage(GatewayContext* ctx, const HttpRequest& req, HttpResponse& res) {
  auto path = PathFromParam(req, "path", /*required=*/false);
  if (!path.ok()) return SetApiError(res, path.status());
  UsageRequest ureq;
  ureq.set_path(*path);
  UsageReply reply;
  absl::Status s = FromGrpcStatus(ctx->master->Unary(&Master::StubInterface::Usage, ureq, &reply));
  if (!s.ok()) return SetApiError(res, s);
  nlohmann::json children = nlohmann::json::array();
  for (const auto& c : reply.children()) {
    children.push_back({{"name", c.name()},
                        {"type", c.is_dir() ? "dir" : "file"},
                        {"files", c.files()},
                        {"bytes", c.bytes()}});
  }
  SetJson(res, {{"path", *path},
                {"files", reply.files()},
                {"bytes", reply.bytes()},
                {"children", children}});
}

}  // namespace

void RegisterNamespaceRoutes(HttpServer& http, GatewayContext* ctx) {
  auto bind = [ctx](void (*fn)(GatewayContext*, const HttpRequest&, HttpResponse&)) {
    return [ctx, fn](const HttpRequest& req, HttpResponse& res) { fn(ctx, req, res); };
  };
  http.Get("/api/v1/list", bind(HandleList));
  http.Post("/api/v1/mkdir", bind(HandleMkdir));
  http.Post("/api/v1/rename", bind(HandleRename));
  http.Get("/api/v1/fileinfo", bind(HandleFileInfo));
  http.Get("/api/v1/usage", bind(HandleUsage));
}

}  // namespace cairn::gateway

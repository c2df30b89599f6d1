#include "master/master_server.h"

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/http_server.h"
#include "common/status.h"
#include "common/strings.h"
#include "nlohmann/json.hpp"

namespace cairn::master {
absl::StatusOr<std::unique_ptr<MasterServer>> MasterServer::Start(
    const MasterServerOptions& options, Clock* clock) {
  auto s = std::unique_ptr<MasterServer>(new MasterServer());
  ASSIGN_OR_RETURN(s->master_, Master::Open(options.master, clock));
  s->service_ = std::make_unique<MasterService>(s->master_.get());
  ASSIGN_OR_RETURN(s->grpc_,
                   StartGrpcServer(options.listen, {s->service_.get()}, options.announce));
  Master* m = s->master_.get();
  HttpServer& http = s->http_;
  AddStatusRoutes(
      http,
      [m]() -> absl::Status {
        if (m->InSafeMode()) return absl::UnavailableError("safe mode");
        return absl::OkStatus();
      },
      m->metrics());
  std::string root = options.master.root_dir;
  http.Post("/admin/checkpoint", [m, root](const HttpRequest& req, HttpResponse& res) {
    std::string name = absl::FormatTime("%Y%m%dT%H%M%S", absl::Now(), absl::UTCTimeZone());
    std::string dir = cairn::StrCat(root, "/checkpoints/", name);
    std::filesystem::create_directories(root + "/checkpoints");
    absl::Status st = m->Checkpoint(dir, absl::Minutes(30));
    if (!st.ok()) return SetApiError(res, st);
    nlohmann::json j = {{"path", dir}, {"name", name}};
    res.set_content(j.dump() + "\n", "application/json");
  });
  http.Post("/admin/drain", [m](const HttpRequest& req, HttpResponse& res) {
    uint64_t id = 0;
    if (!absl::SimpleAtoi(req.param("node"), &id)) {
      return SetApiError(res, absl::InvalidArgumentError("want ?node=ID"));
    }
    if (absl::Status st = m->Drain(id); !st.ok()) return SetApiError(res, st);
    nlohmann::json j = {{"node", id}, {"state", "draining"}};
    res.set_content(j.dump() + "\n", "application/json");
  });
  http.Post("/admin/gc/resume", [m](const HttpRequest&, HttpResponse& res) {
    m->ResumeGc();
    res.set_content("{\"gc\":\"resumed\"}\n", "application/json");
  });
  ASSIGN_OR_RETURN(HostPort hp, s->http_.Start(options.http_listen, options.announce));
  s->http_port_ = hp.port;
  m->Start();
  return s;
}

MasterServer::~MasterServer() { Shutdown(); }

void MasterServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  http_.Stop();
  // After a failed Start(), only some parts exist.
  if (grpc_.server) {
    grpc_.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  if (master_) master_->Stop();
}

}  // namespace cairn::master

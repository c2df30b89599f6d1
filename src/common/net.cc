#include "common/net.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "common/strings.h"

namespace cairn {

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) {
  HostPort hp;
  std::string_view port_text;
  if (text.starts_with("[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(cairn::StrCat("bad address '", text, "'"));
    }
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      hp.host = "0.0.0.0";
      port_text = text;
    } else {
      hp.host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
    }
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  if (!absl::SimpleAtoi(ToAbsl(port_text), &hp.port) || hp.port < 0 || hp.port > 65535) {
    return absl::InvalidArgumentError(cairn::StrCat("bad port in address '", text, "'"));
  }
  return hp;
}

absl::StatusOr<GrpcServer> StartGrpcServer(std::string_view listen,
                                           const std::vector<grpc::Service*>& services,
                                           bool announce) {
  auto hp = ParseHostPort(listen);
  if (!hp.ok()) return hp.status();
  grpc::ServerBuilder builder;
  int selected = 0;
  std::string host = hp->host.find(':') != std::string::npos ? "[" + hp->host + "]" : hp->host;
  builder.AddListeningPort(cairn::StrCat(host, ":", hp->port), grpc::InsecureServerCredentials(),
                           &selected);
  builder.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  for (grpc::Service* s : services) builder.RegisterService(s);
  GrpcServer out;
  out.server = builder.BuildAndStart();
  if (out.server == nullptr || selected == 0) {
    return absl::UnavailableError(cairn::StrCat("cannot listen on ", listen));
  }
  out.bound = HostPort{hp->host, selected};
  if (announce) AnnounceListening("grpc", hp->host, selected);
  return out;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  // Fail fast on a dead peer instead of waiting through long reconnect backoff.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

HttpServer::HttpServer() : server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<HostPort> HttpServer::Start(std::string_view listen, bool announce) {
  auto hp = ParseHostPort(listen);
  if (!hp.ok()) return hp.status();
  int port = hp->port;
  if (port == 0) {
    port = server_->bind_to_any_port(hp->host);
    if (port < 0) return absl::UnavailableError(cairn::StrCat("cannot listen on ", listen));
  } else if (!server_->bind_to_port(hp->host, port)) {
    return absl::UnavailableError(cairn::StrCat("cannot listen on ", listen));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (announce) AnnounceListening("http", hp->host, port);
  return HostPort{hp->host, port};
}

void HttpServer::Stop() {
  if (thread_.joinable()) {
    server_->stop();
    thread_.join();
  }
}

void AddStatusRoutes(httplib::Server& server, std::function<absl::Status()> ready,
                     Metrics* metrics) {
  AddStatusRoutes(
      [&server](const std::string& pattern, httplib::Server::Handler handler) {
        server.Get(pattern, std::move(handler));
      },
      std::move(ready), metrics);
}

void AddStatusRoutes(const AddGetRoute& add_get, std::function<absl::Status()> ready,
                     Metrics* metrics) {
  add_get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}\n", "application/json");
  });
  add_get("/ready", [ready](const httplib::Request&, httplib::Response& res) {
    absl::Status s = ready();
    if (s.ok()) {
      res.set_content("{\"status\":\"ready\"}\n", "application/json");
    } else {
      res.status = 503;
      res.set_content(cairn::StrCat("{\"status\":\"not ready\",\"reason\":\"",
                                    EscapeLabel(ToStd(s.message())), "\"}\n"),
                      "application/json");
    }
  });
  add_get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics->Render(), "text/plain; version=0.0.4");
  });
}

}  // namespace cairn

// cairn-gateway: the HTTP front end (REST API, dashboard, metrics).
#include <csignal>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/units.h"
#include "gateway/gateway_server.h"

int main(int argc, char** argv) {
  CLI::App app{"cairn-gateway: REST API, dashboard and metrics"};
  cairn::gateway::GatewayOptions opts;
  std::string log_level = "info";
  // SERVER_ADDRESS and GATEWAY_ADDR (which may be a bare port) both set --listen.
  if (const char* g = std::getenv("GATEWAY_ADDR"); g != nullptr && *g != '\0') opts.listen = g;
  app.add_option("--listen", opts.listen, "HTTP listen address host:port (or a bare port)")
      ->envname("SERVER_ADDRESS")
      ->capture_default_str();
  app.add_option("--master", opts.master, "master gRPC address host:port")
      ->envname("MASTER_ADDR")
      ->capture_default_str();
  app.add_option("--threads", opts.threads, "concurrent requests served")
      ->envname("GATEWAY_THREADS")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  std::string max_json_body = "64KiB", read_stall = "4s";
  app.add_option("--max_json_body", max_json_body, "largest body of a JSON route (mkdir, rename)")
      ->envname("MAX_JSON_BODY")
      ->capture_default_str();
  app.add_option("--read_stall_timeout", read_stall,
                 "a chunk read blocked this long moves to the next replica")
      ->envname("READ_STALL_TIMEOUT")
      ->capture_default_str();
  app.add_option("--log_level", log_level, "debug, info, warn or error")
      ->envname("LOG_LEVEL")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  cairn::TuneDaemonProcess();
  auto fail = [](const absl::Status& s) {
    std::cerr << "cairn-gateway: " << s.message() << "\n";
    return 2;
  };
  if (auto s = cairn::InitLogging(log_level); !s.ok()) return fail(s);
  auto json_limit = cairn::ParseBytes(max_json_body);
  if (!json_limit.ok()) return fail(json_limit.status());
  opts.max_json_body = *json_limit;
  // The pipeline's write and sync stall timeouts stay at their defaults: they
  // must be the chunkservers' too, for each node to give up in turn.
  auto stall = cairn::ParseDurationFlag(read_stall);
  if (!stall.ok()) return fail(stall.status());
  if (*stall <= absl::ZeroDuration()) {
    return fail(absl::InvalidArgumentError("read_stall_timeout must be positive"));
  }
  opts.stall.read = *stall;
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto server = cairn::gateway::GatewayServer::Start(opts);
  if (!server.ok()) return fail(server.status());
  spdlog::info("gateway up on port {}, master {}", (*server)->port(), opts.master);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*server)->Shutdown();
  return 0;
}

// cairn-gateway: the HTTP front end (REST API, dashboard, metrics).
#include <csignal>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/process.h"
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
  app.add_option("--log_level", log_level, "debug, info, warn or error")
      ->envname("LOG_LEVEL")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  cairn::TuneDaemonProcess();
  if (auto s = cairn::InitLogging(log_level); !s.ok()) {
    std::cerr << "cairn-gateway: " << s.message() << "\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto server = cairn::gateway::GatewayServer::Start(opts);
  if (!server.ok()) {
    std::cerr << "cairn-gateway: " << server.status().message() << "\n";
    return 2;
  }
  spdlog::info("gateway up on port {}, master {}", (*server)->port(), opts.master);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*server)->Shutdown();
  return 0;
}

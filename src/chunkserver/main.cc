// cairn-chunkserver: stores chunk replicas under its root dir.
#include <csignal>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "chunkserver/chunkserver_server.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/units.h"

int main(int argc, char** argv) {
  CLI::App app{"cairn-chunkserver: stores chunk replicas"};
  cairn::chunkserver::ChunkserverOptions opts;
  opts.root_dir = "/data/chunkserver";
  std::string log_level = "info", heartbeat = "2s", repair_bw = "0", scrub_bw = "32MiB",
              scrub_pause = "1m", capacity = "0";
  app.add_option("--listen", opts.listen, "gRPC listen address host:port")
      ->envname("SERVER_ADDRESS")
      ->capture_default_str();
  app.add_option("--http_listen", opts.http_listen, "HTTP status address host:port")
      ->envname("HTTP_ADDRESS")
      ->capture_default_str();
  app.add_option("--master", opts.master, "master gRPC address host:port")
      ->envname("MASTER_ADDR")
      ->capture_default_str();
  app.add_option("--root_dir", opts.root_dir, "data directory")
      ->envname("ROOT_DIR")
      ->capture_default_str();
  app.add_option("--advertise", opts.advertise, "address others use to reach this node")
      ->envname("ADVERTISE_ADDRESS");
  app.add_option("--zone", opts.zone, "failure domain")->envname("ZONE")->capture_default_str();
  app.add_option("--heartbeat_interval", heartbeat, "time between heartbeats")
      ->envname("HEARTBEAT_INTERVAL")
      ->capture_default_str();
  app.add_option("--log_level", log_level, "debug, info, warn or error")
      ->envname("LOG_LEVEL")
      ->capture_default_str();
  app.add_option("--capacity", capacity, "bytes this node may use, e.g. 100GiB (0: the whole disk)")
      ->envname("CAPACITY")
      ->capture_default_str();
  app.add_option("--repair_bandwidth", repair_bw, "bytes/s for repair copies (0: unlimited)")
      ->envname("REPAIR_BANDWIDTH")
      ->capture_default_str();
  app.add_option("--scrub_bandwidth", scrub_bw, "bytes/s the scrubber re-verifies (0: off)")
      ->envname("SCRUB_BANDWIDTH")
      ->capture_default_str();
  app.add_option("--scrub_pause", scrub_pause, "pause between full scrub passes")
      ->envname("SCRUB_PAUSE")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  cairn::TuneDaemonProcess();

  auto fail = [](const absl::Status& s) {
    std::cerr << "cairn-chunkserver: " << s.message() << "\n";
    return 2;
  };
  if (auto s = cairn::InitLogging(log_level); !s.ok()) return fail(s);
  auto interval = cairn::ParseDurationFlag(heartbeat);
  if (!interval.ok()) return fail(interval.status());
  if (*interval <= absl::ZeroDuration()) {
    return fail(absl::InvalidArgumentError("heartbeat_interval must be positive"));
  }
  opts.heartbeat_interval = *interval;
  auto cap = cairn::ParseBytes(capacity.empty() ? "0" : capacity);
  if (!cap.ok()) return fail(cap.status());
  opts.capacity = *cap;
  auto rbw = cairn::ParseBytes(repair_bw);
  if (!rbw.ok()) return fail(rbw.status());
  auto sbw = cairn::ParseBytes(scrub_bw);
  if (!sbw.ok()) return fail(sbw.status());
  auto pause = cairn::ParseDurationFlag(scrub_pause);
  if (!pause.ok()) return fail(pause.status());
  opts.repair_bandwidth = *rbw;
  opts.scrub_bandwidth = *sbw;
  opts.scrub_pause = *pause;

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto server = cairn::chunkserver::ChunkserverServer::Start(opts, cairn::FileSystem::Posix(),
                                                             cairn::Clock::Real());
  if (!server.ok()) return fail(server.status());
  spdlog::info("chunkserver up: {} zone {} master {}", (*server)->grpc_address(), opts.zone,
               opts.master);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*server)->Shutdown();
  return 0;
}

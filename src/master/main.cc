// cairn-master: namespace and chunk metadata server.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/units.h"
#include "master/master_server.h"

int main(int argc, char** argv) {
  CLI::App app{"cairn-master: namespace and chunk metadata server"};
  cairn::master::MasterServerOptions opts;
  std::string log_level = "info", chunk_size = "64MiB", stale_after = "6s", dead_after = "30s",
              gc_grace = "30s", compaction_interval = "1m";
  double compaction_threshold = 0.5;
  std::string root_dir = "/data/master";
  uint32_t replication = 3;
  app.add_option("--listen", opts.listen, "gRPC listen address host:port")
      ->envname("SERVER_ADDRESS")
      ->capture_default_str();
  app.add_option("--http_listen", opts.http_listen, "HTTP status address host:port")
      ->envname("HTTP_ADDRESS")
      ->capture_default_str();
  app.add_option("--root_dir", root_dir, "data directory")
      ->envname("ROOT_DIR")
      ->capture_default_str();
  app.add_option("--log_level", log_level, "debug, info, warn or error")
      ->envname("LOG_LEVEL")
      ->capture_default_str();
  app.add_option("--chunk_size", chunk_size, "bytes per chunk (KiB/MiB suffixes)")
      ->envname("CHUNK_SIZE")
      ->capture_default_str();
  app.add_option("--replication", replication, "default replica count")
      ->envname("REPLICATION")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  app.add_option("--stale_after", stale_after, "silence after which a node is stale")
      ->envname("STALE_AFTER")
      ->capture_default_str();
  app.add_option("--dead_after", dead_after, "silence after which a node is dead")
      ->envname("DEAD_AFTER")
      ->capture_default_str();
  app.add_option("--gc_grace", gc_grace,
                 "how long replicas of deleted or replaced files are kept for readers")
      ->envname("GC_GRACE")
      ->capture_default_str();
  app.add_option("--compaction_threshold", compaction_threshold,
                 "compact a pack chunk of small files once its live bytes fall below this "
                 "fraction of it (0: never)")
      ->envname("COMPACTION_THRESHOLD")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99));
  app.add_option("--compaction_interval", compaction_interval,
                 "how often the metadata is scanned for pack chunks to compact")
      ->envname("COMPACTION_INTERVAL")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  cairn::TuneDaemonProcess();

  auto fail = [](const absl::Status& s) {
    std::cerr << "cairn-master: " << s.message() << "\n";
    return 2;
  };
  if (auto s = cairn::InitLogging(log_level); !s.ok()) return fail(s);
  auto cs = cairn::ParseBytes(chunk_size);
  if (!cs.ok()) return fail(cs.status());
  if (*cs == 0 || *cs > (uint64_t{1} << 30)) {
    return fail(absl::InvalidArgumentError("chunk_size must be between 1 byte and 1 GiB"));
  }
  auto stale = cairn::ParseDurationFlag(stale_after);
  if (!stale.ok()) return fail(stale.status());
  auto dead = cairn::ParseDurationFlag(dead_after);
  if (!dead.ok()) return fail(dead.status());
  // Master::Open checks the options together (dead_after > stale_after, ...).
  auto grace = cairn::ParseDurationFlag(gc_grace);
  if (!grace.ok()) return fail(grace.status());
  opts.master.gc_grace = *grace;
  auto compaction_every = cairn::ParseDurationFlag(compaction_interval);
  if (!compaction_every.ok()) return fail(compaction_every.status());
  opts.master.compaction_interval = *compaction_every;
  opts.master.compaction_threshold = compaction_threshold;
  opts.master.root_dir = root_dir;
  opts.master.chunk_size = *cs;
  opts.master.replication = replication;
  opts.master.stale_after = *stale;
  opts.master.dead_after = *dead;

  // Block the signals before any thread starts, then wait for them here.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto server = cairn::master::MasterServer::Start(opts, cairn::Clock::Real());
  if (!server.ok()) return fail(server.status());
  spdlog::info("master up: grpc {} chunk_size {} replication {}", (*server)->grpc_address(), *cs,
               replication);
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: shutting down", sig);
  (*server)->Shutdown();
  return 0;
}

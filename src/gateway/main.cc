// cairn-gateway: the HTTP front end (REST API, dashboard, metrics).
#include <csignal>
#include <iostream>
#include <tuple>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/strings.h"
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
  cairn::HttpServerOptions& http = opts.http;
  app.add_option("--threads", http.worker_threads, "requests served at once (more wait)")
      ->envname("GATEWAY_THREADS")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--io_threads", http.io_threads, "threads holding connections")
      ->envname("GATEWAY_IO_THREADS")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--max_connections", http.max_connections,
                 "client connections held open; beyond them 503")
      ->envname("MAX_CONNECTIONS")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  std::string max_json_body = "64KiB", max_header = "16KiB", read_stall = "4s";
  std::string header_timeout = "10s", idle_timeout = "60s";
  app.add_option("--max_json_body", max_json_body, "largest body of a JSON route (mkdir, rename)")
      ->envname("MAX_JSON_BODY")
      ->capture_default_str();
  app.add_option("--max_header_bytes", max_header, "largest request header; beyond it 431")
      ->envname("MAX_HEADER_BYTES")
      ->capture_default_str();
  app.add_option("--header_timeout", header_timeout,
                 "a request header not whole this long after its first byte closes the connection")
      ->envname("HEADER_TIMEOUT")
      ->capture_default_str();
  app.add_option("--idle_timeout", idle_timeout,
                 "a connection silent this long (no request, no body byte, reply not read) closes")
      ->envname("IDLE_TIMEOUT")
      ->capture_default_str();
  app.add_option("--read_stall_timeout", read_stall,
                 "a chunk read blocked this long moves to the next replica")
      ->envname("READ_STALL_TIMEOUT")
      ->capture_default_str();
  std::string small_file_max = "256KiB";
  app.add_option("--small_file_max", small_file_max,
                 "uploads up to this size share pack chunks, many per fsync (0: never)")
      ->envname("SMALL_FILE_MAX")
      ->capture_default_str();
  app.add_option("--pack_writers", opts.pack.writers,
                 "pack chunks of small files in flight at once")
      ->envname("PACK_WRITERS")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  std::string compaction_interval = "30s", compaction_rate = "32MiB";
  app.add_option("--compaction_interval", compaction_interval,
                 "how often to ask the master for a pack chunk to compact (0: never)")
      ->envname("COMPACTION_INTERVAL")
      ->capture_default_str();
  app.add_option("--compaction_rate", compaction_rate,
                 "bytes per second compaction may read and write (0: unlimited)")
      ->envname("COMPACTION_RATE")
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
  for (auto [text, out, name] :
       {std::tuple{&max_json_body, &http.max_body_bytes, "max_json_body"},
        std::tuple{&max_header, &http.max_header_bytes, "max_header_bytes"}}) {
    auto bytes = cairn::ParseBytes(*text);
    if (!bytes.ok()) return fail(bytes.status());
    if (*bytes == 0 || *bytes > (uint64_t{1} << 30)) {
      return fail(absl::InvalidArgumentError(cairn::StrCat(name, " must be 1 B to 1 GiB")));
    }
    *out = *bytes;
  }
  for (auto [text, out, name] :
       {std::tuple{&header_timeout, &http.header_timeout, "header_timeout"},
        std::tuple{&idle_timeout, &http.idle_timeout, "idle_timeout"}}) {
    auto d = cairn::ParseDurationFlag(*text);
    if (!d.ok()) return fail(d.status());
    if (*d <= absl::ZeroDuration()) {
      return fail(absl::InvalidArgumentError(cairn::StrCat(name, " must be positive")));
    }
    *out = *d;
  }
  auto small = cairn::ParseBytes(small_file_max);
  if (!small.ok()) return fail(small.status());
  if (*small > opts.pack.max_batch_bytes) {
    return fail(absl::InvalidArgumentError(cairn::StrCat(
        "small_file_max must be at most ", opts.pack.max_batch_bytes, " bytes (a pack batch)")));
  }
  opts.small_file_max = *small;
  auto compaction_every = cairn::ParseDurationFlag(compaction_interval);
  if (!compaction_every.ok()) return fail(compaction_every.status());
  if (*compaction_every < absl::ZeroDuration()) {
    return fail(absl::InvalidArgumentError("compaction_interval must not be negative"));
  }
  opts.compaction.interval = *compaction_every;
  auto rate = cairn::ParseBytes(compaction_rate);
  if (!rate.ok()) return fail(rate.status());
  opts.compaction.rate_bytes = *rate;
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

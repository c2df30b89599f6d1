// cairn-loadgen: small-file load against a Cairn gateway.
//
// --clients threads, each with one keep-alive HTTP connection (httplib
// reconnects when the server closes it; `connections` counts the TCP
// connections opened), run --op put|get for --seconds. PUT writes
// PREFIX/c<client>/<n> for n = 0, 1, ... and reports, per client, how many
// files it wrote before its first error (`written`). GET reads what such a PUT
// run wrote: pass its `written` list as --files (comma-separated); GET client c
// reads, round robin over the writers with files, PREFIX/c<k>/<m>, m < files[k].
//
// Prints one JSON object on stdout: ops, ops/s, MiB/s, latency percentiles in
// milliseconds, errors and the first error seen.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <latch>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench_util.h"
#include "nlohmann/json.hpp"

namespace {

using cairn::bench::Clock;
using cairn::bench::Percentile;

struct ClientResult {
  std::vector<double> latencies_ms;
  uint64_t ok = 0;
  uint64_t written = 0;  // PUT: files 0..written-1 exist
  uint64_t errors = 0;
  uint64_t bytes = 0;
  std::string first_error;
};

std::vector<char> RandomBytes(size_t n, uint64_t seed) {
  std::vector<char> out(n + 8);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(out.data() + i, &v, 8);
  }
  out.resize(n);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn-loadgen: concurrent small-file PUT/GET against a gateway"};
  std::string gateway = "127.0.0.1:8089", op = "put", prefix = "/bench/small";
  size_t size = 4096;
  int clients = 16;
  double seconds = 10;
  std::string files_arg;
  uint64_t max_ops = 0;
  app.add_option("--gateway", gateway, "gateway host:port");
  app.add_option("--op", op, "put or get")->check(CLI::IsMember({"put", "get"}));
  app.add_option("--size", size, "bytes per file (put)");
  app.add_option("--clients", clients, "concurrent clients, one connection each")
      ->check(CLI::Range(1, 1024));
  app.add_option("--seconds", seconds, "how long to run");
  app.add_option("--max_ops", max_ops, "stop a client after this many operations (0: no limit)");
  app.add_option("--prefix", prefix, "directory of the files");
  app.add_option("--files", files_arg, "get: files each PUT client wrote, comma-separated");
  CLI11_PARSE(app, argc, argv);
  // GET: the (writer, file count) pairs with files to read.
  std::vector<std::pair<size_t, uint64_t>> sources;
  if (op == "get") {
    std::stringstream in(files_arg);
    std::string item;
    for (size_t k = 0; std::getline(in, item, ','); ++k) {
      uint64_t n = std::stoull(item);
      if (n > 0) sources.emplace_back(k, n);
    }
    if (sources.empty()) {
      std::cerr << "cairn-loadgen: --op get needs --files with a count > 0\n";
      return 2;
    }
  }
  auto colon = gateway.rfind(':');
  std::string host = gateway.substr(0, colon);
  int port = std::stoi(gateway.substr(colon + 1));

  std::vector<ClientResult> results(clients);
  std::atomic<uint64_t> connections{0};
  std::latch go(1);  // opened once `deadline` is set
  Clock::time_point deadline;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ClientResult& r = results[c];
      httplib::Client cli(host, port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      cli.set_connection_timeout(10, 0);
      cli.set_read_timeout(60, 0);
      cli.set_write_timeout(60, 0);
      cli.set_socket_options([&](socket_t) { ++connections; });
      std::vector<char> body = op == "put" ? RandomBytes(size, c + 1) : std::vector<char>();
      std::string dir = prefix + "/c" + std::to_string(c) + "/";
      go.wait();
      for (uint64_t n = 0; Clock::now() < deadline && (max_ops == 0 || n < max_ops); ++n) {
        auto t0 = Clock::now();
        uint64_t got = 0;
        httplib::Result res = [&] {
          if (op == "put") {
            // Make each file's content distinct.
            std::memcpy(body.data(), &n, std::min(sizeof(n), body.size()));
            got = body.size();
            return cli.Put(("/api/v1/files" + dir + std::to_string(n)).c_str(), body.data(),
                           body.size(), "application/octet-stream");
          }
          const auto& [writer, count] = sources[(c + n) % sources.size()];
          std::string path = "/api/v1/files" + prefix + "/c" + std::to_string(writer) + "/" +
                             std::to_string((n / sources.size()) % count);
          return cli.Get(path.c_str(), [&](const char*, size_t len) {
            got += len;
            return true;
          });
        }();
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        bool ok = res && res->status / 100 == 2;
        if (ok) {
          if (r.errors == 0) ++r.written;
          ++r.ok;
          r.bytes += got;
          r.latencies_ms.push_back(ms);
        } else {
          ++r.errors;
          if (r.first_error.empty()) {
            r.first_error =
                res ? "HTTP " + std::to_string(res->status) + " " + res->body.substr(0, 200)
                    : "transport: " + httplib::to_string(res.error());
          }
        }
      }
    });
  }
  double elapsed = cairn::bench::RunUntilDeadline(seconds, &deadline, &go, &threads);

  std::vector<double> all;
  uint64_t ok = 0, errors = 0, bytes = 0;
  std::vector<uint64_t> written;
  std::string first_error;
  for (const ClientResult& r : results) {
    all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    ok += r.ok;
    errors += r.errors;
    bytes += r.bytes;
    written.push_back(r.written);
    if (first_error.empty()) first_error = r.first_error;
  }
  std::sort(all.begin(), all.end());
  nlohmann::json j;
  j["op"] = op;
  j["size"] = op == "put" ? size : (ok ? bytes / ok : 0);
  j["clients"] = clients;
  j["seconds"] = elapsed;
  j["ops"] = ok;
  j["errors"] = errors;
  j["ops_per_s"] = ok / elapsed;
  j["mib_s"] = bytes / double(1 << 20) / elapsed;
  j["p50_ms"] = Percentile(all, 0.50);
  j["p90_ms"] = Percentile(all, 0.90);
  j["p99_ms"] = Percentile(all, 0.99);
  j["max_ms"] = all.empty() ? 0 : all.back();
  j["connections"] = connections.load();
  if (op == "put") j["written"] = written;
  if (!first_error.empty()) j["first_error"] = first_error;
  std::cout << j.dump() << std::endl;
  return 0;
}

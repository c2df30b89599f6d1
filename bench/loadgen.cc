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
// milliseconds, the fewest and most operations one client completed, errors and
// the first error seen.
//
// --op idle opens --clients connections from one thread, sends GET /health on
// each and reads the reply (so each is a keep-alive connection that has served
// a request), and prints {"ready": true, ...} once every one is answered or
// --prime_seconds passed. It then holds them, sending nothing, until its stdin
// reaches its end (bench.py closes it; `</dev/null` ends at once) or --seconds
// pass, and prints the final counts: how many are still open, how many the
// server closed and after how long idle. Raises RLIMIT_NOFILE as needed.
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
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

// One idle connection of --op idle.
struct IdleConn {
  enum State { kConnecting, kWaiting, kIdle, kFailed, kClosed };
  int fd = -1;
  State state = kConnecting;
  std::string in;  // the reply so far
  Clock::time_point idle_since;
};

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Advances `c` on a poll event. Returns an error text when it failed.
std::string Step(IdleConn& c, const std::string& request) {
  if (c.state == IdleConn::kConnecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return std::string("connect: ") + std::strerror(err);
    if (::send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      return std::string("send: ") + std::strerror(errno);
    }
    c.state = IdleConn::kWaiting;
    return "";
  }
  char buf[4096];
  ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return "";
  if (n <= 0) {
    if (c.state == IdleConn::kIdle) {
      c.state = IdleConn::kClosed;  // by the server
      return "";
    }
    return n == 0 ? "closed before the reply" : std::string("recv: ") + std::strerror(errno);
  }
  if (c.state != IdleConn::kWaiting) return "";  // the server's parting words (a 408, say)
  c.in.append(buf, n);
  auto end = c.in.find("\r\n\r\n");
  if (end == std::string::npos) return "";
  std::string head = c.in.substr(0, end);
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  size_t body = 0;
  if (auto at = head.find("\r\ncontent-length:"); at != std::string::npos) {
    body = std::stoull(head.substr(at + 17));
  }
  if (c.in.size() < end + 4 + body) return "";
  if (c.in.compare(0, 5, "HTTP/") != 0 || c.in.size() < 12 || c.in[9] != '2') {
    return "reply: " + c.in.substr(0, c.in.find('\r'));
  }
  c.in.clear();
  c.state = IdleConn::kIdle;
  c.idle_since = Clock::now();
  return "";
}

int RunIdle(const std::string& host, int port, int n, double prime_seconds, double seconds) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < rlim_t(n) + 64) {
    lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, n + 64);
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
  addrinfo hints{}, *ai = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &ai); rc != 0) {
    std::cerr << "cairn-loadgen: " << host << ": " << gai_strerror(rc) << "\n";
    return 1;
  }
  const std::string request =
      "GET /health HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) + "\r\n\r\n";
  std::vector<IdleConn> conns(n);
  std::string first_error;
  auto fail = [&](IdleConn& c, const std::string& why) {
    c.state = IdleConn::kFailed;
    if (first_error.empty()) first_error = why;
  };
  auto start = Clock::now();
  for (IdleConn& c : conns) {
    c.fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      fail(c, std::string("socket: ") + std::strerror(errno));
    } else if (::connect(c.fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      fail(c, std::string("connect: ") + std::strerror(errno));
    }
  }
  ::freeaddrinfo(ai);
  auto count = [&](IdleConn::State s) {
    return std::count_if(conns.begin(), conns.end(),
                         [s](const IdleConn& c) { return c.state == s; });
  };
  auto summary = [&] {
    nlohmann::json j;
    j["op"] = "idle";
    j["clients"] = n;
    j["answered"] = count(IdleConn::kIdle) + count(IdleConn::kClosed);
    j["unanswered"] = count(IdleConn::kWaiting) + count(IdleConn::kConnecting);
    j["open"] = count(IdleConn::kIdle) + count(IdleConn::kWaiting);
    j["failed"] = count(IdleConn::kFailed);
    j["closed_by_server"] = count(IdleConn::kClosed);
    if (!first_error.empty()) j["first_error"] = first_error;
    return j;
  };
  // Polls every connection still of interest, and stdin while holding, until
  // `until` or, when priming, until no connection waits for its reply.
  std::vector<pollfd> fds;
  std::vector<IdleConn*> of;
  double min_idle_s = -1;  // the shortest idle time after which the server closed one
  auto run = [&](Clock::time_point until, bool holding) {
    while (Clock::now() < until) {
      fds.clear();
      of.clear();
      for (IdleConn& c : conns) {
        if (c.state == IdleConn::kFailed || c.state == IdleConn::kClosed) continue;
        fds.push_back({c.fd, short(c.state == IdleConn::kConnecting ? POLLOUT : POLLIN), 0});
        of.push_back(&c);
      }
      if (!holding && count(IdleConn::kIdle) == static_cast<long>(of.size())) return;
      if (holding) fds.push_back({0, POLLIN, 0});
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      if (::poll(fds.data(), fds.size(), std::min<int64_t>(left.count() + 1, 1000)) < 0) continue;
      for (size_t i = 0; i < of.size(); ++i) {
        if (fds[i].revents == 0) continue;
        IdleConn& c = *of[i];
        if (std::string why = Step(c, request); !why.empty()) fail(c, why);
        if (c.state == IdleConn::kClosed) {
          double idle = SecondsSince(c.idle_since);
          min_idle_s = min_idle_s < 0 ? idle : std::min(min_idle_s, idle);
        }
      }
      char buf[256];
      if (holding && fds.back().revents != 0 && ::read(0, buf, sizeof(buf)) <= 0) return;
    }
  };
  auto seconds_of = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  run(start + seconds_of(prime_seconds), false);
  nlohmann::json ready = summary();
  ready["ready"] = true;
  ready["open_seconds"] = SecondsSince(start);
  std::cout << ready.dump() << std::endl;
  auto hold_start = Clock::now();
  run(hold_start + seconds_of(seconds), true);
  nlohmann::json j = summary();
  j["answered_at_ready"] = ready["answered"];
  j["open_seconds"] = ready["open_seconds"];
  j["held_seconds"] = SecondsSince(hold_start);
  if (min_idle_s >= 0) j["first_close_after_idle_s"] = min_idle_s;
  std::cout << j.dump() << std::endl;
  for (IdleConn& c : conns) {
    if (c.fd >= 0) ::close(c.fd);
  }
  return 0;
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
  double prime_seconds = 10;
  app.add_option("--gateway", gateway, "gateway host:port");
  app.add_option("--op", op, "put, get, or idle (hold connections)")
      ->check(CLI::IsMember({"put", "get", "idle"}));
  app.add_option("--size", size, "bytes per file (put)");
  app.add_option("--clients", clients, "concurrent clients, one connection each")
      ->check(CLI::Range(1, 100000));
  app.add_option("--seconds", seconds, "how long to run (idle: to hold at most)");
  app.add_option("--prime_seconds", prime_seconds,
                 "idle: how long to wait for the connections' first replies");
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
  if (op == "idle") return RunIdle(host, port, clients, prime_seconds, seconds);

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
  uint64_t min_ops = UINT64_MAX, max_ops_done = 0;
  for (const ClientResult& r : results) {
    min_ops = std::min(min_ops, r.ok);
    max_ops_done = std::max(max_ops_done, r.ok);
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
  j["client_ops_min"] = min_ops;
  j["client_ops_max"] = max_ops_done;
  if (op == "put") j["written"] = written;
  if (!first_error.empty()) j["first_error"] = first_error;
  std::cout << j.dump() << std::endl;
  return 0;
}

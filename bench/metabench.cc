// cairn-metabench: metadata operations against a running master over gRPC.
//
// --threads clients, each with its own channel (its own TCP connection), run
// each of --ops for --seconds, in order:
//   mkdir   Mkdir PREFIX/mkdir/t<i>/d<n>
//   create  an empty file: StartUpload + CommitUpload of PREFIX/files/t<i>/f<n>
//           (one op = both RPCs, each commit a synced RocksDB write)
//   lookup  Lookup (stat) of the files `create` made, round robin
//   lookup1 Lookup of files with one chunk (three locations): the PUT files of
//           cairn-loadgen, --chunked_prefix/c<k>/<n> for n < files[k], where
//           --chunked_files is loadgen's `written` list (comma-separated)
//   lookup_pipelined, lookup1_pipelined: the same lookups, each thread keeping
//           --inflight of them in flight on its channel (gRPC's callback API),
//           as a busy gateway does; every other op is one call at a time. With --master_pid, each
//           op also reports the master's CPU seconds and ops per
// master CPU second (what one dedicated core would give).
//
// Prints one JSON object on stdout, one member per op.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench_util.h"
#include "nlohmann/json.hpp"
#include "proto/master.grpc.pb.h"

namespace {

using cairn::bench::Clock;
using cairn::bench::Percentile;
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::unique_ptr<grpc::ClientContext> Call() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

struct Worker {
  std::unique_ptr<cairn::Master::Stub> stub;
  uint64_t created = 0;  // files f0..f<created-1> exist
  std::vector<double> latencies_ms;
  uint64_t ok = 0, errors = 0;
  std::string first_error;

  void Record(const grpc::Status& s, double ms) {
    if (s.ok()) {
      ++ok;
      latencies_ms.push_back(ms);
    } else {
      ++errors;
      if (first_error.empty()) first_error = s.error_message();
    }
  }
};

struct Options {
  std::string prefix;
  std::string chunked_prefix;
  std::vector<std::pair<uint64_t, uint64_t>> chunked;  // (loadgen client, files) with files > 0
};

// The Lookup request of `op` (lookup or lookup1) for worker `i`, iteration `n`.
cairn::LookupRequest LookupOf(const std::string& op, const Options& o, int i, uint64_t n,
                              const Worker& w) {
  cairn::LookupRequest req;
  if (op == "lookup") {
    req.set_path(o.prefix + "/files/t" + std::to_string(i) + "/f" + std::to_string(n % w.created));
  } else {  // lookup1
    const auto& [k, files] = o.chunked[(n + i) % o.chunked.size()];
    uint64_t f = (n / o.chunked.size()) % files;
    req.set_path(o.chunked_prefix + "/c" + std::to_string(k) + "/" + std::to_string(f));
  }
  return req;
}

// One operation of `op` for worker `i`, iteration `n`.
grpc::Status RunOne(const std::string& op, const Options& o, int i, uint64_t n, Worker& w) {
  std::string t = "/t" + std::to_string(i);
  if (op == "mkdir") {
    cairn::MkdirRequest req;
    req.set_path(o.prefix + "/mkdir" + t + "/d" + std::to_string(n));
    cairn::MkdirReply reply;
    return w.stub->Mkdir(Call().get(), req, &reply);
  }
  if (op == "create") {
    cairn::StartUploadRequest sreq;
    sreq.set_path(o.prefix + "/files" + t + "/f" + std::to_string(w.created));
    cairn::StartUploadReply sreply;
    grpc::Status s = w.stub->StartUpload(Call().get(), sreq, &sreply);
    if (!s.ok()) return s;
    cairn::CommitUploadRequest creq;
    creq.set_upload_id(sreply.upload_id());
    creq.set_length(0);
    creq.set_sha256(kEmptySha256);
    cairn::CommitUploadReply creply;
    s = w.stub->CommitUpload(Call().get(), creq, &creply);
    if (s.ok()) ++w.created;
    return s;
  }
  cairn::LookupRequest req = LookupOf(op, o, i, n, w);
  cairn::LookupReply reply;
  return w.stub->Lookup(Call().get(), req, &reply);
}

// Thread i keeps `inflight` lookups going until `deadline`: each completion
// (on a gRPC thread) records its result and starts the next.
void RunLookupsInFlight(const std::string& op, const Options& o, int i, Worker& w, int inflight,
                        Clock::time_point deadline) {
  struct InFlight {
    grpc::ClientContext ctx;
    cairn::LookupRequest req;
    cairn::LookupReply reply;
    Clock::time_point t0;
  };
  std::mutex mu;
  std::condition_variable idle;
  int outstanding = inflight;  // lanes still running; each ends at the deadline
  uint64_t next = 0;
  // Issues one lookup on a lane; its completion records the result and issues
  // the lane's next lookup, or ends the lane once the deadline has passed.
  std::function<void()> issue = [&] {
    auto* c = new InFlight;
    {
      std::lock_guard<std::mutex> lock(mu);
      c->req = LookupOf(op, o, i, next++, w);
    }
    c->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    c->t0 = Clock::now();
    w.stub->async()->Lookup(&c->ctx, &c->req, &c->reply, [&, c](grpc::Status s) {
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - c->t0).count();
      delete c;
      {
        std::lock_guard<std::mutex> lock(mu);
        w.Record(s, ms);
        if (Clock::now() >= deadline) {
          // The lane ends; touch nothing of this frame after the unlock.
          if (--outstanding == 0) idle.notify_all();
          return;
        }
      }
      issue();  // this lane still counts in `outstanding`: the frame is alive
    });
  };
  for (int k = 0; k < inflight; ++k) issue();
  std::unique_lock<std::mutex> lock(mu);
  idle.wait(lock, [&] { return outstanding == 0; });
}

nlohmann::json RunOp(const std::string& op, const Options& o, std::vector<Worker>& workers,
                     double seconds, int master_pid, int inflight) {
  const bool pipelined = inflight > 1;
  for (Worker& w : workers) {
    w.latencies_ms.clear();
    w.ok = w.errors = 0;
    w.first_error.clear();
  }
  std::latch go(1);  // opened once `deadline` is set
  Clock::time_point deadline;
  std::vector<std::thread> threads;
  for (size_t i = 0; i < workers.size(); ++i) {
    threads.emplace_back([&, i] {
      Worker& w = workers[i];
      go.wait();
      if (pipelined) return RunLookupsInFlight(op, o, static_cast<int>(i), w, inflight, deadline);
      for (uint64_t n = 0; Clock::now() < deadline; ++n) {
        auto t0 = Clock::now();
        grpc::Status s = RunOne(op, o, static_cast<int>(i), n, w);
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        w.Record(s, ms);
      }
    });
  }
  double master_cpu0 = cairn::bench::ProcessCpuSeconds(master_pid);
  double self_cpu0 = cairn::bench::SelfCpuSeconds();
  double elapsed = cairn::bench::RunUntilDeadline(seconds, &deadline, &go, &threads);
  double master_cpu = cairn::bench::ProcessCpuSeconds(master_pid) - master_cpu0;
  double self_cpu = cairn::bench::SelfCpuSeconds() - self_cpu0;

  std::vector<double> all;
  uint64_t ok = 0, errors = 0;
  std::string first_error;
  for (const Worker& w : workers) {
    all.insert(all.end(), w.latencies_ms.begin(), w.latencies_ms.end());
    ok += w.ok;
    errors += w.errors;
    if (first_error.empty()) first_error = w.first_error;
  }
  std::sort(all.begin(), all.end());
  nlohmann::json j;
  j["threads"] = workers.size();
  j["inflight_per_thread"] = pipelined ? inflight : 1;
  j["seconds"] = elapsed;
  j["ops"] = ok;
  j["errors"] = errors;
  j["ops_per_s"] = ok / elapsed;
  j["p50_ms"] = Percentile(all, 0.50);
  j["p99_ms"] = Percentile(all, 0.99);
  j["client_cpu_s"] = self_cpu;
  if (master_pid > 0) {
    j["master_cpu_s"] = master_cpu;
    j["ops_per_master_cpu_s"] = master_cpu > 0 ? ok / master_cpu : 0;
  }
  if (!first_error.empty()) j["first_error"] = first_error;
  return j;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn-metabench: master metadata ops/s over gRPC"};
  std::string master = "127.0.0.1:9090", ops = "mkdir,create,lookup";
  Options o;
  o.prefix = "/bench/meta";
  int threads = 8, master_pid = 0, inflight = 1;
  double seconds = 5;
  app.add_option("--master", master, "master gRPC host:port");
  app.add_option("--ops", ops,
                 "comma-separated: mkdir, create, lookup, lookup1, lookup_pipelined, "
                 "lookup1_pipelined");
  app.add_option("--threads", threads, "client threads, one channel each")
      ->check(CLI::Range(1, 1024));
  app.add_option("--seconds", seconds, "seconds per op");
  app.add_option("--prefix", o.prefix, "directory the benchmark works under");
  app.add_option("--chunked_prefix", o.chunked_prefix, "lookup1: loadgen PUT prefix");
  std::string chunked_files;
  app.add_option("--chunked_files", chunked_files,
                 "lookup1: files each loadgen client wrote, comma-separated");
  app.add_option("--master_pid", master_pid, "master process, for its CPU time");
  app.add_option("--inflight", inflight, "lookups each thread keeps in flight (callback API)")
      ->check(CLI::Range(1, 4096));
  CLI11_PARSE(app, argc, argv);
  uint64_t k = 0;
  for (absl::string_view item : absl::StrSplit(chunked_files, ',', absl::SkipEmpty())) {
    uint64_t n = 0;
    if (!absl::SimpleAtoi(item, &n)) {
      std::cerr << "cairn-metabench: bad --chunked_files\n";
      return 2;
    }
    if (n > 0) o.chunked.emplace_back(k, n);
    ++k;
  }

  std::vector<Worker> workers(threads);
  for (int i = 0; i < threads; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("cairn.bench.client", i);  // a connection per client
    workers[i].stub = cairn::Master::NewStub(
        grpc::CreateCustomChannel(master, grpc::InsecureChannelCredentials(), args));
  }
  nlohmann::json out = nlohmann::json::object();
  std::vector<std::string> op_list = absl::StrSplit(ops, ',', absl::SkipEmpty());
  for (const std::string& name : op_list) {
    // lookup_pipelined, lookup1_pipelined: the lookups with --inflight calls
    // in flight per thread.
    const bool pipelined = absl::EndsWith(name, "_pipelined");
    const std::string op = pipelined ? name.substr(0, name.size() - 10) : name;
    if (pipelined && op != "lookup" && op != "lookup1") {
      std::cerr << "cairn-metabench: only lookups can be pipelined\n";
      return 2;
    }
    if (op == "lookup") {
      for (const Worker& w : workers) {
        if (w.created == 0) {
          std::cerr << "cairn-metabench: lookup needs a create run first\n";
          return 2;
        }
      }
    } else if (op == "lookup1") {
      if (o.chunked_prefix.empty() || o.chunked.empty()) {
        std::cerr << "cairn-metabench: lookup1 needs --chunked_prefix and --chunked_files\n";
        return 2;
      }
    } else if (op != "mkdir" && op != "create") {
      std::cerr << "cairn-metabench: unknown op " << op << "\n";
      return 2;
    }
    out[name] = RunOp(op, o, workers, seconds, master_pid, pipelined ? inflight : 1);
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

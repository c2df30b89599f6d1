// Helpers the benchmark tools share: CPU time, percentiles, and running a
// set of client threads for a fixed time.
#ifndef CAIRN_BENCH_BENCH_UTIL_H_
#define CAIRN_BENCH_BENCH_UTIL_H_

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <latch>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace cairn::bench {

using Clock = std::chrono::steady_clock;

// CPU seconds (user + system) of this process so far.
inline double SelfCpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

// CPU seconds of process `pid` so far (from /proc), 0 if pid <= 0 or gone.
inline double ProcessCpuSeconds(int pid) {
  if (pid <= 0) return 0;
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  // Fields after the ")" closing the command name: state is field 3; utime 14, stime 15.
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// The p-quantile (0..1) of sorted values, 0 for none.
inline double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * double(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

// Sets `*deadline` `seconds` from now, opens `go` (the threads wait on it
// before reading the deadline), joins `threads` and returns the seconds taken.
inline double RunUntilDeadline(double seconds, Clock::time_point* deadline, std::latch* go,
                               std::vector<std::thread>* threads) {
  auto start = Clock::now();
  *deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  go->count_down();
  for (auto& t : *threads) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_BENCH_UTIL_H_

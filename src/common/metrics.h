// A small Prometheus registry: counters, gauges and latency histograms keyed by
// name and label set, rendered in the text exposition format. Thread-safe.
#ifndef CAIRN_COMMON_METRICS_H_
#define CAIRN_COMMON_METRICS_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace cairn {

class Metrics {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a metric family; `name` follows Prometheus conventions
  // (cairn_ prefix, base units, _total for counters). An `unlabeled` counter
  // or gauge is exported as 0 from the start, so rate() sees its first rise.
  void Describe(std::string_view name, Type type, std::string_view help, bool unlabeled = false);
  // `labels` is the inside of the braces, e.g. `route="/api/v1/files",code="200"`, or "".
  void Add(std::string_view name, std::string_view labels, double delta = 1);
  void Set(std::string_view name, std::string_view labels, double value);
  void Observe(std::string_view name, std::string_view labels, double value);
  // Called at the start of every Render(), to set gauges read from elsewhere.
  void AddCollector(std::function<void(Metrics&)> collector);

  std::string Render();

 private:
  struct Histogram {
    std::vector<uint64_t> buckets;
    uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Type type = Type::kGauge;
    std::string help;
    std::map<std::string, double> values;
    std::map<std::string, Histogram> histograms;
  };
  Family& FamilyLocked(std::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, Family, std::less<>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(Metrics&)>> collectors_ ABSL_GUARDED_BY(mu_);
};

// Escapes a label value for the exposition format.
std::string EscapeLabel(std::string_view value);

}  // namespace cairn

#endif  // CAIRN_COMMON_METRICS_H_

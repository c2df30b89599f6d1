#include "common/metrics.h"

#include <charconv>

#include "absl/strings/str_format.h"
#include "common/strings.h"

namespace cairn {
namespace {

// Seconds: 0.5 ms to 60 s.
constexpr double kBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                               0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
constexpr size_t kNumBuckets = sizeof(kBuckets) / sizeof(kBuckets[0]);

std::string Series(std::string_view name, std::string_view labels, std::string_view extra = "") {
  std::string all(labels);
  if (!extra.empty()) all = all.empty() ? std::string(extra) : cairn::StrCat(all, ",", extra);
  return all.empty() ? std::string(name) : cairn::StrCat(name, "{", all, "}");
}

// The shortest text that reads back as `v` ("0.1", not "0.10000000000000001"),
// so label values like le="0.1" match what people query.
std::string Number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : absl::StrFormat("%.17g", v);
}

}  // namespace

std::string EscapeLabel(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

Metrics::Family& Metrics::FamilyLocked(std::string_view name) {
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{}).first;
  return it->second;
}

void Metrics::Describe(std::string_view name, Type type, std::string_view help, bool unlabeled) {
  absl::MutexLock lock(&mu_);
  Family& f = FamilyLocked(name);
  f.type = type;
  f.help = std::string(help);
  if (unlabeled && type != Type::kHistogram) f.values.try_emplace("", 0.0);
}

void Metrics::Add(std::string_view name, std::string_view labels, double delta) {
  absl::MutexLock lock(&mu_);
  FamilyLocked(name).values[std::string(labels)] += delta;
}

void Metrics::Set(std::string_view name, std::string_view labels, double value) {
  absl::MutexLock lock(&mu_);
  FamilyLocked(name).values[std::string(labels)] = value;
}

void Metrics::Observe(std::string_view name, std::string_view labels, double value) {
  absl::MutexLock lock(&mu_);
  Histogram& h = FamilyLocked(name).histograms[std::string(labels)];
  if (h.buckets.empty()) h.buckets.resize(kNumBuckets);
  for (size_t i = 0; i < kNumBuckets; ++i) {
    if (value <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += value;
}

void Metrics::AddCollector(std::function<void(Metrics&)> collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

std::string Metrics::Render() {
  std::vector<std::function<void(Metrics&)>> collectors;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c(*this);
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge"
                                                : "histogram";
    if (!f.help.empty()) cairn::StrAppend(&out, "# HELP ", name, " ", f.help, "\n");
    cairn::StrAppend(&out, "# TYPE ", name, " ", type, "\n");
    for (const auto& [labels, v] : f.values) {
      cairn::StrAppend(&out, Series(name, labels), " ", Number(v), "\n");
    }
    for (const auto& [labels, h] : f.histograms) {
      for (size_t i = 0; i < kNumBuckets; ++i) {
        cairn::StrAppend(&out,
                         Series(cairn::StrCat(name, "_bucket"), labels,
                                cairn::StrCat("le=\"", Number(kBuckets[i]), "\"")),
                         " ", h.buckets[i], "\n");
      }
      cairn::StrAppend(&out, Series(cairn::StrCat(name, "_bucket"), labels, "le=\"+Inf\""), " ",
                       h.count, "\n");
      cairn::StrAppend(&out, Series(cairn::StrCat(name, "_sum"), labels), " ", Number(h.sum), "\n");
      cairn::StrAppend(&out, Series(cairn::StrCat(name, "_count"), labels), " ", h.count, "\n");
    }
  }
  return out;
}

}  // namespace cairn

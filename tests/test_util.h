// Test helpers: IsOk/StatusIs matchers (Debian's Abseil has none), temp dirs,
// and polling with a deadline instead of sleeping.
#ifndef CAIRN_TESTS_TEST_UTIL_H_
#define CAIRN_TESTS_TEST_UTIL_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << s.ToString();
  return s.ok();
}

MATCHER_P(StatusIs, code, "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << s.ToString();
  return s.code() == code;
}

// A fresh directory removed at destruction.
class TempDir {
 public:
  TempDir() {
    static std::mt19937_64 rng(std::random_device{}());
    path_ =
        (std::filesystem::temp_directory_path() / ("cairn-test-" + std::to_string(rng()))).string();
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `cond` until it holds or `timeout` passes; returns whether it held.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(rng());
  return s;
}

// The value of one series ("name" or "name{labels}") in the exposition text
// of `metrics` (a cairn::Metrics), or `absent` if it has none.
template <typename Metrics>
double MetricValue(Metrics& metrics, const std::string& series, double absent = -1) {
  std::string text = metrics.Render();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    pos = end + 1;
  }
  return absent;
}

}  // namespace cairn::testing

#endif  // CAIRN_TESTS_TEST_UTIL_H_

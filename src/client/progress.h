// A one-line transfer progress bar with rate and ETA, for terminals.
#ifndef CAIRN_CLIENT_PROGRESS_H_
#define CAIRN_CLIENT_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace cairn::client {

// The line drawn for a transfer, at most `width` characters:
// "a.iso  42% [=======>          ] 420.0 MiB/1.0 GiB  85.3 MiB/s  ETA 7s"
// or, with unknown total, "a.iso  420.0 MiB  85.3 MiB/s". A negative rate
// means not yet known.
std::string RenderProgressLine(std::string_view label, uint64_t done, std::optional<uint64_t> total,
                               double bytes_per_second, int width);

// Draws progress on `out` (a terminal) with carriage returns, at most every
// `redraw_interval`, and only once the transfer is known to be large
// (total or bytes so far >= `min_bytes`). Not thread-safe; `out` must
// outlive the bar.
class ProgressBar {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  struct Options {
    std::string label;
    uint64_t min_bytes = 8 << 20;
    std::chrono::milliseconds redraw_interval{100};
    int width = 80;  // terminal columns
    Clock clock = [] { return std::chrono::steady_clock::now(); };
  };

  ProgressBar(std::ostream& out, Options options);
  // Ends the line if anything was drawn and Finish() was not called.
  ~ProgressBar();

  // Records progress; redraws if due.
  void Update(uint64_t done, std::optional<uint64_t> total);

  // Draws the final state with the average rate and ends the line; no-op if
  // the bar was never shown.
  void Finish();

  bool shown() const { return shown_; }

 private:
  double RecentRate(std::chrono::steady_clock::time_point now) const;
  void Draw(const std::string& line);

  std::ostream& out_;
  const Options options_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>>
      samples_;  // (time, bytes done), the last few seconds
  uint64_t done_ = 0;
  std::optional<uint64_t> total_;
  bool shown_ = false;
  bool finished_ = false;
};

// Columns of the terminal on `fd`, or 80 if it is not a terminal.
int TerminalWidth(int fd);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_PROGRESS_H_

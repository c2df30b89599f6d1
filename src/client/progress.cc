#include "client/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "client/format.h"
#include "common/strings.h"

namespace cairn::client {
namespace {

constexpr auto kRateWindow = std::chrono::seconds(3);
constexpr size_t kMaxLabel = 24;
constexpr int kMinBar = 10;
constexpr int kMaxBar = 40;
constexpr size_t kRateWidth = 12;  // "1023.9 MiB/s"
constexpr size_t kEtaWidth = 10;   // "ETA 59m59s"
constexpr size_t kSizeWidth = 10;  // "1023.9 MiB"

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string FitLabel(std::string_view label) {
  if (label.size() <= kMaxLabel) return std::string(label);
  return cairn::StrCat("...", label.substr(label.size() - (kMaxLabel - 3)));
}

}  // namespace

std::string RenderProgressLine(std::string_view label, uint64_t done, std::optional<uint64_t> total,
                               double bytes_per_second, int width) {
  std::string name = FitLabel(label);
  std::string rate = bytes_per_second < 0
                         ? "--"
                         : cairn::StrCat(HumanBytes(static_cast<uint64_t>(bytes_per_second)), "/s");
  if (!total.has_value()) {
    return cairn::StrCat(name, "  ", HumanBytes(done), "  ", rate);
  }
  double fraction = *total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / *total);
  std::string eta = "ETA --";
  if (done >= *total) {
    eta = "done";
  } else if (bytes_per_second > 0) {
    eta = cairn::StrCat("ETA ", HumanDuration((*total - done) / bytes_per_second));
  }
  std::string percent = cairn::StrCat(static_cast<int>(fraction * 100), "%");
  // Fixed-width fields keep the bar from jumping as numbers change.
  percent.insert(0, 4 - std::min<size_t>(4, percent.size()), ' ');
  rate.insert(0, kRateWidth - std::min(kRateWidth, rate.size()), ' ');
  eta.resize(std::max(eta.size(), kEtaWidth), ' ');
  std::string done_text = HumanBytes(done);
  done_text.insert(0, kSizeWidth - std::min(kSizeWidth, done_text.size()), ' ');
  std::string tail = cairn::StrCat(" ", done_text, "/", HumanBytes(*total), " ", rate, "  ", eta);
  std::string head = cairn::StrCat(name, " ", percent, " ");
  int room = width - 1 - static_cast<int>(head.size() + tail.size()) - 2;
  int bar_width = std::clamp(room, kMinBar, kMaxBar);
  int filled = static_cast<int>(fraction * bar_width);
  std::string bar(filled, '=');
  if (filled < bar_width) {
    bar += '>';
    bar += std::string(bar_width - filled - 1, ' ');
  }
  return cairn::StrCat(head, "[", bar, "]", tail);
}

ProgressBar::ProgressBar(std::ostream& out, Options options)
    : out_(out), options_(std::move(options)), start_(options_.clock()), last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  if (shown_ && !finished_) {
    out_ << "\n";
    out_.flush();
  }
}

double ProgressBar::RecentRate(std::chrono::steady_clock::time_point now) const {
  if (samples_.empty()) return -1;
  double elapsed = Seconds(now - samples_.front().first);
  if (elapsed < 0.2) return -1;
  return (done_ - samples_.front().second) / elapsed;
}

void ProgressBar::Update(uint64_t done, std::optional<uint64_t> total) {
  auto now = options_.clock();
  done_ = done;
  total_ = total;
  samples_.emplace_back(now, done);
  while (samples_.size() > 2 && now - samples_[1].first >= kRateWindow) {
    samples_.pop_front();
  }
  if (!shown_) {
    uint64_t known = total.value_or(done);
    if (known < options_.min_bytes || finished_) return;
  }
  if (shown_ && now - last_draw_ < options_.redraw_interval) return;
  last_draw_ = now;
  Draw(RenderProgressLine(options_.label, done_, total_, RecentRate(now), options_.width));
}

void ProgressBar::Finish() {
  if (!shown_ || finished_) return;
  finished_ = true;
  double elapsed = Seconds(options_.clock() - start_);
  double rate = elapsed > 0 ? done_ / elapsed : -1;
  std::string line = RenderProgressLine(options_.label, done_, total_, rate, options_.width);
  Draw(cairn::StrCat(line, "  in ", HumanDuration(elapsed)));
  out_ << "\n";
  out_.flush();
}

void ProgressBar::Draw(const std::string& line) {
  shown_ = true;
  out_ << "\r" << line << "\x1b[K";
  out_.flush();
}

int TerminalWidth(int fd) {
  struct winsize size;
  if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  return 80;
}

}  // namespace cairn::client

#include "client/format.h"

#include <time.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "common/strings.h"

namespace cairn::client {

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return cairn::StrCat(bytes, " B");
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1023.95 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string HumanDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto total = static_cast<int64_t>(std::llround(seconds));
  if (total < 60) return cairn::StrCat(total, "s");
  if (total < 3600) return absl::StrFormat("%dm%02ds", total / 60, total % 60);
  if (total < 100 * 3600) {
    return absl::StrFormat("%dh%02dm", total / 3600, (total % 3600) / 60);
  }
  return cairn::StrCat(total / 86400, "d");
}

std::string FormatMtime(int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm local;
  if (localtime_r(&t, &local) == nullptr) return "-";
  char buffer[32];
  if (strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M", &local) == 0) {
    return "-";
  }
  return buffer;
}

std::string FormatAgo(int64_t milliseconds) {
  if (milliseconds < 0) return "-";
  if (milliseconds < 10000) {
    return absl::StrFormat("%.1fs ago", milliseconds / 1000.0);
  }
  return cairn::StrCat(HumanDuration(milliseconds / 1000.0), " ago");
}

std::string FormatPercent(double percent) { return absl::StrFormat("%.1f%%", percent); }

std::string UsageBar(double fraction, int width) {
  if (!std::isfinite(fraction)) fraction = 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  int filled = static_cast<int>(std::lround(fraction * width));
  // Any use at all shows at least one mark.
  if (filled == 0 && fraction > 0) filled = 1;
  return cairn::StrCat("[", std::string(filled, '#'), std::string(width - filled, '.'), "]");
}

void Table::AddRow(std::vector<Cell> cells) {
  cells.resize(columns_.size(), Cell(""));
  rows_.push_back(std::move(cells));
}

std::string Table::Render(bool color) const {
  std::vector<size_t> widths(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    widths[i] = columns_[i].title.size();
    for (const auto& row : rows_) {
      widths[i] = std::max(widths[i], row[i].text.size());
    }
  }
  auto render_line = [&](const std::vector<Cell>& cells, bool header) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      const Cell& cell = cells[i];
      std::string padding(widths[i] - cell.text.size(), ' ');
      bool last = i + 1 == cells.size();
      std::string text = cell.text;
      std::string_view style = header ? kBold : cell.color;
      if (color && !style.empty()) text = cairn::StrCat(style, text, "\x1b[0m");
      if (columns_[i].align == Align::kRight) {
        cairn::StrAppend(&line, padding, text);
      } else {
        cairn::StrAppend(&line, text, last ? "" : padding);
      }
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    return line + "\n";
  };
  std::vector<Cell> header;
  for (const Column& column : columns_) header.emplace_back(column.title);
  std::string out = render_line(header, /*header=*/true);
  for (const auto& row : rows_) out += render_line(row, /*header=*/false);
  return out;
}

}  // namespace cairn::client

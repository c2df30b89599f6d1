// Human-readable formatting for the CLI: sizes, times, usage bars, tables.
#ifndef CAIRN_CLIENT_FORMAT_H_
#define CAIRN_CLIENT_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::client {

// Binary units: "0 B", "512 B", "1.0 KiB", "12.3 MiB", "1.2 GiB", ... EiB.
std::string HumanBytes(uint64_t bytes);

// "7s", "1m05s", "2h03m"; "?" for negative or non-finite input.
std::string HumanDuration(double seconds);

// Local time "2024-05-01 12:00"; "-" for 0.
std::string FormatMtime(int64_t unix_seconds);

// "0.4s ago", "12s ago", "3m ago", "2h ago"; "-" for a negative (unknown) age.
std::string FormatAgo(int64_t milliseconds);

// "12.3%".
std::string FormatPercent(double percent);

// "[###.......]" with `width` cells inside the brackets; `fraction` clamped
// to [0, 1].
std::string UsageBar(double fraction, int width);

// ANSI colors for table cells; empty means none.
inline constexpr std::string_view kGreen = "\x1b[32m";
inline constexpr std::string_view kYellow = "\x1b[33m";
inline constexpr std::string_view kRed = "\x1b[31m";
inline constexpr std::string_view kBold = "\x1b[1m";

// A text table with aligned columns, two spaces apart.
class Table {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string title;
    Align align = Align::kLeft;
  };
  struct Cell {
    Cell(std::string text) : text(std::move(text)) {}  // NOLINT: implicit
    Cell(const char* text) : text(text) {}             // NOLINT: implicit
    Cell(std::string text, std::string_view color) : text(std::move(text)), color(color) {}
    std::string text;
    std::string_view color;  // one of the constants above, or empty
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // REQUIRES: cells.size() <= number of columns (missing cells are empty).
  void AddRow(std::vector<Cell> cells);

  // Header plus rows, each line ending in '\n'. Colors only if `color`.
  std::string Render(bool color) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_FORMAT_H_

// Formatting used by the `cairn` CLI: sizes, tables, progress bars, exit
// codes.
#include <sstream>

#include "client/exit_codes.h"
#include "client/format.h"
#include "client/progress.h"
#include "gtest/gtest.h"

namespace cairn::client {
namespace {

TEST(FormatTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(64ull << 20), "64.0 MiB");
  EXPECT_EQ(HumanBytes((1ull << 30) - 1), "1.0 GiB");
  EXPECT_EQ(HumanBytes(5ull << 40), "5.0 TiB");
}

TEST(FormatTest, Durations) {
  EXPECT_EQ(HumanDuration(7.4), "7s");
  EXPECT_EQ(HumanDuration(65), "1m05s");
  EXPECT_EQ(HumanDuration(2 * 3600 + 180), "2h03m");
  EXPECT_EQ(HumanDuration(-1), "?");
  EXPECT_EQ(FormatAgo(-1), "-");
  EXPECT_EQ(FormatAgo(400), "0.4s ago");
  EXPECT_EQ(FormatAgo(180000), "3m00s ago");
}

TEST(FormatTest, UsageBar) {
  EXPECT_EQ(UsageBar(0, 4), "[....]");
  EXPECT_EQ(UsageBar(0.001, 4), "[#...]");
  EXPECT_EQ(UsageBar(0.5, 4), "[##..]");
  EXPECT_EQ(UsageBar(2, 4), "[####]");
}

TEST(FormatTest, TableAlignsColumns) {
  Table table({{"NAME"}, {"SIZE", Table::Align::kRight}});
  table.AddRow({"a", "1 B"});
  table.AddRow({Table::Cell("longer", kRed), "10.0 KiB"});
  EXPECT_EQ(table.Render(/*color=*/false),
            "NAME        SIZE\n"
            "a            1 B\n"
            "longer  10.0 KiB\n");
  EXPECT_NE(table.Render(/*color=*/true).find("\x1b[31mlonger\x1b[0m"), std::string::npos);
}

TEST(ProgressTest, LineFitsWidthAndShowsRateAndEta) {
  std::string line = RenderProgressLine("file.iso", 50 << 20, 100 << 20, 10 << 20, 80);
  EXPECT_LE(line.size(), 80u);
  EXPECT_NE(line.find(" 50%"), std::string::npos) << line;
  EXPECT_NE(line.find("10.0 MiB/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 5s"), std::string::npos) << line;
  std::string unknown = RenderProgressLine("stdin", 3 << 20, std::nullopt, -1, 80);
  EXPECT_EQ(unknown, "stdin  3.0 MiB  --");
}

class FakeClock {
 public:
  std::chrono::steady_clock::time_point Now() const { return now_; }
  void Advance(std::chrono::milliseconds d) { now_ += d; }

 private:
  std::chrono::steady_clock::time_point now_{};
};

TEST(ProgressTest, SmallTransfersDrawNothing) {
  std::ostringstream out;
  FakeClock clock;
  {
    ProgressBar::Options options;
    options.min_bytes = 1000;
    options.clock = [&] { return clock.Now(); };
    ProgressBar bar(out, options);
    bar.Update(0, 999);
    clock.Advance(std::chrono::seconds(1));
    bar.Update(999, 999);
    bar.Finish();
    EXPECT_FALSE(bar.shown());
  }
  EXPECT_EQ(out.str(), "");
}

TEST(ProgressTest, LargeTransfersRedrawAtMostEveryInterval) {
  std::ostringstream out;
  FakeClock clock;
  ProgressBar::Options options;
  options.label = "big";
  options.min_bytes = 1000;
  options.redraw_interval = std::chrono::milliseconds(100);
  options.clock = [&] { return clock.Now(); };
  ProgressBar bar(out, options);
  for (int i = 0; i <= 100; ++i) {
    bar.Update(i * 100, 10000);
    clock.Advance(std::chrono::milliseconds(10));
  }
  bar.Finish();
  std::string drawn = out.str();
  size_t redraws = std::count(drawn.begin(), drawn.end(), '\r');
  EXPECT_GE(redraws, 5u);
  EXPECT_LE(redraws, 13u);  // ~1 s at one draw per 100 ms, plus the last
  EXPECT_EQ(drawn.back(), '\n');
  EXPECT_NE(drawn.find("100%"), std::string::npos);
  EXPECT_NE(drawn.find("in 1s"), std::string::npos) << drawn;
}

TEST(ExitCodesTest, DistinctCodesForWhatScriptsCheck) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), kExitOk);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("")), kExitNotFound);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("")), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(absl::AlreadyExistsError("")), kExitConflict);
  EXPECT_EQ(ExitCodeFor(absl::DataLossError("")), kExitDataLoss);
  EXPECT_EQ(ExitCodeFor(absl::ResourceExhaustedError("")), kExitNoSpace);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("")), kExitError);
}

}  // namespace
}  // namespace cairn::client

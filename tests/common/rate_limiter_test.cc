// RateLimiter over the Clock seam: a SimulatedClock (wrapped to record the
// sleeps the limiter asks for), never real time.
#include "common/rate_limiter.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "test_util.h"

namespace cairn {
namespace {

using ::cairn::testing::WaitFor;

// A SimulatedClock that records every SleepFor it is asked for. With
// `fast_forward` a sleep moves simulated time on by its duration and returns
// (so single-threaded tests see the limiter's arithmetic directly); without,
// it blocks as SimulatedClock does until Advance() or cancellation.
class RecordingClock : public Clock {
 public:
  explicit RecordingClock(bool fast_forward) : fast_forward_(fast_forward) {}
  absl::Time Now() override { return sim_.Now(); }
  void SleepFor(absl::Duration d, absl::Mutex* mu, const bool* cancel) override {
    {
      absl::MutexLock lock(&rec_mu_);
      sleeps_.push_back(d);
    }
    if (!fast_forward_) {
      sim_.SleepFor(d, mu, cancel);
      return;
    }
    absl::MutexLock lock(mu);
    if (!*cancel) sim_.Advance(d);
  }
  void Advance(absl::Duration d) { sim_.Advance(d); }
  std::vector<absl::Duration> sleeps() {
    absl::MutexLock lock(&rec_mu_);
    return sleeps_;
  }
  size_t num_sleeps() { return sleeps().size(); }

 private:
  const bool fast_forward_;
  SimulatedClock sim_;
  absl::Mutex rec_mu_;
  std::vector<absl::Duration> sleeps_ ABSL_GUARDED_BY(rec_mu_);
};

class RateLimiterTest : public ::testing::Test {
 protected:
  bool Acquire(RateLimiter& limiter, uint64_t bytes) {
    return limiter.Acquire(bytes, &mu_, &cancel_);
  }
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancel_ = true;
  }

  absl::Mutex mu_;
  bool cancel_ ABSL_GUARDED_BY(mu_) = false;
};

TEST_F(RateLimiterTest, ZeroRateIsUnlimited) {
  RecordingClock clock(/*fast_forward=*/true);
  const absl::Time start = clock.Now();
  RateLimiter limiter(0, &clock);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(Acquire(limiter, uint64_t{1} << 40));
  EXPECT_EQ(clock.num_sleeps(), 0u);
  EXPECT_EQ(clock.Now(), start);
}

TEST_F(RateLimiterTest, PacesBytesToTheRate) {
  RecordingClock clock(/*fast_forward=*/true);
  const absl::Time start = clock.Now();
  RateLimiter limiter(1000, &clock);
  EXPECT_TRUE(Acquire(limiter, 500));
  EXPECT_TRUE(Acquire(limiter, 1500));
  EXPECT_TRUE(Acquire(limiter, 250));
  // Back to back, each waits for its own bytes: 0.5 s, 1.5 s, 0.25 s.
  std::vector<absl::Duration> want = {absl::Milliseconds(500), absl::Milliseconds(1500),
                                      absl::Milliseconds(250)};
  EXPECT_EQ(clock.sleeps(), want);
  EXPECT_EQ(clock.Now() - start, absl::Milliseconds(2250));  // 2250 bytes at 1000 B/s
}

TEST_F(RateLimiterTest, ManySmallAcquiresAddUpToTheRate) {
  RecordingClock clock(/*fast_forward=*/true);
  const absl::Time start = clock.Now();
  RateLimiter limiter(4096, &clock);
  for (int i = 0; i < 64; ++i) EXPECT_TRUE(Acquire(limiter, 256));
  // 16 KiB at 4 KiB/s: four seconds in all, however it is sliced.
  EXPECT_EQ(clock.Now() - start, absl::Seconds(4));
}

TEST_F(RateLimiterTest, IdleTimeBuysAtMostOneSecondOfBurst) {
  RecordingClock clock(/*fast_forward=*/true);
  RateLimiter limiter(1000, &clock);
  clock.Advance(absl::Seconds(10));  // idle for ten seconds
  // One second's worth passes at once...
  EXPECT_TRUE(Acquire(limiter, 1000));
  EXPECT_EQ(clock.num_sleeps(), 0u);
  // ...but not ten: the next second's worth waits a full second.
  EXPECT_TRUE(Acquire(limiter, 1000));
  ASSERT_EQ(clock.num_sleeps(), 1u);
  EXPECT_EQ(clock.sleeps()[0], absl::Seconds(1));
}

TEST_F(RateLimiterTest, ShortIdleTimeIsCredited) {
  RecordingClock clock(/*fast_forward=*/true);
  RateLimiter limiter(1000, &clock);
  EXPECT_TRUE(Acquire(limiter, 1000));  // waits 1 s
  clock.Advance(absl::Milliseconds(400));
  EXPECT_TRUE(Acquire(limiter, 1000));  // 0.4 s of it already passed
  std::vector<absl::Duration> want = {absl::Seconds(1), absl::Milliseconds(600)};
  EXPECT_EQ(clock.sleeps(), want);
}

TEST_F(RateLimiterTest, BlocksUntilSimulatedTimePasses) {
  RecordingClock clock(/*fast_forward=*/false);
  const absl::Time start = clock.Now();
  RateLimiter limiter(1000, &clock);
  std::atomic<bool> done{false};
  std::atomic<bool> result{false};
  absl::Time returned_at;
  std::thread t([&] {
    result = Acquire(limiter, 2000);
    returned_at = clock.Now();
    done = true;
  });
  ASSERT_TRUE(WaitFor([&] { return clock.num_sleeps() == 1; }));
  EXPECT_EQ(clock.sleeps()[0], absl::Seconds(2));
  // Simulated time has not moved, so the caller is still waiting.
  EXPECT_FALSE(done);
  clock.Advance(absl::Seconds(1));
  EXPECT_FALSE(done);  // its deadline is at least start + 2 s
  // Let time run on until it returns.
  EXPECT_TRUE(WaitFor([&] {
    if (done) return true;
    clock.Advance(absl::Milliseconds(100));
    return false;
  }));
  t.join();
  EXPECT_TRUE(result);
  EXPECT_GE(returned_at - start, absl::Seconds(2));
}

TEST_F(RateLimiterTest, ConcurrentCallersQueueBehindEachOther) {
  RecordingClock clock(/*fast_forward=*/false);
  RateLimiter limiter(1000, &clock);
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      EXPECT_TRUE(Acquire(limiter, 1000));
      ++done;
    });
  }
  // All three asked at the same simulated instant: they share the rate, so
  // their waits are 1 s, 2 s and 3 s, not 1 s each.
  ASSERT_TRUE(WaitFor([&] { return clock.num_sleeps() == 3; }));
  std::vector<absl::Duration> sleeps = clock.sleeps();
  std::sort(sleeps.begin(), sleeps.end());
  std::vector<absl::Duration> want = {absl::Seconds(1), absl::Seconds(2), absl::Seconds(3)};
  EXPECT_EQ(sleeps, want);
  EXPECT_EQ(done, 0);
  EXPECT_TRUE(WaitFor([&] {
    if (done == 3) return true;
    clock.Advance(absl::Milliseconds(100));
    return false;
  }));
  for (auto& t : threads) t.join();
}

TEST_F(RateLimiterTest, CancelEndsTheWaitWithFalse) {
  RecordingClock clock(/*fast_forward=*/false);
  const absl::Time start = clock.Now();
  RateLimiter limiter(1, &clock);  // 1 B/s: the wait below is ~11.6 simulated days
  std::atomic<bool> done{false};
  std::atomic<bool> result{true};
  std::thread t([&] {
    result = Acquire(limiter, 1000000);
    done = true;
  });
  ASSERT_TRUE(WaitFor([&] { return clock.num_sleeps() == 1; }));
  EXPECT_FALSE(done);
  Cancel();
  EXPECT_TRUE(WaitFor([&] { return done.load(); }));
  t.join();
  EXPECT_FALSE(result);
  EXPECT_EQ(clock.Now(), start);  // it returned without time passing
}

TEST_F(RateLimiterTest, AlreadyCancelledReturnsFalseWithoutWaiting) {
  RecordingClock clock(/*fast_forward=*/false);
  RateLimiter limiter(1, &clock);
  Cancel();
  // Would wait 1000 s; SimulatedClock is never advanced, so returning at all
  // shows the cancel flag was honoured.
  EXPECT_FALSE(Acquire(limiter, 1000));
  // Within the rate (no wait needed) a cancelled caller is still told to stop.
  RateLimiter idle(1000, &clock);
  clock.Advance(absl::Seconds(5));
  EXPECT_FALSE(Acquire(idle, 10));
}

}  // namespace
}  // namespace cairn

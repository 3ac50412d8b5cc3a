#include <pecbatch/dispatch/throttle.hpp>

#include "fakes/fake_clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

namespace pecbatch::dispatch {
namespace {

using namespace std::chrono_literals;
using core::TimePoint;

// Deterministic pseudo-random numbers for the simulated runs.
class Lcg {
public:
  explicit Lcg(std::uint64_t seed) : m_state(seed) {}
  std::uint64_t next() {
    m_state = m_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return m_state >> 33;
  }

private:
  std::uint64_t m_state;
};

// Checks that no half-open window [s, s + window) holds more than `limit`
// of the (ascending) `times`: for sorted times that is the same as
// times[i + limit] - times[i] >= window for every i.
void expect_at_most(const std::vector<TimePoint>& times, unsigned limit,
                    std::chrono::seconds window) {
  for (std::size_t i = 0; i + limit < times.size(); ++i) {
    ASSERT_GE(times[i + limit] - times[i], window)
        << limit + 1 << " submissions within " << window.count() << " s, from #" << i;
  }
}

class ThrottleTest : public ::testing::Test {
protected:
  test::FakeClock clock;
};

// A minute as the throttle counts it (with its safety margin).
constexpr auto k_minute = std::chrono::milliseconds(60s) + Throttle::k_margin;

TEST_F(ThrottleTest, NoLimitNeverWaits) {
  Throttle throttle(Rates{}, clock);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(throttle.acquire(), clock.now());
  }
  EXPECT_EQ(clock.total_slept(), 0ms);
  EXPECT_EQ(throttle.effective_per_minute(), 0u);
}

TEST_F(ThrottleTest, NeverMoreThanNInAnyMinuteOverALongRun) {
  Throttle throttle(Rates{6, 0, 0}, clock);
  Lcg random(42);
  std::vector<TimePoint> times;
  for (int i = 0; i < 3000; ++i) {
    // The caller spends a random 0-15 s on each message.
    clock.advance(std::chrono::milliseconds(random.next() % 15'000));
    times.push_back(throttle.acquire());
    ASSERT_EQ(times.back(), clock.now());
  }
  expect_at_most(times, 6, 60s);
}

TEST_F(ThrottleTest, WaitsExactlyUntilTheWindowOpens) {
  Throttle throttle(Rates{6, 0, 0}, clock);
  const TimePoint start = clock.now();
  std::vector<TimePoint> times;
  for (int i = 0; i < 60; ++i) {
    times.push_back(throttle.acquire());
  }
  // Bursts of 6 every 60 s, no later than needed.
  for (std::size_t i = 0; i < times.size(); ++i) {
    EXPECT_EQ(times[i], start + k_minute * static_cast<int>(i / 6)) << i;
  }
  EXPECT_EQ(clock.total_slept(), 9 * k_minute);
}

TEST_F(ThrottleTest, SpreadSubmissionsAreNotDelayed) {
  Throttle throttle(Rates{6, 0, 0}, clock);
  for (int i = 0; i < 100; ++i) {
    clock.advance(10s + Throttle::k_margin / 5);
    EXPECT_EQ(throttle.next_slot(), clock.now());
    throttle.acquire();
  }
  EXPECT_EQ(clock.total_slept(), 0ms);
}

TEST_F(ThrottleTest, HourWindow) {
  Throttle throttle(Rates{0, 10, 0}, clock);
  Lcg random(7);
  std::vector<TimePoint> times;
  for (int i = 0; i < 200; ++i) {
    clock.advance(std::chrono::milliseconds(random.next() % 600'000));
    times.push_back(throttle.acquire());
  }
  expect_at_most(times, 10, 3600s);
}

TEST_F(ThrottleTest, DayWindow) {
  Throttle throttle(Rates{0, 0, 5}, clock);
  const TimePoint start = clock.now();
  std::vector<TimePoint> times;
  for (int i = 0; i < 20; ++i) {
    times.push_back(throttle.acquire());
  }
  expect_at_most(times, 5, 86400s);
  EXPECT_EQ(times.back(), start + 3 * (86400s + Throttle::k_margin));
}

TEST_F(ThrottleTest, AllWindowsTogether) {
  Throttle throttle(Rates{6, 100, 1000}, clock);
  Lcg random(1234);
  std::vector<TimePoint> times;
  for (int i = 0; i < 3000; ++i) {
    clock.advance(std::chrono::milliseconds(random.next() % 20'000));
    times.push_back(throttle.acquire());
  }
  expect_at_most(times, 6, 60s);
  expect_at_most(times, 100, 3600s);
  expect_at_most(times, 1000, 86400s);
}

TEST_F(ThrottleTest, SeededHistoryBlocks) {
  // Six submissions in the last 30 s (an earlier run, from the journal).
  Throttle throttle(Rates{6, 0, 0}, clock);
  const TimePoint now = clock.now();
  std::vector<TimePoint> earlier;
  for (int i = 0; i < 6; ++i) {
    earlier.push_back(now - 30s + std::chrono::seconds(i));
  }
  throttle.seed(earlier);
  EXPECT_EQ(throttle.next_slot(), now + 30s + Throttle::k_margin);
  EXPECT_EQ(throttle.acquire(), now + 30s + Throttle::k_margin);
}

TEST_F(ThrottleTest, SeededDailyQuotaCarriesAcrossRuns) {
  // A cron job: 1000 a day, and 1000 already sent in the last 23 hours.
  const TimePoint now = clock.now();
  std::vector<TimePoint> earlier;
  for (int i = 0; i < 1000; ++i) {
    earlier.push_back(now - 23h + std::chrono::seconds(i * 60));
  }
  Throttle throttle(Rates{0, 0, 1000}, clock);
  throttle.seed(earlier);
  EXPECT_EQ(throttle.next_slot(), now + 1h + Throttle::k_margin);
  // Seeds are sorted, whatever their order.
  Throttle reversed(Rates{0, 0, 1000}, clock);
  reversed.seed(std::vector<TimePoint>(earlier.rbegin(), earlier.rend()));
  EXPECT_EQ(reversed.next_slot(), now + 1h + Throttle::k_margin);
}

TEST_F(ThrottleTest, OldSeedsDoNotCount) {
  Throttle throttle(Rates{2, 0, 0}, clock);
  throttle.seed({clock.now() - 62s, clock.now() - 61s, clock.now() - 120s});
  EXPECT_EQ(throttle.next_slot(), clock.now());
}

TEST_F(ThrottleTest, RecordWithoutWaiting) {
  Throttle throttle(Rates{3, 0, 0}, clock);
  const TimePoint now = clock.now();
  throttle.record(now);
  throttle.record(now + 1s);
  EXPECT_EQ(throttle.next_slot(), now);
  throttle.record(now + 2s);
  EXPECT_EQ(throttle.next_slot(), now + k_minute);
  EXPECT_EQ(clock.total_slept(), 0ms);
}

TEST_F(ThrottleTest, ReleaseLastGivesTheSlotBack) {
  Throttle throttle(Rates{3, 0, 0}, clock);
  const TimePoint now = clock.now();
  throttle.acquire();
  throttle.acquire();
  throttle.acquire();
  EXPECT_EQ(throttle.next_slot(), now + k_minute);
  throttle.release_last(); // the third failed before DATA
  EXPECT_EQ(throttle.next_slot(), now);
  throttle.release_last();
  throttle.release_last();
  throttle.release_last(); // nothing left: harmless
  EXPECT_EQ(throttle.next_slot(), now);
}

TEST_F(ThrottleTest, RetimeCountsASlotFromWhenItsMessageStarts) {
  Throttle throttle(Rates{2, 0, 0}, clock);
  const TimePoint t0 = clock.now();
  throttle.record(t0);
  throttle.record(t0);  // taken ahead; its message starts only at t0 + 30 s
  clock.advance(30s);
  throttle.retime(t0, t0 + 30s);
  // Full until the first leaves the window, then one slot until the
  // second (now at t0 + 30 s) leaves it too.
  EXPECT_EQ(throttle.next_slot(), t0 + k_minute);
  clock.advance(k_minute - 30s);
  throttle.record(clock.now());
  EXPECT_EQ(throttle.next_slot(), t0 + 30s + k_minute);
  // Unknown times and moves backwards change nothing.
  throttle.retime(t0 - 5s, clock.now());
  throttle.retime(t0 + 30s, t0 + 10s);
  EXPECT_EQ(throttle.next_slot(), t0 + 30s + k_minute);
}

TEST_F(ThrottleTest, SlowDownHalvesDownToOne) {
  Throttle throttle(Rates{12, 0, 0}, clock, 300s);
  EXPECT_EQ(throttle.effective_per_minute(), 12u);
  throttle.slow_down();
  EXPECT_EQ(throttle.effective_per_minute(), 6u);
  throttle.slow_down();
  EXPECT_EQ(throttle.effective_per_minute(), 3u);
  throttle.slow_down();
  EXPECT_EQ(throttle.effective_per_minute(), 1u);
  throttle.slow_down();
  EXPECT_EQ(throttle.effective_per_minute(), 1u);
}

TEST_F(ThrottleTest, SlowedDownRateIsEnforced) {
  Throttle throttle(Rates{12, 0, 0}, clock, 3600s);
  throttle.slow_down(); // 6 per minute
  std::vector<TimePoint> times;
  for (int i = 0; i < 60; ++i) {
    times.push_back(throttle.acquire());
  }
  expect_at_most(times, 6, 60s);
  EXPECT_EQ(times[6] - times[0], k_minute);
}

TEST_F(ThrottleTest, RestoresStepByStepAfterQuietPeriods) {
  Throttle throttle(Rates{12, 0, 0}, clock, 300s);
  throttle.slow_down();
  throttle.slow_down();
  throttle.slow_down();
  ASSERT_EQ(throttle.effective_per_minute(), 1u);
  clock.advance(299s);
  EXPECT_EQ(throttle.effective_per_minute(), 1u);
  clock.advance(1s);
  EXPECT_EQ(throttle.effective_per_minute(), 2u);
  clock.advance(300s);
  EXPECT_EQ(throttle.effective_per_minute(), 4u);
  clock.advance(600s);
  EXPECT_EQ(throttle.effective_per_minute(), 12u); // 8, then capped at 12
  clock.advance(3000s);
  EXPECT_EQ(throttle.effective_per_minute(), 12u);
}

TEST_F(ThrottleTest, ThrottlingAgainRestartsTheQuietPeriod) {
  Throttle throttle(Rates{8, 0, 0}, clock, 300s);
  throttle.slow_down(); // 4
  clock.advance(200s);
  throttle.slow_down(); // 2
  clock.advance(200s);  // 400 s after the first, 200 s after the second
  EXPECT_EQ(throttle.effective_per_minute(), 2u);
  clock.advance(100s);
  EXPECT_EQ(throttle.effective_per_minute(), 4u);
  // next_slot applies the restored rate too.
  for (int i = 0; i < 4; ++i) {
    throttle.record(clock.now());
  }
  EXPECT_EQ(throttle.next_slot(), clock.now() + k_minute);
}

TEST_F(ThrottleTest, SlowDownWithoutLimitStartsFromTheObservedRate) {
  Throttle throttle(Rates{0, 0, 0}, clock, 300s);
  for (int i = 0; i < 10; ++i) {
    throttle.acquire();
    clock.advance(1s);
  }
  throttle.slow_down();
  EXPECT_EQ(throttle.effective_per_minute(), 5u);
  // Back up: 10, 20, 40, 60, then no limit.
  std::vector<unsigned> steps;
  for (int i = 0; i < 5; ++i) {
    clock.advance(300s);
    steps.push_back(throttle.effective_per_minute());
  }
  EXPECT_EQ(steps, (std::vector<unsigned>{10, 20, 40, 60, 0}));
}

TEST_F(ThrottleTest, SlowDownWithoutLimitOrHistoryStartsFromSixty) {
  Throttle throttle(Rates{0, 0, 0}, clock);
  throttle.slow_down();
  EXPECT_EQ(throttle.effective_per_minute(), 30u);
  throttle.slow_down();
  EXPECT_EQ(throttle.effective_per_minute(), 15u);
}

TEST_F(ThrottleTest, SlowDownKeepsHourAndDayLimits) {
  Throttle throttle(Rates{6, 20, 0}, clock, 300s);
  throttle.slow_down();
  std::vector<TimePoint> times;
  for (int i = 0; i < 100; ++i) {
    times.push_back(throttle.acquire());
  }
  expect_at_most(times, 20, 3600s);
  expect_at_most(times, 6, 60s);
}

TEST(RetryPolicyTest, StaysWithinTheExponentialCap) {
  RetryPolicy policy; // 2 s base, 120 s cap
  for (unsigned attempt = 1; attempt <= 40; ++attempt) {
    const auto cap = std::min<std::int64_t>(
        120'000, attempt <= 20 ? 2'000LL << (attempt - 1) : 120'000);
    for (double r : {0.0, 0.25, 0.5, 0.999999}) {
      const auto delay = policy.delay_after(attempt, r).count();
      EXPECT_GE(delay, 0) << attempt << " " << r;
      EXPECT_LT(delay, cap) << attempt << " " << r;
      EXPECT_GE(delay, static_cast<std::int64_t>(r * static_cast<double>(cap)) - 1);
    }
  }
}

TEST(RetryPolicyTest, DoublesUntilCapped) {
  RetryPolicy policy;
  EXPECT_EQ(policy.delay_after(1, 0.5).count(), 1'000);
  EXPECT_EQ(policy.delay_after(2, 0.5).count(), 2'000);
  EXPECT_EQ(policy.delay_after(3, 0.5).count(), 4'000);
  EXPECT_EQ(policy.delay_after(7, 0.5).count(), 60'000); // 128 s, capped at 120
  EXPECT_EQ(policy.delay_after(1000, 0.5).count(), 60'000);
  EXPECT_EQ(policy.delay_after(1, 0.0).count(), 0); // full jitter
}

TEST(RetryPolicyTest, ToleratesOutOfRangeInput) {
  RetryPolicy policy{5, std::chrono::milliseconds(100), std::chrono::milliseconds(1'000)};
  EXPECT_EQ(policy.delay_after(0, 0.5).count(), 50); // as attempt 1
  EXPECT_EQ(policy.delay_after(1, -1.0).count(), 0);
  EXPECT_LE(policy.delay_after(1, 7.0).count(), 100);
  EXPECT_EQ(policy.delay_after(1, std::nan("")).count(), 0);
  RetryPolicy tiny{5, std::chrono::milliseconds(5'000), std::chrono::milliseconds(1'000)};
  EXPECT_LE(tiny.delay_after(1, 0.999).count(), 1'000); // base above the cap
}

} // namespace
} // namespace pecbatch::dispatch

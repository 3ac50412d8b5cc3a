#pragma once

#include <pecbatch/core/clock.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <vector>

namespace pecbatch::dispatch {

struct Rates {
  unsigned per_minute = 0;  // 0 = no limit
  unsigned per_hour = 0;
  unsigned per_day = 0;
};

// Sliding-window rate limiter: never more than `per_minute` submissions in
// any 60 s window (plus a safety margin, see k_margin), `per_hour` in any 3600 s, `per_day` in any 86400 s.
// Exact (it keeps the submission times of the largest window), so a cron
// job seeded from the journal never exceeds the daily quota across runs.
//
// Adaptive: after a throttling reply, `slow_down` halves the per-minute
// rate in force (down to 1/min); after `quiet_period` without one, the rate
// steps back up towards the configured one.
class Throttle {
public:
  // Each window is this much longer than its name (61 s for "a minute"):
  // the provider sees a submission a little later than we take its slot,
  // by a varying delay, and must never count one too many in its own
  // window.
  static constexpr std::chrono::milliseconds k_margin{1'000};

  Throttle(Rates rates, core::Clock& clock,
           std::chrono::seconds quiet_period = std::chrono::seconds(300));

  // Seeds the windows with earlier submissions (e.g. from the journal).
  void seed(const std::vector<core::TimePoint>& times);

  // The earliest time the next submission may start (now when allowed).
  core::TimePoint next_slot();

  // Waits until a submission is allowed (via the clock) and records it.
  // Returns the time recorded.
  core::TimePoint acquire();

  // Records a submission at `when` without waiting (for `acquire` split in
  // two steps by callers that wait themselves).
  void record(core::TimePoint when);

  // Gives back the slot of a submission that did not reach the provider
  // (failed before DATA), so it does not count against the quota.
  void release_last();

  // Moves a submission recorded at `from` to `to` (later): for a slot
  // taken ahead of the message's start (the sender's look-ahead), counted
  // from when the provider really sees it begin. Only ever more cautious:
  // the slot went on counting from `from` until now. Nothing happens when
  // no submission is recorded at `from`.
  void retime(core::TimePoint from, core::TimePoint to);

  void slow_down();
  unsigned effective_per_minute() const;  // 0 = no limit

private:
  void restore_if_quiet();

  Rates m_rates;
  core::Clock& m_clock;
  std::chrono::seconds m_quiet_period;
  unsigned m_effective_per_minute;
  core::TimePoint m_last_throttled{};
  std::deque<core::TimePoint> m_times;  // ascending
};

// Exponential back-off with full jitter: attempt 1 waits about `base`,
// each later attempt doubles, capped at `max`.
struct RetryPolicy {
  unsigned max_attempts = 5;  // attempts per row per run, the first included
  std::chrono::milliseconds base{2'000};
  std::chrono::milliseconds max{120'000};

  // The wait before attempt `attempt` + 1 (attempt >= 1); `random01` is a
  // number in [0, 1) used for jitter.
  std::chrono::milliseconds delay_after(unsigned attempt, double random01) const;
};

} // namespace pecbatch::dispatch

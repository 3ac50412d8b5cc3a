#include <pecbatch/dispatch/throttle.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>

namespace pecbatch::dispatch {

namespace {

using std::chrono::ceil;
using std::chrono::milliseconds;
using Window = std::chrono::milliseconds;

// Each window is one second longer than its name: the provider counts a
// submission when it sees it (MAIL FROM or the end of data), which is a
// little later than when we took the slot, and by a varying amount (a new
// connection's TLS handshake and AUTH come first). Without the margin, the
// provider could count N + 1 submissions in its own 60 s window.
constexpr Window k_margin = Throttle::k_margin;
constexpr Window k_minute = Window{60'000} + k_margin;
constexpr Window k_hour = Window{3'600'000} + k_margin;
constexpr Window k_day = Window{86'400'000} + k_margin;

// When no per-minute limit is configured, the adaptive rate climbs back to
// this many per minute and then lifts the limit altogether.
constexpr unsigned k_unlimited_restore_ceiling = 60;

// A submission at `t` counts in the window ending at `now` while
// t > now - window: the windows are half-open, [s, s + window), so any of
// them holds at most `limit` submissions.
std::size_t first_in_window(const std::deque<core::TimePoint>& times, core::TimePoint now,
                            Window window) {
  const auto it = std::upper_bound(times.begin(), times.end(), now - window);
  return static_cast<std::size_t>(std::distance(times.begin(), it));
}

// The earliest time >= `now` at which fewer than `limit` submissions lie in
// the window (0 = no limit).
core::TimePoint earliest_for(const std::deque<core::TimePoint>& times,
                             core::TimePoint now, unsigned limit, Window window) {
  if (limit == 0) {
    return now;
  }
  const std::size_t first = first_in_window(times, now, window);
  const std::size_t count = times.size() - first;
  if (count < limit) {
    return now;
  }
  // The oldest (count - limit + 1) entries must leave the window.
  return std::max(now, times[first + (count - limit)] + window);
}

// The longest window that must be remembered (the minute window always is:
// `slow_down` reads the last minute's rate).
Window kept_window(const Rates& rates) {
  if (rates.per_day > 0) {
    return k_day;
  }
  if (rates.per_hour > 0) {
    return k_hour;
  }
  return k_minute;
}

void prune(std::deque<core::TimePoint>& times, const Rates& rates, core::TimePoint now) {
  const Window keep = kept_window(rates);
  while (!times.empty() && times.front() <= now - keep) {
    times.pop_front();
  }
}

// One step back towards the configured per-minute rate.
unsigned step_up(unsigned effective, unsigned configured) {
  if (configured == 0) {
    if (effective >= k_unlimited_restore_ceiling) {
      return 0;
    }
    return std::min(effective * 2, k_unlimited_restore_ceiling);
  }
  return std::min(effective * 2, configured);
}

// Applies one doubling per full `quiet` period elapsed since `last` (which
// moves forward by those periods); returns the new effective rate.
unsigned restored(unsigned effective, unsigned configured, core::TimePoint& last,
                  core::TimePoint now, std::chrono::seconds quiet) {
  while (effective != configured && now - last >= quiet) {
    effective = step_up(effective, configured);
    last += quiet;
  }
  return effective;
}

} // namespace

Throttle::Throttle(Rates rates, core::Clock& clock, std::chrono::seconds quiet_period)
    : m_rates(rates), m_clock(clock),
      m_quiet_period(std::max(quiet_period, std::chrono::seconds(0))),
      m_effective_per_minute(rates.per_minute) {}

void Throttle::seed(const std::vector<core::TimePoint>& times) {
  m_times.insert(m_times.end(), times.begin(), times.end());
  std::sort(m_times.begin(), m_times.end());
  prune(m_times, m_rates, m_clock.now());
}

core::TimePoint Throttle::next_slot() {
  restore_if_quiet();
  const core::TimePoint now = m_clock.now();
  prune(m_times, m_rates, now);
  core::TimePoint slot = now;
  slot = std::max(slot, earliest_for(m_times, now, m_effective_per_minute, k_minute));
  slot = std::max(slot, earliest_for(m_times, now, m_rates.per_hour, k_hour));
  slot = std::max(slot, earliest_for(m_times, now, m_rates.per_day, k_day));
  return slot;
}

core::TimePoint Throttle::acquire() {
  for (;;) {
    const core::TimePoint slot = next_slot();
    const core::TimePoint now = m_clock.now();
    if (slot <= now) {
      record(now);
      return now;
    }
    // Rounded up, so that the wait never ends just short of the slot. The
    // clock may return early: the loop checks again.
    m_clock.sleep_for(ceil<milliseconds>(slot - now));
  }
}

void Throttle::record(core::TimePoint when) {
  m_times.insert(std::upper_bound(m_times.begin(), m_times.end(), when), when);
  prune(m_times, m_rates, m_clock.now());
}

void Throttle::release_last() {
  if (!m_times.empty()) {
    m_times.pop_back();
  }
}

void Throttle::retime(core::TimePoint from, core::TimePoint to) {
  const auto after = std::upper_bound(m_times.begin(), m_times.end(), from);
  if (after == m_times.begin() || *std::prev(after) != from || to <= from) {
    return;
  }
  m_times.erase(std::prev(after));
  record(to);
}

void Throttle::slow_down() {
  restore_if_quiet();
  const core::TimePoint now = m_clock.now();
  unsigned base = m_effective_per_minute;
  if (base == 0) {
    // No limit in force: start from what was observed in the last minute.
    const std::size_t first = first_in_window(m_times, now, k_minute);
    const auto observed = static_cast<unsigned>(m_times.size() - first);
    base = observed > 0 ? observed : 60;
  }
  m_effective_per_minute = std::max(1u, base / 2);
  m_last_throttled = now;
}

unsigned Throttle::effective_per_minute() const {
  core::TimePoint last = m_last_throttled;
  return restored(m_effective_per_minute, m_rates.per_minute, last, m_clock.now(),
                  m_quiet_period);
}

void Throttle::restore_if_quiet() {
  m_effective_per_minute = restored(m_effective_per_minute, m_rates.per_minute,
                                    m_last_throttled, m_clock.now(), m_quiet_period);
}

std::chrono::milliseconds RetryPolicy::delay_after(unsigned attempt,
                                                   double random01) const {
  if (attempt == 0) {
    attempt = 1;
  }
  if (!(random01 >= 0.0)) { // negative or NaN
    random01 = 0.0;
  }
  random01 = std::min(random01, std::nextafter(1.0, 0.0));
  const double cap_ms = static_cast<double>(std::max<milliseconds::rep>(max.count(), 0));
  // base * 2^(attempt - 1), computed in floating point so that a large
  // `attempt` cannot overflow; then capped.
  const double exponential =
      static_cast<double>(std::max<milliseconds::rep>(base.count(), 0)) *
      std::ldexp(1.0, static_cast<int>(std::min(attempt - 1, 60u)));
  const double ceiling = std::min(exponential, cap_ms);
  // Full jitter: uniform in [0, ceiling).
  return milliseconds(static_cast<milliseconds::rep>(std::floor(random01 * ceiling)));
}

} // namespace pecbatch::dispatch

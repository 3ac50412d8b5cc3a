#pragma once

#include <chrono>

namespace pecbatch::core {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::milliseconds;

// Wall-clock time and waiting, behind an interface so that throttling and
// back-off can be tested with a fake clock and no real sleeping.
class Clock {
public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  // Waits `duration` (or returns early if interrupted; callers re-check).
  virtual void sleep_for(Duration duration) = 0;
};

// The real clock.
class SystemClock final : public Clock {
public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
  void sleep_for(Duration duration) override;
};

// Milliseconds since the Unix epoch (how the journal stores times).
inline long long to_unix_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch())
      .count();
}
inline TimePoint from_unix_ms(long long ms) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::milliseconds(ms)));
}

} // namespace pecbatch::core

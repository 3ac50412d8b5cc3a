#pragma once

#include <pecbatch/core/clock.hpp>

namespace pecbatch::test {

// A clock that only moves when told to: sleep_for advances it at once.
class FakeClock final : public core::Clock {
public:
  explicit FakeClock(core::TimePoint start = core::from_unix_ms(1'795'000'000'000))
      : m_now(start) {}
  core::TimePoint now() const override { return m_now; }
  void sleep_for(core::Duration duration) override {
    if (duration.count() > 0) {
      m_now += duration;
      m_slept += duration;
    }
  }
  void advance(core::Duration duration) { m_now += duration; }
  core::Duration total_slept() const { return m_slept; }

private:
  core::TimePoint m_now;
  core::Duration m_slept{0};
};

} // namespace pecbatch::test

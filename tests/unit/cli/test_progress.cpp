// The send run's console (cli/progress.hpp): how often the progress is
// drawn, and that the last state is always shown.
#include "progress.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <sstream>
#include <string>

using namespace pecbatch;
using namespace pecbatch::cli;

namespace {

// Captures std::cerr for the lifetime of the object.
class CaptureStderr {
public:
  CaptureStderr() : m_old(std::cerr.rdbuf(m_buffer.rdbuf())) {}
  ~CaptureStderr() { std::cerr.rdbuf(m_old); }
  CaptureStderr(const CaptureStderr&) = delete;
  CaptureStderr& operator=(const CaptureStderr&) = delete;
  std::string text() const { return m_buffer.str(); }

private:
  std::ostringstream m_buffer;
  std::streambuf* m_old;
};

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos;
       pos = text.find(what, pos + what.size())) {
    ++n;
  }
  return n;
}

// Reports `total` messages submitted one after the other, as fast as the
// console takes them; returns what it printed and how long it took.
std::string run(ProgressMode mode, std::uint64_t total, std::chrono::milliseconds* took) {
  CaptureStderr capture;
  const auto start = std::chrono::steady_clock::now();
  {
    SendConsole console("c1", mode);
    campaign::SendProgress p;
    p.total = total;
    for (std::uint64_t i = 1; i <= total; ++i) {
      p.submitted = i;
      p.remaining = total - i;
      console.on_progress(p);
    }
  }
  *took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return capture.text();
}

} // namespace

TEST(SendConsoleTest, TheTerminalLineIsRedrawnAtMostTenTimesASecondAndEndsOnTheLastState) {
  std::chrono::milliseconds took{};
  const auto text = run(ProgressMode::tty, 20000, &took);
  const auto draws = count(text, "\r\x1b[K[");
  // The first state, the last one, and one per 100 ms in between.
  EXPECT_GE(draws, 2u);
  EXPECT_LE(draws, 2u + static_cast<std::size_t>(took.count() / 100) + 1) << took.count();
  const auto last = text.rfind("\r\x1b[K[");
  ASSERT_NE(last, std::string::npos);
  EXPECT_EQ(text.substr(last, text.find(']', last) - last + 1),
            "\r\x1b[K[sent 20000/20000 | remaining 0]");
  EXPECT_EQ(text.find("\r\x1b[K[sent 1/20000 |"), 0u);
}

TEST(SendConsoleTest, PlainLinesComeEveryTenSecondsAndAtTheEnd) {
  std::chrono::milliseconds took{};
  const auto text = run(ProgressMode::plain, 1000, &took);
  ASSERT_LT(took.count(), 10000);
  EXPECT_EQ(count(text, "\n"), 2u) << text;
  EXPECT_EQ(text.find("pecbatch: sent 1/1000 | remaining 999"), 0u) << text;
  EXPECT_NE(text.find("\npecbatch: sent 1000/1000 | remaining 0\n"), std::string::npos) << text;
}

TEST(SendConsoleTest, QuietPrintsNothing) {
  std::chrono::milliseconds took{};
  EXPECT_EQ(run(ProgressMode::quiet, 100, &took), "");
}

TEST(SendConsoleTest, TheLineShowsTheObservedRateTheLimitAndAKnownEta) {
  auto line = [](double observed, unsigned limit, std::chrono::seconds eta) {
    CaptureStderr capture;
    {
      SendConsole console("c1", ProgressMode::plain);
      campaign::SendProgress p;
      p.total = 500;
      p.submitted = 120;
      p.remaining = 380;
      p.observed_per_minute = observed;
      p.rate_per_minute = limit;
      p.eta = eta;
      console.on_progress(p);
    }
    return capture.text();
  };
  EXPECT_EQ(line(5.94, 6, std::chrono::seconds(3800)),
            "pecbatch: sent 120/500 | remaining 380 | 5.9/min, limit 6/min | ETA 1 h 3 min\n");
  EXPECT_EQ(line(1234.4, 0, std::chrono::seconds(18)),
            "pecbatch: sent 120/500 | remaining 380 | 1234/min | ETA 18 s\n");
  // Nothing known yet: neither a rate nor an ETA of 0 s.
  EXPECT_EQ(line(0, 0, std::chrono::seconds(0)), "pecbatch: sent 120/500 | remaining 380\n");
  EXPECT_EQ(line(0, 6, std::chrono::seconds(3800)),
            "pecbatch: sent 120/500 | remaining 380 | limit 6/min | ETA 1 h 3 min\n");
}

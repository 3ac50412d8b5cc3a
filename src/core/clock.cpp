#include <pecbatch/core/clock.hpp>

#include <thread>

namespace pecbatch::core {

void SystemClock::sleep_for(Duration duration) {
  if (duration.count() > 0) {
    std::this_thread::sleep_for(duration);
  }
}

} // namespace pecbatch::core

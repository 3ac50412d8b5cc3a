#pragma once

#include <atomic>

namespace pecbatch::cli {

// While alive, SIGINT and SIGTERM set `flag()` instead of killing the
// process, so a run can finish (or abandon) what is in flight, commit, and
// exit 130. A second signal ends the process at once: the journal is
// crash-safe. The previous handlers come back on destruction.
class StopSignals {
public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Set once a stop signal arrived.
  const std::atomic<bool>& flag() const;

private:
  void (*m_int)(int);
  void (*m_term)(int);
};

} // namespace pecbatch::cli

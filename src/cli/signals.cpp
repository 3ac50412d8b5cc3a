#include "signals.hpp"

#include <csignal>

namespace pecbatch::cli {

namespace {

std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int signal_number) {
  g_stop.store(true);
  std::signal(signal_number, SIG_DFL);
}

} // namespace

StopSignals::StopSignals() {
  g_stop.store(false);
  m_int = std::signal(SIGINT, on_stop_signal);
  m_term = std::signal(SIGTERM, on_stop_signal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, m_int);
  std::signal(SIGTERM, m_term);
}

const std::atomic<bool>& StopSignals::flag() const { return g_stop; }

} // namespace pecbatch::cli

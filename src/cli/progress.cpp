#include "progress.hpp"

#include "log.hpp"
#include "output.hpp"

#include <pecbatch/core/strings.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <unistd.h>

namespace pecbatch::cli {

namespace {

constexpr auto k_plain_interval = std::chrono::seconds(10);
constexpr auto k_tty_interval = std::chrono::milliseconds(100);

std::string progress_text(const campaign::SendProgress& p) {
  std::string text = "sent " + std::to_string(p.submitted) + "/" + std::to_string(p.total);
  if (p.failed > 0) {
    text += " | failed " + std::to_string(p.failed);
  }
  if (p.deferred > 0) {
    text += " | deferred " + std::to_string(p.deferred);
  }
  if (p.uncertain > 0) {
    text += " | uncertain " + std::to_string(p.uncertain);
  }
  text += " | remaining " + std::to_string(p.remaining);
  // The rate observed, then the limit in force (lowered after throttling).
  std::string rate;
  if (p.observed_per_minute > 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, p.observed_per_minute < 10 ? "%.1f/min" : "%.0f/min",
                  p.observed_per_minute);
    rate = buf;
  }
  if (p.rate_per_minute > 0) {
    rate += (rate.empty() ? "" : ", ") + std::string("limit ") +
            std::to_string(p.rate_per_minute) + "/min";
  }
  if (!rate.empty()) {
    text += " | " + rate;
  }
  if (p.remaining > 0 && p.eta.count() > 0) {
    text += " | ETA " + campaign::format_duration(p.eta);
  }
  return text;
}

} // namespace

ProgressMode detect_progress_mode(bool quiet) {
  if (quiet) {
    return ProgressMode::quiet;
  }
  const char* term = std::getenv("TERM");
  if (::isatty(STDERR_FILENO) && term != nullptr && std::strcmp(term, "dumb") != 0) {
    return ProgressMode::tty;
  }
  return ProgressMode::plain;
}

SendConsole::SendConsole(std::string campaign_id, ProgressMode mode)
    : m_campaign_id(std::move(campaign_id)), m_mode(mode) {}

SendConsole::~SendConsole() { finish(); }

void SendConsole::on_attempt(const campaign::AttemptRecord& a) {
  std::lock_guard lock(m_mutex);
  // One structured record per attempt (never a password, never a body).
  const std::string& text = a.reply.text.empty() ? a.detail : a.reply.text;
  const LogLevel level =
      a.outcome == dispatch::Outcome::accepted ? LogLevel::info : LogLevel::warning;
  if (log_enabled(level)) {
    log(level, "attempt",
        {{"campaign", m_campaign_id},
         {"row", static_cast<std::int64_t>(a.row)},
         {"rcpt", a.address},
         {"message_id", a.message_id},
         {"attempt", static_cast<std::int64_t>(a.attempt)},
         {"code", static_cast<std::int64_t>(a.reply.code)},
         {"enhanced", a.reply.enhanced},
         {"outcome", std::string(dispatch::to_string(a.outcome))},
         {"elapsed_ms", static_cast<std::int64_t>(a.elapsed.count())},
         {"text", text}});
  }
  using dispatch::Outcome;
  if (m_mode != ProgressMode::quiet &&
      (a.outcome == Outcome::permanent || a.outcome == Outcome::unknown)) {
    clear_line();
    print_warning("row " + std::to_string(a.row) + " " + a.address + ": " +
                  dispatch::to_string(a.outcome) + ": " +
                  (a.reply.code ? std::to_string(a.reply.code) + " " : "") +
                  (a.reply.enhanced.empty() ? "" : a.reply.enhanced + " ") +
                  (a.reply.text.empty() ? a.detail : a.reply.text));
  }
}

void SendConsole::on_progress(const campaign::SendProgress& p) {
  std::lock_guard lock(m_mutex);
  const auto now = std::chrono::steady_clock::now();
  if (m_mode == ProgressMode::tty) {
    // Redrawn at most ten times a second: one write per message would cost
    // the sender more than the terminal shows.
    if (p.remaining == 0 || !m_line_shown || now - m_last_tty >= k_tty_interval) {
      std::cerr << "\r\x1b[K[" << progress_text(p) << "]" << std::flush;
      m_line_shown = true;
      m_last_tty = now;
    }
  } else if (m_mode == ProgressMode::plain) {
    if (p.remaining == 0 || now - m_last_plain >= k_plain_interval) {
      std::cerr << "pecbatch: " << progress_text(p) << '\n';
      m_last_plain = now;
    }
  }
}

void SendConsole::on_notice(const std::string& text) {
  std::lock_guard lock(m_mutex);
  log(LogLevel::warning, "notice", {{"campaign", m_campaign_id}, {"text", text}});
  if (m_mode != ProgressMode::quiet) {
    clear_line();
    print_warning(text);
  }
}

void SendConsole::clear_line() {
  if (m_line_shown) {
    std::cerr << "\r\x1b[K";
    m_line_shown = false;
  }
}

void SendConsole::finish() {
  std::lock_guard lock(m_mutex);
  if (m_line_shown) {
    std::cerr << '\n';
    m_line_shown = false;
  }
}

} // namespace pecbatch::cli

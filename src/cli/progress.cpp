#include "progress.hpp"

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

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      now.time_since_epoch()) %
                  1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms.count()));
  return out;
}

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
  if (p.rate_per_minute > 0) {
    text += " | " + std::to_string(p.rate_per_minute) + "/min";
  }
  if (p.remaining > 0) {
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

SendConsole::SendConsole(std::string campaign_id, ProgressMode mode,
                         const std::string& log_file)
    : m_campaign_id(std::move(campaign_id)), m_mode(mode) {
  if (!log_file.empty()) {
    m_log.open(log_file, std::ios::app);
    if (!m_log) {
      throw core::Fatal(core::make_error(core::ErrorKind::io,
                                         log_file + ": cannot open log file: " +
                                             std::strerror(errno)));
    }
  }
}

SendConsole::~SendConsole() { finish(); }

void SendConsole::log(const std::string& line) {
  if (m_log.is_open()) {
    m_log << timestamp() << ' ' << line << '\n';
    m_log.flush();
  }
}

void SendConsole::on_attempt(const campaign::AttemptRecord& a) {
  std::lock_guard lock(m_mutex);
  // One structured line per attempt (never a password, never a body).
  log("campaign=" + m_campaign_id + " row=" + std::to_string(a.row) +
      " rcpt=" + a.address + " message_id=" + a.message_id +
      " attempt=" + std::to_string(a.attempt) +
      " code=" + std::to_string(a.reply.code) +
      " enhanced=" + (a.reply.enhanced.empty() ? "-" : a.reply.enhanced) +
      " outcome=" + dispatch::to_string(a.outcome) +
      " elapsed_ms=" + std::to_string(a.elapsed.count()) +
      " text=" + core::quote(a.reply.text.empty() ? a.detail : a.reply.text));
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
  if (m_mode == ProgressMode::tty) {
    std::cerr << "\r\x1b[K[" << progress_text(p) << "]" << std::flush;
    m_line_shown = true;
  } else if (m_mode == ProgressMode::plain) {
    const auto now = std::chrono::steady_clock::now();
    if (p.remaining == 0 || now - m_last_plain >= k_plain_interval) {
      std::cerr << "pecbatch: " << progress_text(p) << '\n';
      m_last_plain = now;
    }
  }
}

void SendConsole::on_notice(const std::string& text) {
  std::lock_guard lock(m_mutex);
  log("campaign=" + m_campaign_id + " notice=" + core::quote(text));
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

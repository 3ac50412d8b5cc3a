#pragma once

#include <pecbatch/campaign/send.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace pecbatch::cli {

enum class ProgressMode { tty, plain, quiet };

// Chooses how progress is shown: a live line on a terminal, periodic plain
// lines otherwise (cron, CI), nothing with --quiet.
ProgressMode detect_progress_mode(bool quiet);

// Shows a send run as it happens: progress on stderr, one structured record
// per attempt in the log (cli/log.hpp), failures as warnings.
class SendConsole final : public campaign::SendObserver {
public:
  SendConsole(std::string campaign_id, ProgressMode mode);
  ~SendConsole() override;

  void on_attempt(const campaign::AttemptRecord& attempt) override;
  void on_progress(const campaign::SendProgress& progress) override;
  void on_notice(const std::string& text) override;

  // Ends the live progress line, if one is shown.
  void finish();

private:
  void clear_line();

  std::string m_campaign_id;
  ProgressMode m_mode;
  std::mutex m_mutex;
  bool m_line_shown = false;
  std::chrono::steady_clock::time_point m_last_plain{};
  std::chrono::steady_clock::time_point m_last_tty{};
};

} // namespace pecbatch::cli

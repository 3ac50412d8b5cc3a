#pragma once

#include <pecbatch/campaign/rows.hpp>
#include <pecbatch/campaign/validate.hpp>
#include <pecbatch/config/campaign.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/result.hpp>
#include <pecbatch/dispatch/transport.hpp>
#include <pecbatch/journal/journal.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pecbatch::campaign {

struct SendOptions {
  bool execute = false;   // --yes: really send; otherwise only the plan
  bool dry_run = false;   // everything but SMTP and journal writes
  std::optional<std::uint64_t> limit;  // at most this many rows this run
  RowSet rows;
  bool accept_changes = false;
  std::time_t date = 0;   // Date header (0 = now)
};

// One SMTP attempt, for the per-attempt log line.
struct AttemptRecord {
  std::uint64_t row = 0;
  std::string address;
  std::string message_id;
  unsigned attempt = 0;   // attempts of this row, all runs
  dispatch::Outcome outcome = dispatch::Outcome::transient;
  dispatch::SmtpReply reply;
  std::string detail;
  std::chrono::milliseconds elapsed{0};
};

struct SendProgress {
  std::uint64_t total = 0;      // rows selected for this run
  std::uint64_t submitted = 0;
  std::uint64_t failed = 0;
  std::uint64_t deferred = 0;
  std::uint64_t uncertain = 0;
  std::uint64_t remaining = 0;
  unsigned rate_per_minute = 0;  // in force now (0 = no limit)
  // Rows finished per minute over the last minute (or since the run
  // started, when that is shorter); 0 until a second has passed.
  double observed_per_minute = 0;
  // Time left at the rate in force or at the observed rate, whichever is
  // slower; 0 when neither is known yet (no limit, first second).
  std::chrono::seconds eta{0};
};

// Receives what happens during a run. Called from worker threads, one call
// at a time.
class SendObserver {
public:
  virtual ~SendObserver() = default;
  virtual void on_attempt(const AttemptRecord& /*attempt*/) {}
  virtual void on_progress(const SendProgress& /*progress*/) {}
  virtual void on_notice(const std::string& /*text*/) {}
};

struct PendingRow {
  std::uint64_t row = 0;
  std::string address;
  std::string message_id;
  std::uint64_t size = 0;
};

struct SendReport {
  ValidationReport validation;
  // Inputs changed since the campaign's first send; when not empty and not
  // accepted, nothing was sent.
  std::vector<std::string> changes;
  bool refused_changes = false;
  journal::Recovery recovery;
  std::map<journal::State, std::uint64_t> states_before;  // journal, before this run
  std::uint64_t pending = 0;               // rows this run would send
  std::vector<PendingRow> first_pending;   // the first few, for the plan
  std::chrono::seconds estimated{0};
  SendProgress progress;                   // what this run did
  bool interrupted = false;
  std::optional<core::Error> stopped;      // auth or TLS failure: run stopped
  std::map<journal::State, std::uint64_t> states_after;
};

using TransportFactory = std::function<std::unique_ptr<dispatch::Transport>()>;

struct SendDeps {
  TransportFactory transport;     // one Transport per worker
  core::Clock* clock = nullptr;
  SendObserver* observer = nullptr;
  const std::atomic<bool>* stop = nullptr;  // set on SIGINT/SIGTERM
};

// The journal's location for a campaign.
std::filesystem::path journal_path(const config::Campaign& campaign);

// Where the exact bytes sent for a row are kept.
std::filesystem::path evidence_dir(const config::Campaign& campaign,
                                   const std::string& message_id);

// SMTP settings for the campaign's account.
dispatch::SmtpSettings smtp_settings(const config::Campaign& campaign,
                                     std::string password);

// What identifies the content of a row across runs (the journal's
// `content_sha256`): compose::content_digest of its spec.
std::string content_sha256(const compose::MessageSpec& spec);

// The content hash journals recorded before the spec digest: SHA-256 of the
// composed bytes without the Date header (64 hex digits, no prefix).
std::string legacy_content_sha256(const std::string& bytes);

// Whether a recorded content hash still describes the message of `spec`: a
// spec digest is compared with the spec's, a legacy hash with that of the
// message composed from it.
core::Result<bool> same_content(const std::string& recorded,
                                const compose::MessageSpec& spec);

// Sends the campaign's pending rows (see docs/sending.md): validates
// everything, locks the campaign, recovers from an interrupted run, refuses
// changed inputs, then sends each row once through the throttle, recording
// every step in the journal before the next network step. Without
// `execute` (or with `dry_run`) it only reports the plan.
//
// When a row is invalid, `validation.errors` lists the problems and nothing
// is sent; when inputs changed, `refused_changes` is set and nothing is
// sent. Fails with `transient` when the campaign is locked by another run,
// `config`/`no_input`/`io` as usual. An authentication or TLS failure is
// not an error: the run stops at once and `stopped` says why.
core::Result<SendReport> send_campaign(const config::Campaign& campaign,
                                       const SendOptions& options,
                                       const SendDeps& deps);

} // namespace pecbatch::campaign

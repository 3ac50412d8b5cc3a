#pragma once

#include <pecbatch/config/campaign.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/result.hpp>
#include <pecbatch/journal/journal.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

// Where a campaign stands, from its journal alone (`pecbatch status`,
// docs/reports.md): rows per state, the send rate, the time left to send
// at the configured rate, the last receipt, and the rows that need a
// person. Read-only: the journal is opened read-only and no lock is taken,
// so it can be asked while `send` or `poll` runs.
namespace pecbatch::campaign {

// How status and reports group the states.
enum class StateGroup {
  to_send,            // queued, sending, deferred: not yet handed to the provider
  awaiting_receipts,  // submitting, submitted, uncertain, accepted, delayed
  success,            // delivered, sent_external
  failure,            // failed, rejected, delivery_failed, failed_timeout, no_receipt,
                      // abandoned
};
StateGroup group_of(journal::State state);
const char* to_string(StateGroup group);

// Every journal state in lifecycle order: before sending, on the wire,
// waiting for receipts, then the final states (successes first).
const std::vector<journal::State>& lifecycle_states();

// States whose rows need a decision by a person: uncertain (the provider
// may have the message), deferred (run send again), and every failure
// except abandoned (already sent again).
bool needs_decision(journal::State state);

// The row's last problem in one line: the SMTP reply ("550 5.1.1 text")
// while the row is in an SMTP state, or the receipt's error text
// ("no-dest: 5.1.1 - indirizzo non valido") after a failure receipt; ""
// when there is none.
std::string describe_error(const journal::RowRecord& row);

// ISO 8601 in the local time zone with its offset, to the second:
// "2026-11-22T11:05:01+01:00".
std::string iso_local_time(core::TimePoint time);

struct StateCount {
  journal::State state = journal::State::queued;
  std::uint64_t count = 0;
  double percent = 0;  // of all rows, 0 when there are none
};

struct DecisionRow {
  std::uint64_t row = 0;
  std::string address;
  std::string message_id;
  journal::State state = journal::State::queued;
  std::string error;  // describe_error
};

struct StatusReport {
  std::string campaign_id;
  std::string campaign_name;
  std::filesystem::path journal_file;
  core::TimePoint now{};

  // Recipients: the latest attempt of each contacts row; an attempt sent
  // again (pecbatch retry) is not counted, nor listed among decisions.
  std::uint64_t total = 0;
  std::vector<StateCount> states;  // every state, lifecycle order (zeros included)
  std::uint64_t to_send = 0;
  std::uint64_t awaiting_receipts = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;

  // Submissions (rows that reached `submitting`, at their latest DATA).
  std::uint64_t submissions = 0;
  std::optional<core::TimePoint> first_submission;
  std::optional<core::TimePoint> last_submission;
  std::chrono::minutes rate_window{10};
  std::uint64_t recent_submissions = 0;  // within rate_window before now
  double recent_rate_per_minute = 0;
  double average_rate_per_minute = 0;    // first to last submission (0 under a minute)

  config::Limits limits;                 // the configured rates
  // Time to send the `to_send` rows: at the configured rates, else (no
  // configured rate) at the recent rate; nullopt when neither is known.
  std::optional<std::chrono::seconds> eta;
  std::string eta_basis;                 // "configured rate", "recent rate", ""

  std::optional<core::TimePoint> last_receipt;
  std::vector<DecisionRow> decisions;    // every row needing a decision, row order
};

// Reads the campaign's journal (read-only, no lock) and summarises it as of
// `now`. Fails with `config` when the campaign has no journal yet (nothing
// was sent), or the journal is not this campaign's; `io` on read errors.
core::Result<StatusReport> campaign_status(const config::Campaign& campaign,
                                           core::TimePoint now);

// Opens the campaign's journal read-only; a missing journal is a `config`
// error that says to run `pecbatch send` first (as `poll` does).
core::Result<journal::Journal> open_journal_read_only(const config::Campaign& campaign);

} // namespace pecbatch::campaign

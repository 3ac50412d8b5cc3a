#pragma once

#include <pecbatch/config/campaign.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/result.hpp>
#include <pecbatch/journal/journal.hpp>
#include <pecbatch/receipts/mailbox.hpp>
#include <pecbatch/receipts/signature.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// The receipt poller: reads the sender's mailbox headers first, fetches
// and archives the receipts that concern this campaign, and moves each row
// along the receipt state machine (docs/polling.md).
namespace pecbatch::campaign {

struct PollOptions {
  // Keep polling until every sent row is final, or `timeout`.
  bool until_final = false;
  std::chrono::milliseconds timeout{0};  // 0 = no limit (until_final only)
  // A fixed wait between passes; otherwise 2 s, doubling up to 60 s. With
  // one folder and a server that offers IDLE, the wait ends early when
  // new mail arrives.
  std::optional<std::chrono::milliseconds> interval;
};

// The longest single IDLE (RFC 2177 asks clients to end it before the
// server's 30-minute inactivity timeout); a longer wait is several IDLEs.
inline constexpr std::chrono::milliseconds k_max_idle{28 * 60 * 1000};

// What the passes saw, summed.
struct PollCounts {
  std::uint64_t passes = 0;
  std::uint64_t examined = 0;      // new messages whose header fields were read
  std::uint64_t skipped = 0;       // of those: not about this campaign, never fetched
  std::uint64_t fetched = 0;       // messages fetched whole and archived
  std::uint64_t already_seen = 0;  // UIDs already recorded (not read again)
  std::uint64_t duplicates = 0;    // same bytes already recorded under another UID
  std::uint64_t receipts = 0;      // valid receipts matched to a row
  std::uint64_t applied = 0;       // row state changes
  std::uint64_t untrusted = 0;     // receipts whose signature is not valid
  std::uint64_t unmatched = 0;     // valid receipts matching no row (or another recipient)
  std::uint64_t orphans = 0;       // referencing a Message-ID of this campaign's form, no row
  std::uint64_t other = 0;         // envelopes, anomalies, unreadable
  std::uint64_t vanished = 0;      // UIDs gone before they could be read
  std::uint64_t searched = 0;      // uncertain rows searched for (per folder and pass)
  std::uint64_t found_by_search = 0;  // messages fetched because a search found them
  std::uint64_t settled = 0;       // uncertain rows settled by a receipt
  std::uint64_t no_receipt = 0;    // rows moved to no_receipt (deadline passed)
  std::uint64_t bytes = 0;         // bytes received from the IMAP server
  std::uint64_t message_bytes = 0; // of which the whole messages fetched
  std::uint64_t moved = 0;         // messages moved to poll.archive_folder
  std::uint64_t idle_wakeups = 0;  // waits ended early by new mail (IMAP IDLE)
};

// A message that names a Message-ID of this campaign's form
// (`pecbatch.<campaign>.…`) that no row has: kept under evidence/_unmatched/.
struct Orphan {
  std::string folder;
  std::uint64_t uidvalidity = 0;
  std::uint64_t uid = 0;
  std::string message_id;  // the Message-ID it references
  std::string kind;        // "accettazione", …, or its class
  std::string file;        // relative to the output directory
};

struct PollReport {
  PollCounts counts;
  std::map<journal::State, std::uint64_t> states;  // all rows, after the last pass
  std::uint64_t pending = 0;       // sent rows not yet in a final state
  // Uncertain rows past poll.uncertain_grace_hours with no receipt: no
  // more searching; `pecbatch resolve` decides (part of `pending`).
  std::uint64_t needs_decision = 0;
  std::vector<Orphan> orphans;     // found in this run
  bool interrupted = false;
  bool timed_out = false;
};

// Receives what happens during a poll (notices: UIDVALIDITY changes,
// untrusted receipts, transient failures between passes).
class PollObserver {
public:
  virtual ~PollObserver() = default;
  virtual void on_notice(const std::string& /*text*/) {}
  virtual void on_pass(const PollCounts& /*counts*/, std::uint64_t /*pending*/) {}
};

using MailboxFactory = std::function<std::unique_ptr<receipts::Mailbox>()>;

struct PollDeps {
  MailboxFactory mailbox;
  // Verifies receipt signatures; when null, the OpenSSL verifier trusting
  // the system CAs plus account.ca_file is used.
  const receipts::SignatureVerifier* verifier = nullptr;
  core::Clock* clock = nullptr;
  PollObserver* observer = nullptr;
  const std::atomic<bool>* stop = nullptr;  // set on SIGINT/SIGTERM
};

// The rows that wait for receipts: sent (submitted, uncertain) or not yet
// final (accepted, delayed).
bool is_awaiting_receipts(journal::State state);

// Parses a daticert time ("2024-01-01T10:00:00+01:00", also "Z" or no
// offset = UTC); nullopt when malformed.
std::optional<core::TimePoint> parse_receipt_time(const std::string& text);

// IMAP settings for the campaign's account.
receipts::ImapSettings imap_settings(const config::Campaign& campaign, std::string password);

// Where receipts of a row, and messages matching no row, are archived.
std::filesystem::path receipts_dir(const config::Campaign& campaign,
                                   const std::string& message_id);
std::filesystem::path unmatched_dir(const config::Campaign& campaign);

// Polls the campaign's mailbox (see docs/polling.md): locks the campaign,
// opens its journal, and in each of `poll.folders` (examined read-only)
// reads the header fields of every message not seen yet. Only receipts and
// provider envelopes that reference one of this campaign's Message-IDs
// (or look like one: orphans) are fetched whole; their exact bytes are
// archived, verified, recorded (once per UIDVALIDITY/UID) and, for a valid
// receipt of one of our rows, applied to the state machine. Everything
// else is counted as skipped, never fetched. Uncertain rows are settled by
// receipts already recorded and, within `poll.uncertain_grace_hours`, by
// searching each folder for their Message-ID. At the end of each pass,
// rows submitted or accepted longer than `poll.no_receipt_after_hours` ago
// become `no_receipt`, and the evidence manifests of the rows touched are
// written (campaign/evidence.hpp). With `poll.archive_folder` set, the
// messages archived and durably recorded as this campaign's evidence are
// then moved there (Mailbox::move; on failure a notice, polling goes on).
// One pass, or passes until every sent row is final (`until_final`),
// waiting between passes with IDLE when there is one folder and the
// server offers it, else sleeping.
//
// Fails with `config` when the campaign has no journal yet (nothing sent)
// or a folder does not exist, `transient` when it is locked by another run
// or the mailbox cannot be reached (single pass), `auth`/`tls`/`config` on
// a login, certificate or settings problem, `io` for local files.
core::Result<PollReport> poll_campaign(const config::Campaign& campaign,
                                       const PollOptions& options, const PollDeps& deps);

} // namespace pecbatch::campaign

#pragma once

#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/result.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

// The campaign journal: one SQLite database (WAL, synchronous=FULL) that
// holds the fate of every recipient row. Each state transition is
// committed before the network step it guards (the record made before
// DATA durably, also across power loss). See docs/journal.md for the schema and the state machine.
namespace pecbatch::journal {

// Per-recipient states (PROTOCOL.md §7.5, extended for submission).
enum class State {
  queued,      // known, not yet sent
  sending,     // an attempt started; no byte of the message has left
               // (written by earlier versions of the sender; still read and
               // recovered)
  submitting,  // an attempt is under way: the message may have left, no
               // final reply yet
  submitted,   // 250 after DATA: the provider has it
  deferred,    // transient failures used up this run's attempts; sent again next run
  failed,      // permanent SMTP failure (5xx); not sent again
  uncertain,   // found in `submitting` after a crash: the provider may have
               // accepted it; never re-sent automatically
  // Set by the receipt poller (campaign::poll_campaign, docs/polling.md):
  accepted,
  rejected,
  sent_external,
  delivered,
  delivery_failed,
  delayed,
  failed_timeout,
  no_receipt,
  // Set only by Journal::resend_uncertain (`pecbatch resolve
  // --resend-uncertain`): an uncertain message a person decided to send
  // again under a new Message-ID. Final for pecbatch, but receipts of the
  // first message, should the provider have taken it after all, still
  // apply (a duplicate: the report shows both).
  abandoned,
};
const char* to_string(State state);
std::optional<State> parse_state(std::string_view text);

// Whether `from` -> `to` is a legal transition (the state machine).
bool is_allowed(State from, State to);

struct RowRecord {
  std::int64_t id = 0;
  std::uint64_t row = 0;          // the contacts row
  std::string address;
  std::string message_id;         // fixed before the first attempt
  State state = State::queued;
  unsigned attempts = 0;          // SMTP attempts so far, all runs
  std::string content_sha256;     // the message without its Date header
  std::string sent_sha256;        // the exact bytes sent (set at submitting)
  int last_code = 0;              // last SMTP reply code, 0 = none
  std::string last_enhanced;
  std::string last_text;
  core::TimePoint created{};
  core::TimePoint updated{};
  core::TimePoint submitted{};    // when the 250 was seen (epoch if never)
  // Schema 3: retries (docs/journal.md, "Sending a row again"). The
  // Message-ID's generation; the row this one was sent again for; the row
  // that was sent again for this one (set once, never for a delivered row).
  unsigned generation = 1;
  std::optional<std::int64_t> retry_of;
  std::optional<std::int64_t> superseded_by;
};

struct NewRow {
  std::uint64_t row = 0;
  std::string address;
  std::string message_id;
  std::string content_sha256;
  // 0: the journal picks the row's id. Otherwise the id to give it, taken
  // from next_row_id() by the only writer of the journal (the sender, under
  // the campaign lock), so that it can refer to the row before the insert
  // is committed.
  std::int64_t id = 0;
};

// What a transition carries besides the new state.
struct Transition {
  core::TimePoint at{};
  bool new_attempt = false;       // increments `attempts` (queued/deferred -> sending)
  int smtp_code = 0;              // stored as last_* when non-zero
  std::string enhanced;
  std::string text;
  std::string sent_sha256;        // stored when not empty
  // Leaving `submitting` for an attempt that ended before DATA (refused or
  // lost at MAIL/RCPT): clears the submission time set on entering
  // `submitting`, so that quotas and `status` count only messages whose
  // data started.
  bool before_data = false;
  // Leaving `submitting` after DATA: when the message's transaction really
  // began, for a record made ahead of it (the sender's look-ahead).
  // Replaces the submission time, which quotas and later runs' throttle
  // windows count from.
  std::optional<core::TimePoint> started_at;
  std::string detail;             // free text for the event log
  // true: the commit is fsync'ed and survives a power loss before the call
  // returns. false: it survives a killed process at once (it is in the
  // WAL) and a power loss from the next durable commit or sync() on (the
  // WAL is written in order). The sender makes only `submitting`, the
  // record made before DATA, wait for the disk (docs/journal.md).
  bool durable = true;
};

// One transition of a batch (Journal::apply).
struct Change {
  std::int64_t id = 0;
  State to = State::queued;
  Transition info;
};

struct Event {
  std::int64_t row_id = 0;
  core::TimePoint at{};
  std::optional<State> from;      // nullopt for the row's creation
  State to = State::queued;
  int smtp_code = 0;
  std::string detail;
};

// Rows changed by `recover`.
struct Recovery {
  std::uint64_t sending_requeued = 0;       // sending -> queued (nothing left)
  std::uint64_t submitting_uncertain = 0;   // submitting -> uncertain
};

// One message found in the sender's mailbox by the poller (schema v2,
// table `receipts`), whatever its class and signature. Unique by
// (uidvalidity, uid).
struct ReceiptRecord {
  std::uint64_t uid = 0;
  std::uint64_t uidvalidity = 0;
  std::string message_id;      // daticert msgid (no angle brackets), "" if none
  std::string kind;            // "accettazione", ..., "" if unknown
  std::string identificativo;
  std::string consegna;
  std::string errore;
  std::string errore_esteso;
  std::string time;            // daticert time, ISO 8601
  std::string signature;       // "valid", "invalid", "untrusted", "unsigned"
  std::string file;            // where the raw bytes were archived
  std::string sha256;          // of the raw bytes
  std::optional<std::int64_t> row_id;  // the journal row it was matched to
  core::TimePoint at{};        // when it was recorded
};

// Where the poller stopped in the mailbox (meta `imap:uidvalidity`,
// `imap:last_uid`): every UID up to `last_uid` has been handled.
struct MailboxCursor {
  std::uint64_t uidvalidity = 0;
  std::uint64_t last_uid = 0;
};

// What a receipt does to its row: `steps` are tried in order, each
// applied only when the row's state at that moment allows it (illegal or
// redundant steps are skipped, not errors). `text`/`enhanced`, when not
// empty, become the row's last_text/last_enhanced (errore-esteso).
struct ReceiptEffect {
  std::int64_t row_id = 0;
  std::vector<State> steps;
  std::string text;
  std::string enhanced;
  std::string detail;          // the event detail
};

// Sending a row again under a new Message-ID (`retry_row`,
// `resend_uncertain`).
struct Resend {
  std::int64_t id = 0;            // the row to send again: its latest attempt
  std::string new_message_id;     // the Message-ID of generation + 1
  core::TimePoint at{};
  std::string detail;             // who and why, for both rows' events
};

// States that `retry_row` accepts: the message definitively did not reach
// the recipient (failed, rejected, delivery_failed, failed_timeout), or
// nothing is known after the poller's deadline (no_receipt).
bool is_retryable(State state);

struct ReceiptOutcome {
  bool recorded = false;       // false: (uidvalidity, uid) was already known
  std::vector<State> applied;  // the steps applied, in order
};

class Journal {
public:
  // Opens (creating if needed) the journal at `file` for `campaign_id`.
  // Applies schema migrations in order (PRAGMA user_version); refuses a
  // journal written by a newer pecbatch, or one of another campaign, with
  // kind `config`. I/O and SQLite failures are `io`.
  static core::Result<Journal> open(const std::filesystem::path& file,
                                    const std::string& campaign_id);

  // Opens an existing journal for reading only (`pecbatch status`,
  // `report`): nothing is ever written to it and no lock is taken, so it
  // can be read while a run is active. Checks like `open` (kind `config`
  // for a newer, foreign or other campaign's journal); a journal of an
  // older schema is read through a migrated in-memory copy, the file left
  // as it is. A missing file fails with `no_input`. Every writing method
  // fails on a read-only journal (kind `io`, SQLite's "readonly database").
  static core::Result<Journal> open_read_only(const std::filesystem::path& file,
                                              const std::string& campaign_id);

  Journal(Journal&&) noexcept;
  Journal& operator=(Journal&&) noexcept;
  ~Journal();

  // Key/value settings of the campaign (e.g. input hashes), durable.
  core::Result<std::optional<std::string>> get_meta(const std::string& key);
  core::Status set_meta(const std::string& key, const std::string& value);
  // Every meta entry whose key starts with `prefix`.
  core::Result<std::map<std::string, std::string>> meta_with_prefix(const std::string& prefix);

  // Adds rows not yet known (matched by message_id) in one transaction,
  // each `queued` with a creation event. Known rows are left untouched.
  // Returns how many were added.
  core::Result<std::uint64_t> add_rows(const std::vector<NewRow>& rows, core::TimePoint at);

  // The id the next row added without one would get (1 + the largest so
  // far): the first of the ids a writer may give its own new rows.
  core::Result<std::int64_t> next_row_id();

  // Updates a queued or deferred row's row number and content hash (after
  // the user accepted changed inputs). Never touches other states.
  core::Status update_pending_row(std::int64_t id, std::uint64_t row,
                                  const std::string& content_sha256);

  // At the start of a run: rows left `sending` by a crash go back to
  // `queued` (no byte of them left), rows left `submitting` become
  // `uncertain`. One transaction, with events.
  core::Result<Recovery> recover(core::TimePoint at);

  core::Result<std::optional<RowRecord>> find_by_message_id(const std::string& message_id);
  core::Result<RowRecord> get(std::int64_t id);

  // Calls `visit` for every row in one of `states` (all rows when empty),
  // in contacts-row order, streaming; stops early when `visit` returns
  // false.
  core::Status for_each(const std::vector<State>& states,
                        const std::function<bool(const RowRecord&)>& visit);

  // Number of rows per state (states with no row are absent).
  core::Result<std::map<State, std::uint64_t>> counts();

  // Moves row `id` to `to` in its own transaction, with an event (durable
  // unless info.durable is false). Fails with kind `internal` (and changes
  // nothing) when the row's current state does not allow it.
  core::Status transition(std::int64_t id, State to, const Transition& info);

  // Applies `changes` in order in one transaction, each checked and
  // recorded as `transition` does: all of them or none. The commit is
  // fsync'ed when any of them is durable (which makes every earlier commit
  // durable too). The sender's journal writer groups the records of several
  // messages and workers into one commit this way (group commit).
  core::Status apply(std::span<const Change> changes);

  // The same, adding `rows` (as add_rows does, at `rows_at`) first, in the
  // same transaction: new rows and the transitions of rows added by an
  // earlier call or this one commit together. Adding rows alone makes no
  // durable commit: they are durable with the next durable one.
  core::Status apply(std::span<const NewRow> rows, core::TimePoint rows_at,
                     std::span<const Change> changes);

  // Makes every commit so far durable (also those made with
  // Transition::durable = false): a WAL checkpoint, which syncs the log.
  core::Status sync();

  // The latest attempt of the row whose (first) Message-ID is
  // `message_id`: that row, or the end of its chain of retries
  // (superseded_by). nullopt when no row has this Message-ID.
  core::Result<std::optional<RowRecord>> find_current(const std::string& message_id);

  // Sends row `request.id` again: adds a new row, `queued`, for the same
  // contacts row and address, with `request.new_message_id`, generation + 1,
  // `retry_of` = the old row and an empty content hash (set by the next
  // send's plan); the old row keeps its state, evidence and events, gains
  // `superseded_by` and an event naming the new Message-ID. One durable
  // transaction. Refused with kind `input`, changing nothing, when the row
  // is not retryable (is_retryable; a delivered row never is), was already
  // sent again, or the Message-ID exists. Returns the new row.
  core::Result<RowRecord> retry_row(const Resend& request);

  // The same for an `uncertain` row, which becomes `abandoned` (with the
  // event) in the same transaction. Also refused (kind `input`) when any
  // receipt naming the row's Message-ID is recorded, whatever its
  // signature: the provider has the message, and the poller settles it.
  core::Result<RowRecord> resend_uncertain(const Resend& request);

  // Number of rows per state, counting only each contacts row's latest
  // attempt (rows not superseded).
  core::Result<std::map<State, std::uint64_t>> current_counts();

  // Times of submissions (rows that reached `submitting`) at or after
  // `since`, ascending: seeds the throttle's hour and day windows across
  // runs.
  core::Result<std::vector<core::TimePoint>> submissions_since(core::TimePoint since);

  // Records a receipt found at (uidvalidity, uid), applies its effect on a
  // row (if any) and advances the mailbox cursor to at least `uid`, all in
  // one durable transaction: a pass killed at any point neither loses nor
  // double-counts a receipt. When (uidvalidity, uid) is already recorded
  // nothing changes except the cursor, and `recorded` is false.
  core::Result<ReceiptOutcome> record_receipt(const ReceiptRecord& receipt,
                                              const std::optional<ReceiptEffect>& effect);

  // Whether a receipt is recorded at (uidvalidity, uid); and whether one
  // with exactly these bytes (SHA-256) is recorded under any UID.
  core::Result<bool> has_receipt(std::uint64_t uidvalidity, std::uint64_t uid);
  core::Result<bool> has_receipt_sha256(const std::string& sha256);

  // Every recorded receipt, in the order recorded.
  core::Result<std::vector<ReceiptRecord>> receipts();
  // The recorded receipts whose daticert msgid is `message_id`, in the
  // order recorded (indexed).
  core::Result<std::vector<ReceiptRecord>> receipts_for(const std::string& message_id);

  // When the last receipt was recorded (nullopt when none was).
  core::Result<std::optional<core::TimePoint>> last_receipt_time();

  // The mailbox cursor (nullopt before the first poll), and its update.
  core::Result<std::optional<MailboxCursor>> mailbox_cursor();
  core::Status set_mailbox_cursor(const MailboxCursor& cursor);

  // The cursor of IMAP folder `folder` (nullopt before its first poll),
  // and its update. INBOX (any case) is the cursor above; another folder
  // keeps its own in meta `imap:folder:<name>:uidvalidity` / `:last_uid`.
  core::Result<std::optional<MailboxCursor>> folder_cursor(const std::string& folder);
  core::Status set_folder_cursor(const std::string& folder, const MailboxCursor& cursor);

  // As record_receipt, but advances the cursor of `folder`, or no cursor
  // at all when `folder` is nullopt (a message found by a search, which
  // says nothing about the UIDs below it).
  core::Result<ReceiptOutcome> record_receipt_in(const std::optional<std::string>& folder,
                                                 const ReceiptRecord& receipt,
                                                 const std::optional<ReceiptEffect>& effect);

  // Applies `effect` to its row as record_receipt does (steps the row's
  // state does not allow are skipped), in one transaction, for a receipt
  // recorded earlier when it could not apply (e.g. while the row was still
  // `submitting`, before it became `uncertain`). Returns the steps applied.
  core::Result<std::vector<State>> apply_receipt_effect(const ReceiptEffect& effect,
                                                        core::TimePoint at);

  // The event history of a row, oldest first.
  core::Result<std::vector<Event>> events(std::int64_t id);

private:
  struct Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

} // namespace pecbatch::journal

#pragma once

#include <pecbatch/campaign/rows.hpp>
#include <pecbatch/compose/message.hpp>
#include <pecbatch/config/campaign.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/result.hpp>
#include <pecbatch/journal/journal.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// Sending rows again under a new Message-ID (docs/sending.md, "Sending a
// row again"): `pecbatch retry --failed` for rows that definitively failed,
// `pecbatch resolve --resend-uncertain` for rows the provider may have.
// Both only re-queue: the next `pecbatch send` sends the new rows, with the
// usual lock, throttle and journal guarantees.
namespace pecbatch::campaign {

enum class ResendMode {
  retry_failed,      // pecbatch retry --failed
  resend_uncertain,  // pecbatch resolve --resend-uncertain
};

struct ResendOptions {
  ResendMode mode = ResendMode::retry_failed;
  // retry_failed: the states to pick (each journal::is_retryable); empty =
  // default_retry_states(). Ignored for resend_uncertain.
  std::vector<journal::State> states;
  RowSet rows;
  bool execute = false;  // --yes: re-queue; otherwise only list
  // Who and why, recorded in the events of both rows (e.g. "pecbatch retry
  // --failed by mario: casella di nuovo attiva").
  std::string detail;
};

// What `retry --failed` picks without --states: the rows whose message
// certainly did not reach the recipient (failed, rejected, delivery_failed,
// failed_timeout). `no_receipt` must be asked for: the provider accepted
// those messages and a late delivery is possible.
const std::vector<journal::State>& default_retry_states();

struct ResendCandidate {
  journal::RowRecord row;        // the latest attempt of a contacts row
  std::string new_message_id;    // generation + 1
  std::string refused;           // why it cannot be sent again; "" = it can
  std::vector<std::string> receipt_kinds;  // resend_uncertain: receipts recorded
  bool requeued = false;         // execute: the new row was added
};

struct ResendReport {
  std::vector<ResendCandidate> rows;  // in contacts-row order
  std::uint64_t requeued = 0;
  std::uint64_t refused = 0;
  // resend_uncertain: the mailbox was never polled, so nothing is known
  // about these messages; every row is refused.
  bool never_polled = false;
};

// Lists (and with `execute` re-queues) the rows to send again: the latest
// attempt of each contacts row in `rows` whose state is chosen (retry:
// `states`; resend: uncertain). Each gets the Message-ID of the next
// generation (compose::make_message_id). A row is refused, with the reason,
// when its Message-ID does not follow the campaign's scheme (account
// changed), and for resend_uncertain when any receipt naming its
// Message-ID is recorded or when the campaign was never polled. With
// `execute` the campaign is locked and each row re-queued in its own
// journal transaction (Journal::retry_row / resend_uncertain); without it
// the journal is only read.
//
// Fails with `config` when the campaign has no journal yet or a state is
// not retryable (the message says why, e.g. for delivered or uncertain);
// `transient` when the campaign is locked by another run; `io`.
core::Result<ResendReport> resend_rows(const config::Campaign& campaign,
                                       const ResendOptions& options, core::Clock& clock);

// The message of a retried row's attempt: `first` (the contact's message as
// composed, with the first generation's Message-ID) composed again under
// `message_id`; the MIME boundaries derive from the Message-ID, so every
// byte is that attempt's own. Fails like compose::compose_message.
struct AttemptMessage {
  compose::MessageSpec spec;
  std::string bytes;
};
core::Result<AttemptMessage> compose_attempt(const compose::MessageSpec& first,
                                             const std::string& message_id);

} // namespace pecbatch::campaign

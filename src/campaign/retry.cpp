#include <pecbatch/campaign/retry.hpp>

#include <pecbatch/campaign/lock.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/core/address.hpp>
#include <pecbatch/core/strings.hpp>

#include <algorithm>
#include <filesystem>
#include <utility>

namespace pecbatch::campaign {

using core::ErrorKind;
using core::make_error;
using journal::State;

namespace {

core::Status check_states(const std::vector<State>& states) {
  for (const State state : states) {
    if (journal::is_retryable(state)) {
      continue;
    }
    std::string why;
    switch (state) {
    case State::delivered:
      why = "a delivered row is never sent again";
      break;
    case State::uncertain:
      why = "the provider may have these messages: only 'pecbatch resolve "
            "--resend-uncertain' sends them again, after a poll";
      break;
    case State::queued:
    case State::deferred:
      why = "'pecbatch send' sends these rows";
      break;
    default:
      why = "not a failure; retryable states are failed, rejected, delivery_failed, "
            "failed_timeout, no_receipt";
      break;
    }
    return make_error(ErrorKind::config,
                      std::string("--states: ") + journal::to_string(state) + ": " + why);
  }
  return core::Ok{};
}

// Opens the journal: to write (locked) or only to read.
struct OpenJournal {
  std::optional<CampaignLock> lock;
  std::optional<journal::Journal> journal;
};

core::Result<OpenJournal> open_journal(const config::Campaign& campaign, bool writing) {
  const auto file = journal_path(campaign);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    return make_error(ErrorKind::config, "campaign " + core::quote(campaign.id) +
                                             " has no journal yet (" + file.string() +
                                             "): nothing was sent");
  }
  OpenJournal out;
  if (writing) {
    PB_TRY_ASSIGN(auto lock, CampaignLock::acquire(campaign.output_dir));
    out.lock.emplace(std::move(lock));
    PB_TRY_ASSIGN(auto journal, journal::Journal::open(file, campaign.id));
    out.journal.emplace(std::move(journal));
  } else {
    PB_TRY_ASSIGN(auto journal, journal::Journal::open_read_only(file, campaign.id));
    out.journal.emplace(std::move(journal));
  }
  return out;
}

} // namespace

const std::vector<State>& default_retry_states() {
  static const std::vector<State> states = {State::failed, State::rejected,
                                            State::delivery_failed, State::failed_timeout};
  return states;
}

core::Result<ResendReport> resend_rows(const config::Campaign& campaign,
                                       const ResendOptions& options, core::Clock& clock) {
  const bool uncertain = options.mode == ResendMode::resend_uncertain;
  std::vector<State> states;
  if (uncertain) {
    states = {State::uncertain};
  } else {
    states = options.states.empty() ? default_retry_states() : options.states;
    PB_TRY(check_states(states));
  }
  PB_TRY_ASSIGN(auto opened, open_journal(campaign, options.execute));
  journal::Journal& journal = *opened.journal;

  ResendReport report;
  // The rows first, then the changes: no write while a read is open.
  PB_TRY(journal.for_each(states, [&](const journal::RowRecord& row) {
    if (!row.superseded_by && options.rows.contains(row.row)) {
      report.rows.push_back(ResendCandidate{row, {}, {}, {}, false});
    }
    return true;
  }));

  if (uncertain && !report.rows.empty()) {
    PB_TRY_ASSIGN(const auto cursor, journal.mailbox_cursor());
    report.never_polled = !cursor.has_value();
  }
  const std::string domain(core::mailbox_domain(campaign.account.address));
  for (auto& candidate : report.rows) {
    const auto& row = candidate.row;
    candidate.new_message_id =
        compose::make_message_id(campaign.id, row.address, domain, row.generation + 1);
    if (compose::make_message_id(campaign.id, row.address, domain, row.generation) !=
        row.message_id) {
      candidate.refused = "its Message-ID does not follow this campaign's scheme "
                          "(account.address or campaign.id changed since it was sent)";
      continue;
    }
    if (!uncertain) {
      continue;
    }
    PB_TRY_ASSIGN(const auto receipts, journal.receipts_for(row.message_id));
    for (const auto& receipt : receipts) {
      const std::string kind = receipt.kind.empty() ? "unknown" : receipt.kind;
      std::string label = kind;
      label.append(" (").append(receipt.signature.empty() ? "unread" : receipt.signature)
          .append(")");
      if (std::find(candidate.receipt_kinds.begin(), candidate.receipt_kinds.end(), label) ==
          candidate.receipt_kinds.end()) {
        candidate.receipt_kinds.push_back(label);
      }
    }
    if (!receipts.empty()) {
      candidate.refused = "receipts naming its Message-ID are recorded: the provider has "
                          "it; 'pecbatch poll' settles it (check account.ca_file if their "
                          "signature is not valid)";
    } else if (report.never_polled) {
      candidate.refused = "the mailbox was never polled: run 'pecbatch poll' first, its "
                          "receipts may be there";
    }
  }

  for (auto& candidate : report.rows) {
    if (!candidate.refused.empty()) {
      ++report.refused;
      continue;
    }
    if (!options.execute) {
      continue;
    }
    journal::Resend request;
    request.id = candidate.row.id;
    request.new_message_id = candidate.new_message_id;
    request.at = clock.now();
    request.detail = options.detail;
    auto added = uncertain ? journal.resend_uncertain(request) : journal.retry_row(request);
    if (!added.ok()) {
      if (added.error().kind != ErrorKind::input) {
        return std::move(added).error();
      }
      // Changed since it was listed (e.g. by another process): not sent
      // again, and said why.
      candidate.refused = added.error().message;
      ++report.refused;
      continue;
    }
    candidate.requeued = true;
    ++report.requeued;
  }
  return report;
}

core::Result<AttemptMessage> compose_attempt(const compose::MessageSpec& first,
                                             const std::string& message_id) {
  AttemptMessage out{first, {}};
  out.spec.message_id = message_id;
  PB_TRY_ASSIGN(out.bytes, compose::compose_message(out.spec));
  return out;
}

} // namespace pecbatch::campaign

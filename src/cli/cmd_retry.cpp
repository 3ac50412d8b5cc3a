// pecbatch retry CAMPAIGN --failed: re-queues rows that definitively failed
// as new attempts with new Message-IDs; the next `pecbatch send` sends them.

#include "command.hpp"
#include "exit_codes.hpp"
#include "output.hpp"
#include "resend_output.hpp"

#include <pecbatch/campaign/retry.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/strings.hpp>

#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct RetryOptions {
  CampaignOptions campaign;
  bool failed = false;
  std::string states;
  std::string rows;
  std::string reason;
  bool yes = false;
};

std::vector<journal::State> parse_states_or_throw(const std::string& text) {
  std::vector<journal::State> out;
  std::vector<std::string> names;
  for (const char* name : {"failed", "rejected", "delivery_failed", "failed_timeout",
                           "no_receipt"}) {
    names.emplace_back(name);
  }
  for (const auto& item : core::split(text, ',')) {
    const std::string name(core::trim(item));
    if (name.empty()) {
      continue;
    }
    const auto state = journal::parse_state(name);
    if (!state) {
      std::string message = "--states: unknown state " + core::quote(name);
      if (auto guess = core::suggest(name, names)) {
        message += " (did you mean " + core::quote(*guess) + "?)";
      }
      throw core::Fatal(core::make_error(core::ErrorKind::config, message));
    }
    out.push_back(*state);
  }
  if (out.empty()) {
    throw core::Fatal(core::make_error(core::ErrorKind::config, "--states: no state given"));
  }
  return out;
}

std::string join_states(const std::vector<journal::State>& states) {
  std::string out;
  for (const auto state : states) {
    out.append(out.empty() ? "" : ", ").append(journal::to_string(state));
  }
  return out;
}

int run_retry(const RetryOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);
  campaign::ResendOptions resend;
  resend.mode = campaign::ResendMode::retry_failed;
  if (!options.states.empty()) {
    resend.states = parse_states_or_throw(options.states);
  }
  if (!options.rows.empty()) {
    resend.rows = campaign::RowSet::parse(options.rows).value_or_throw();
  }
  resend.execute = options.yes;
  resend.detail = resend_detail("pecbatch retry --failed", options.reason);

  core::SystemClock clock;
  const auto report = campaign::resend_rows(campaign, resend, clock).value_or_throw();
  const auto& states = resend.states.empty() ? campaign::default_retry_states() : resend.states;

  std::cout << "campaign    " << campaign.id << " (journal "
            << campaign::journal_path(campaign).string() << ")\n";
  std::cout << "retry       " << rows_word(report.rows.size()) << " in "
            << join_states(states) << (options.rows.empty() ? "" : ", rows " + options.rows)
            << "\n";
  print_resend_rows(report);

  std::uint64_t maybe_delivered = 0;
  for (const auto& c : report.rows) {
    if (c.refused.empty() && (c.row.state == journal::State::failed_timeout ||
                              c.row.state == journal::State::no_receipt)) {
      ++maybe_delivered;
    }
  }
  if (maybe_delivered > 0) {
    print_warning(rows_word(maybe_delivered) +
                  " (failed_timeout, no_receipt) were accepted by the provider: a late "
                  "delivery of the first message is still possible, and the recipient "
                  "would then have two certified messages");
  }

  const std::uint64_t eligible = report.rows.size() - report.refused;
  if (report.rows.empty()) {
    std::cout << "result      nothing to retry\n";
  } else if (eligible == 0) {
    std::cout << "result      nothing changed: no chosen row can be sent again\n";
  } else if (!options.yes) {
    std::cout << "result      nothing changed: add --yes to re-queue "
              << (eligible == 1 ? "this row" : "these rows") << "\n";
  } else {
    print_requeued(report.requeued, "re-queued", options.campaign.campaign);
  }
  return resend_exit_code(report.refused);
}

} // namespace

void setup_retry(CLI::App& app, Command& command) {
  auto options = std::make_shared<RetryOptions>();
  auto* sub = app.add_subcommand(
      "retry", "Re-queue failed rows as new attempts with new Message-IDs (needs --yes)");
  add_campaign_options(*sub, options->campaign);
  sub->add_flag("--failed", options->failed,
                "Pick rows whose message failed (required: says what is retried)")
      ->required();
  sub->add_option("--states", options->states,
                  "Only these states, comma-separated (default: failed,rejected,"
                  "delivery_failed,failed_timeout; no_receipt also allowed)")
      ->type_name("S,...");
  sub->add_option("--rows", options->rows, "Only these contacts rows, e.g. 2-10,15")
      ->type_name("RANGES");
  sub->add_option("--reason", options->reason,
                  "Why, recorded in the journal's events with your user name")
      ->type_name("TEXT");
  sub->add_flag("--yes,-y", options->yes,
                "Really re-queue. Without it, only list what would be re-queued");
  sub->footer(
      "Each chosen row gets a new row in the journal, queued, with the next Message-ID "
      "(...<generation + 1>@domain) and a link to the attempt it replaces, which keeps "
      "its state and evidence. 'pecbatch send' then sends the new rows, once. A "
      "delivered row is never retried; uncertain rows need 'pecbatch resolve "
      "--resend-uncertain'.\n"
      "Examples:\n"
      "  pecbatch retry campaign.toml --failed                  # list what would be re-queued\n"
      "  pecbatch retry campaign.toml --failed --rows 12 --yes --reason \"indirizzo corretto\"\n"
      "  pecbatch retry campaign.toml --failed --states delivery_failed --yes\n"
      "  pecbatch send campaign.toml --yes                      # sends them\n"
      "Exit status: 0 listed or re-queued (also: nothing to retry), 65 a chosen row cannot "
      "be sent again, 75 campaign locked by another run, 78 no journal yet or a bad "
      "--states.");
  sub->callback([options, &command] { command = [options] { return run_retry(*options); }; });
}

} // namespace pecbatch::cli

// pecbatch resolve CAMPAIGN --resend-uncertain: the only way to send an
// uncertain row again, as an explicit decision of a person, when the
// poller found no receipt for it.

#include "command.hpp"
#include "exit_codes.hpp"
#include "output.hpp"
#include "resend_output.hpp"

#include <pecbatch/campaign/retry.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/core/clock.hpp>

#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct ResolveOptions {
  CampaignOptions campaign;
  bool resend_uncertain = false;
  std::string rows;
  std::string reason;
  bool yes = false;
};

constexpr const char* k_duplicate_warning =
    "DUPLICATE RISK: an uncertain message may have been accepted by the provider even "
    "though no receipt was found (receipts can be late, or land in another folder).\n"
    "Sending it again under a new Message-ID then gives the recipient a second certified "
    "message, with its own legal effects.\n"
    "Do it only after 'pecbatch poll' found nothing and, if in doubt, after checking with "
    "the provider (the first message's Message-ID is listed above).";

int run_resolve(const ResolveOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);
  campaign::ResendOptions resend;
  resend.mode = campaign::ResendMode::resend_uncertain;
  if (!options.rows.empty()) {
    resend.rows = campaign::RowSet::parse(options.rows).value_or_throw();
  }
  resend.execute = options.yes;
  resend.detail = resend_detail("pecbatch resolve --resend-uncertain", options.reason);

  core::SystemClock clock;
  const auto report = campaign::resend_rows(campaign, resend, clock).value_or_throw();

  std::cout << "campaign    " << campaign.id << " (journal "
            << campaign::journal_path(campaign).string() << ")\n";
  std::cout << "uncertain   " << rows_word(report.rows.size())
            << (options.rows.empty() ? "" : " in rows " + options.rows) << "\n";
  print_resend_rows(report);

  const std::uint64_t eligible = report.rows.size() - report.refused;
  if (eligible > 0 && !(options.yes && report.requeued == 0)) {
    print_warning(k_duplicate_warning);
  }
  if (report.never_polled) {
    print_error("the campaign's mailbox was never polled: run 'pecbatch poll " +
                options.campaign.campaign + "' first");
  }
  if (report.rows.empty()) {
    std::cout << "result      nothing to resolve: no uncertain row\n";
  } else if (eligible == 0) {
    std::cout << "result      nothing changed: no chosen row can be sent again\n";
  } else if (!options.yes) {
    std::cout << "result      nothing changed: add --yes to send "
              << (eligible == 1 ? "this row again under a new Message-ID"
                                : "these rows again under new Message-IDs")
              << "\n";
  } else {
    print_requeued(report.requeued, "abandoned and re-queued", options.campaign.campaign);
  }
  return resend_exit_code(report.refused);
}

} // namespace

void setup_resolve(CLI::App& app, Command& command) {
  auto options = std::make_shared<ResolveOptions>();
  auto* sub = app.add_subcommand(
      "resolve", "Decide about uncertain rows: send them again under new Message-IDs "
                 "(needs --yes)");
  add_campaign_options(*sub, options->campaign);
  sub->add_flag("--resend-uncertain", options->resend_uncertain,
                "Send uncertain rows again (required: the one decision this command makes)")
      ->required();
  sub->add_option("--rows", options->rows, "Only these contacts rows, e.g. 7,12")
      ->type_name("RANGES");
  sub->add_option("--reason", options->reason,
                  "Why, recorded in the journal's events with your user name")
      ->type_name("TEXT");
  sub->add_flag("--yes,-y", options->yes,
                "Really re-queue. Without it, only list what would be sent again");
  sub->footer(
      "An uncertain row is one whose message went out whole but whose acceptance was "
      "never confirmed (a dropped connection, a crash): the provider may have it. pecbatch "
      "never sends it again by itself. This command does, as a new attempt with a new "
      "Message-ID; the old row becomes 'abandoned' (its receipts, should any come, still "
      "count). It refuses rows for which any receipt naming their Message-ID is recorded, "
      "and every row while the mailbox was never polled.\n"
      "Examples:\n"
      "  pecbatch poll campaign.toml                            # look for receipts first\n"
      "  pecbatch resolve campaign.toml --resend-uncertain      # list\n"
      "  pecbatch resolve campaign.toml --resend-uncertain --rows 7 --yes --reason "
      "\"gestore: nessuna traccia\"\n"
      "  pecbatch send campaign.toml --yes\n"
      "Exit status: 0 listed or re-queued (also: nothing uncertain), 65 a chosen row cannot "
      "be sent again (receipts recorded, never polled), 75 campaign locked by another run, "
      "78 no journal yet.");
  sub->callback(
      [options, &command] { command = [options] { return run_resolve(*options); }; });
}

} // namespace pecbatch::cli

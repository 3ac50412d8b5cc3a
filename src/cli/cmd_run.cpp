// pecbatch run: the whole job in one command, for cron and CI: validate,
// send, poll the mailbox until every row is final (or the timeout), print
// the per-recipient report and exit with one code that says how it ended.

#include "command.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "output.hpp"
#include "poll_flow.hpp"
#include "send_flow.hpp"

#include <pecbatch/campaign/poll.hpp>
#include <pecbatch/campaign/report.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/campaign/status.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/strings.hpp>
#include <pecbatch/receipts/mailbox.hpp>

#include <algorithm>
#include <iostream>
#include <memory>
#include <sstream>

namespace pecbatch::cli {

namespace {

struct RunOptions {
  CampaignOptions campaign;
  bool yes = false;
  bool allow_external = false;
  std::string timeout = "30m";
  std::string interval;
  std::string rows;
  bool accept_changes = false;
  std::string report_file;
  std::string report_format;
  std::vector<std::string> fields;
  bool quiet = false;
  bool trace = false;
};

std::string format_from(const std::string& file, const std::string& format) {
  if (!format.empty()) {
    return format;
  }
  const auto ext = std::filesystem::path(file).extension().string();
  if (ext == ".csv") {
    return "csv";
  }
  if (ext == ".json") {
    return "json";
  }
  if (ext == ".html" || ext == ".htm") {
    return "html";
  }
  throw core::Fatal(core::make_error(
      core::ErrorKind::config,
      "--report: cannot tell the format from " + core::quote(file) +
          " (use a .html, .csv or .json name, or --report-format)"));
}

// The per-recipient table printed at the end.
void print_table(const campaign::Report& report) {
  std::size_t width = 9;
  for (const auto& row : report.rows) {
    width = std::max(width, row.address.size());
  }
  width = std::min<std::size_t>(width, 48);
  auto pad = [](const std::string& text, std::size_t n) {
    return text.size() >= n ? text + " " : text + std::string(n - text.size() + 1, ' ');
  };
  std::cout << "\n" << pad("row", 4) << pad("recipient", width) << pad("state", 15)
            << pad("signature", 10) << "detail\n";
  for (const auto& row : report.rows) {
    std::string detail = row.error;
    if (detail.empty() && row.delivered_at) {
      detail = "delivered " + *row.delivered_at;
    } else if (detail.empty() && row.accepted_at) {
      detail = "accepted " + *row.accepted_at;
    }
    if (row.retry_of) {
      detail += (detail.empty() ? "" : "; ") + std::string("retry of ") + *row.retry_of;
    }
    if (row.retried_as) {
      detail += (detail.empty() ? "" : "; ") + std::string("sent again as ") + *row.retried_as;
    }
    std::cout << pad(std::to_string(row.row), 4) << pad(row.address, width)
              << pad(journal::to_string(row.state), 15)
              << pad(row.signature.empty() ? "-" : row.signature, 10) << detail << "\n";
  }
  std::cout << "\n";
  std::cout << "total       " << report.total << " rows:";
  for (const auto& count : report.counts) {
    if (count.count > 0) {
      std::cout << " " << journal::to_string(count.state) << "=" << count.count;
    }
  }
  std::cout << "\n";
}

// 0 every row delivered (sent_external too with --allow-external), 69 a row
// failed or cannot be proven delivered, 75 rows still pending.
int exit_code_for_rows(const campaign::Report& report, bool allow_external) {
  bool failed = false;
  bool pending = false;
  for (const auto& row : report.rows) {
    using journal::State;
    if (!row.current) {
      continue;  // an attempt sent again: its successor decides
    }
    if (row.state == State::delivered) {
      continue;
    }
    if (row.state == State::sent_external) {
      failed = failed || !allow_external;
      continue;
    }
    if (campaign::group_of(row.state) == campaign::StateGroup::failure) {
      failed = true;
    } else {
      pending = true;
    }
  }
  if (failed) {
    return k_exit_unavailable;
  }
  return pending ? k_exit_temp : k_exit_ok;
}

int run_run(const RunOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);
  campaign::SendOptions send;
  send.execute = options.yes;
  send.accept_changes = options.accept_changes;
  if (!options.rows.empty()) {
    send.rows = campaign::RowSet::parse(options.rows).value_or_throw();
  }
  campaign::PollOptions poll;
  poll.until_final = true;
  poll.timeout = parse_duration_option("--timeout", options.timeout);
  if (!options.interval.empty()) {
    poll.interval = parse_duration_option("--interval", options.interval);
    if (poll.interval->count() <= 0) {
      throw core::Fatal(
          core::make_error(core::ErrorKind::config, "--interval: must be more than 0"));
    }
  }
  const std::string format =
      options.report_file.empty() ? "" : format_from(options.report_file, options.report_format);

  std::string password;
  if (options.yes) {
    for (const auto& [host, key] : {std::pair{&campaign.account.smtp_host, "smtp_host"},
                                    std::pair{&campaign.account.imap_host, "imap_host"}}) {
      if (host->empty()) {
        throw core::Fatal(core::make_error(core::ErrorKind::config,
                                           std::string("account.") + key +
                                               ": not set, and profile " +
                                               campaign.profile->name + " does not know it"));
      }
    }
    // Fails early (before any work) on a missing or unsafe password source.
    password = config::resolve_password(campaign.account).value_or_throw();
  }

  // 1-2. Validate and send (without --yes: the plan only).
  const auto sent = send_and_report(campaign, send, password, options.quiet, options.trace);
  if (sent.final) {
    return sent.exit_code;
  }

  // 3. Receipts, until every sent row is final or the timeout.
  const auto polled = poll_with_console(campaign, poll, password, options.quiet, options.trace);
  core::SystemClock clock;

  // 4. The report.
  campaign::ReportOptions report_options;
  report_options.fields = options.fields;
  const auto report =
      campaign::build_report(campaign, report_options, clock.now()).value_or_throw();
  print_table(report);
  if (!options.report_file.empty()) {
    std::string text;
    if (format == "csv") {
      text = campaign::render_csv(report, campaign::CsvOptions{});
    } else if (format == "json") {
      text = campaign::render_json(report);
    } else {
      campaign::HtmlOptions html;
      html.link_prefix = campaign::link_prefix_for(options.report_file, campaign.output_dir);
      text = campaign::render_html(report, html);
    }
    core::write_file_atomic(options.report_file, text).value_or_throw();
    std::cout << "report      " << options.report_file << "\n";
  }
  std::cout << "evidence    " << (campaign.output_dir / "evidence").string() << "\n";

  if (polled.interrupted) {
    print_warning("interrupted: the journal is up to date; run again to continue");
    return k_exit_interrupted;
  }
  const int code = exit_code_for_rows(report, options.allow_external);
  if (code == k_exit_temp && polled.timed_out) {
    print_warning("timeout: some rows still await their receipts; 'pecbatch poll' or "
                  "another 'pecbatch run' continues (nothing is sent twice)");
  }
  return code;
}

} // namespace

void setup_run(CLI::App& app, Command& command) {
  auto options = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand(
      "run", "Validate, send, and poll receipts until every row is final (needs --yes)");
  add_campaign_options(*sub, options->campaign);
  sub->add_flag("--yes,-y", options->yes,
                "Really send. Without it, only print what would be sent");
  sub->add_flag("--allow-external", options->allow_external,
                "Count recipients outside PEC (accepted, sent on as ordinary mail, no "
                "delivery proof possible) as a success");
  sub->add_option("--timeout", options->timeout,
                  "Stop polling after this long, e.g. 90s, 10m, 2h (default 30m)")
      ->type_name("DURATION");
  sub->add_option("--interval", options->interval,
                  "Fixed wait between mailbox passes (default: 2 s, doubling up to 60 s); "
                  "with one folder and IMAP IDLE it ends as soon as new mail arrives")
      ->type_name("DURATION");
  sub->add_option("--rows", options->rows, "Only these rows, e.g. 2-10,15")
      ->type_name("RANGES");
  sub->add_flag("--accept-changes", options->accept_changes,
                "Send although contacts, templates or attachments changed since the "
                "first send (rows already submitted are never re-sent)");
  sub->add_option("--report", options->report_file,
                  "Also write the report to FILE (.html, .csv or .json)")
      ->type_name("FILE");
  sub->add_option("--report-format", options->report_format,
                  "Format of --report when its name does not say it")
      ->check(CLI::IsMember({"csv", "json", "html"}))
      ->type_name("FORMAT");
  sub->add_option("--fields", options->fields,
                  "Contacts columns to show in the --report file, e.g. --fields nome,fattura")
      ->delimiter(',')
      ->type_name("NAMES");
  sub->add_flag("--quiet,-q", options->quiet, "No progress output");
  sub->add_flag("--trace", options->trace,
                "Show the SMTP and IMAP dialogues on stderr (secrets redacted, bodies omitted)");
  sub->footer(
      "Examples:\n"
      "  pecbatch run campaign.toml                 # the plan: what would be sent\n"
      "  pecbatch run campaign.toml --yes --timeout 2h --report esito.html\n"
      "Exit status: 0 every row delivered (sent to an external address too with "
      "--allow-external), 69 some rows failed, were rejected or cannot be proven "
      "delivered, 75 rows still pending at the timeout (or campaign locked), 65 data "
      "error or changed inputs, 78 configuration or authentication, 130 interrupted. "
      "See docs/exit-codes.md.");
  sub->callback([options, &command] { command = [options] { return run_run(*options); }; });
}

} // namespace pecbatch::cli

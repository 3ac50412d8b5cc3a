// pecbatch send CAMPAIGN: sends each pending row as its own certified
// message, throttled, recorded in the journal, never twice.

#include "command.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "output.hpp"
#include "progress.hpp"
#include "send_flow.hpp"
#include "signals.hpp"

#include <pecbatch/campaign/send.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/strings.hpp>

#include <atomic>
#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct SendOptions {
  CampaignOptions campaign;
  bool yes = false;
  bool dry_run = false;
  std::int64_t limit = -1;
  std::string rows;
  bool accept_changes = false;
  bool quiet = false;
  bool trace = false;
};

std::string count_of(std::uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void print_plan(const config::Campaign& campaign, const campaign::SendReport& report,
                bool dry_run) {
  std::cout << "campaign    " << campaign.id << "\n";
  std::uint64_t done = 0;
  for (const auto& [state, n] : report.states_before) {
    if (state != journal::State::queued && state != journal::State::deferred) {
      done += n;
    }
  }
  std::cout << (dry_run ? "dry run     " : "plan        ") << "would send "
            << count_of(report.pending, "message", "messages") << " ("
            << report.validation.valid << " valid rows, " << done
            << " already submitted or settled)\n";
  for (const auto& row : report.first_pending) {
    std::cout << "            row " << row.row << "  " << row.address << "  "
              << campaign::format_size(row.size) << "\n";
  }
  if (report.pending > report.first_pending.size()) {
    std::cout << "            ... and " << report.pending - report.first_pending.size()
              << " more\n";
  }
  std::cout << "duration    about " << campaign::format_duration(report.estimated)
            << " at the provider's rate\n";
  std::cout << (dry_run ? "result      dry run: nothing sent, journal unchanged\n"
                        : "result      nothing sent: add --yes to send\n");
}

int run_send(const SendOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);
  campaign::SendOptions send;
  send.execute = options.yes;
  send.dry_run = options.dry_run;
  send.accept_changes = options.accept_changes;
  if (options.limit >= 0) {
    send.limit = static_cast<std::uint64_t>(options.limit);
  }
  if (!options.rows.empty()) {
    send.rows = campaign::RowSet::parse(options.rows).value_or_throw();
  }

  const bool executing = options.yes && !options.dry_run;
  std::string password;
  if (executing || options.dry_run) {
    if (campaign.account.smtp_host.empty()) {
      throw core::Fatal(core::make_error(
          core::ErrorKind::config,
          "account.smtp_host: not set, and profile " + campaign.profile->name +
              " does not know the provider's SMTP host"));
    }
    // Fails early (before any work) on a missing or unsafe password source.
    password = config::resolve_password(campaign.account).value_or_throw();
  }

  const auto outcome = send_and_report(campaign, send, password, options.quiet, options.trace);
  return outcome.exit_code;
}

} // namespace

SendOutcome send_and_report(const config::Campaign& campaign,
                            const campaign::SendOptions& send, const std::string& password,
                            bool quiet, bool trace) {
  const bool executing = send.execute && !send.dry_run;
  SendConsole console(campaign.id, detect_progress_mode(quiet));
  auto settings = campaign::smtp_settings(campaign, password);
  if (trace) {
    settings.trace = [](const std::string& line) {
      log(LogLevel::debug, "smtp", {{"line", line}});
      std::cerr << "smtp: " << line << '\n';
    };
  }
  core::SystemClock clock;
  StopSignals signals;
  campaign::SendDeps deps;
  deps.transport = [settings] { return dispatch::make_curl_transport(settings); };
  deps.clock = &clock;
  deps.observer = &console;
  deps.stop = &signals.flag();

  const auto report = campaign::send_campaign(campaign, send, deps).value_or_throw();
  console.finish();

  print_diagnostics(report.validation.warnings, true);
  if (!report.validation.errors.empty()) {
    print_diagnostics(report.validation.errors);
    print_error(count_of(report.validation.errors.size(), "problem", "problems") +
                ": nothing sent (see 'pecbatch validate')");
    return {k_exit_data, true};
  }
  if (report.recovery.submitting_uncertain > 0) {
    print_warning(count_of(report.recovery.submitting_uncertain, "row was", "rows were") +
                  " being submitted when the last run stopped: now 'uncertain'. The "
                  "provider may have accepted them, so they are never re-sent "
                  "automatically; their acceptance receipts settle them.");
  }
  if (report.refused_changes) {
    std::string message = "the campaign's inputs changed since its first send:";
    for (const auto& change : report.changes) {
      message += "\n  " + change;
    }
    message += "\nnothing sent. Rows already submitted are never re-sent; to send the "
               "rest as they are now, run again with --accept-changes";
    print_error(message);
    return {k_exit_data, true};
  }
  if (!executing) {
    print_plan(campaign, report, send.dry_run);
    return {k_exit_ok, true};
  }

  const auto& p = report.progress;
  std::cout << "campaign    " << campaign.id << " (journal "
            << campaign::journal_path(campaign).string() << ")\n"
            << "this run    " << p.submitted << " submitted, " << p.failed << " failed, "
            << p.deferred << " deferred, " << p.uncertain << " uncertain, of " << p.total
            << " selected\n";
  std::cout << "all rows   ";
  for (const auto& [state, n] : report.states_after) {
    std::cout << " " << journal::to_string(state) << "=" << n;
  }
  std::cout << "\n";

  if (report.stopped) {
    print_error("run stopped: " + report.stopped->message +
                (report.stopped->kind == core::ErrorKind::auth
                     ? " (authentication failed: check the username and password; "
                       "nothing is retried, to keep the account from being locked)"
                     : " (TLS failure: check the host, port and CA)"));
    return {report.stopped->kind == core::ErrorKind::auth ? k_exit_config
                                                          : k_exit_unavailable,
            true};
  }
  if (report.interrupted) {
    print_warning("interrupted: the journal is up to date; run again to continue");
    return {k_exit_interrupted, true};
  }
  if (p.failed > 0) {
    return {k_exit_unavailable, false};
  }
  if (p.deferred > 0 || p.uncertain > 0 || p.submitted < p.total) {
    return {k_exit_temp, false};
  }
  return {k_exit_ok, false};
}

void setup_send(CLI::App& app, Command& command) {
  auto options = std::make_shared<SendOptions>();
  auto* sub = app.add_subcommand(
      "send", "Send each pending row as its own certified message (needs --yes)");
  add_campaign_options(*sub, options->campaign);
  sub->add_flag("--yes,-y", options->yes,
                "Really send. Without it, only print what would be sent");
  sub->add_flag("--dry-run", options->dry_run,
                "Do everything except SMTP and journal writes");
  sub->add_option("--limit", options->limit, "Send at most N rows this run (tranches)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--rows", options->rows, "Only these rows, e.g. 2-10,15")
      ->type_name("RANGES");
  sub->add_flag("--accept-changes", options->accept_changes,
                "Send although contacts, templates or attachments changed since the "
                "first send (rows already submitted are never re-sent)");
  sub->add_flag("--quiet,-q", options->quiet, "No progress output");
  sub->add_flag("--trace", options->trace,
                "Show the SMTP dialogue on stderr (AUTH redacted, bodies omitted)");
  sub->footer(
      "Running it again continues where the last run stopped; a second run of the same "
      "campaign exits at once with 75. The password comes from the campaign's "
      "password_env, password_file or password_command, never from the command line.\n"
      "Exit status: 0 every selected row submitted, 65 data error or changed inputs, "
      "69 permanent failures, 75 deferred/uncertain rows or campaign locked, "
      "78 configuration or authentication, 130 interrupted.");
  sub->callback([options, &command] { command = [options] { return run_send(*options); }; });
}

} // namespace pecbatch::cli

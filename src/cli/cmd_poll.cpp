// pecbatch poll CAMPAIGN: reads the provider's receipts from the sender's
// mailbox, archives them, and moves each row along the receipt states.

#include "command.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "output.hpp"
#include "poll_flow.hpp"
#include "signals.hpp"

#include <pecbatch/campaign/poll.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/strings.hpp>

#include <atomic>
#include <charconv>
#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct PollOptions {
  CampaignOptions campaign;
  bool until_final = false;
  std::string timeout;
  std::string interval;
  bool quiet = false;
  bool trace = false;
};

class PollConsole final : public campaign::PollObserver {
public:
  explicit PollConsole(bool quiet) : m_quiet(quiet) {}
  void on_notice(const std::string& text) override {
    log(LogLevel::warning, "notice", {{"text", text}});
    print_warning(text);
  }
  void on_pass(const campaign::PollCounts& counts, std::uint64_t pending) override {
    log(LogLevel::info, "poll_pass",
        {{"pass", static_cast<std::int64_t>(counts.passes)},
         {"examined", static_cast<std::int64_t>(counts.examined)},
         {"fetched", static_cast<std::int64_t>(counts.fetched)},
         {"receipts", static_cast<std::int64_t>(counts.receipts)},
         {"applied", static_cast<std::int64_t>(counts.applied)},
         {"untrusted", static_cast<std::int64_t>(counts.untrusted)},
         {"bytes", static_cast<std::int64_t>(counts.bytes)},
         {"moved", static_cast<std::int64_t>(counts.moved)},
         {"idle_wakeups", static_cast<std::int64_t>(counts.idle_wakeups)},
         {"pending", static_cast<std::int64_t>(pending)}});
    if (!m_quiet) {
      std::cerr << "poll: pass " << counts.passes << ": " << counts.examined
                << " new messages so far (" << counts.fetched << " fetched), " << pending
                << " rows awaiting receipts\n";
    }
  }

private:
  bool m_quiet;
};

int run_poll(const PollOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);
  campaign::PollOptions poll;
  poll.until_final = options.until_final;
  if (!options.timeout.empty()) {
    poll.timeout = parse_duration_option("--timeout", options.timeout);
  }
  if (!options.interval.empty()) {
    poll.interval = parse_duration_option("--interval", options.interval);
    if (poll.interval->count() <= 0) {
      throw core::Fatal(
          core::make_error(core::ErrorKind::config, "--interval: must be more than 0"));
    }
  }
  // Fails early on a missing or unsafe password source.
  const auto password = config::resolve_password(campaign.account).value_or_throw();
  const auto report = poll_with_console(campaign, poll, password, options.quiet, options.trace);
  const auto& c = report.counts;
  std::cout << "campaign    " << campaign.id << " (journal "
            << campaign::journal_path(campaign).string() << ")\n"
            << "mailbox     " << c.examined << " new messages in " << c.passes
            << (c.passes == 1 ? " pass" : " passes") << ": " << c.fetched << " fetched, "
            << c.skipped << " skipped (not about this campaign), " << c.already_seen
            << " already recorded\n"
            << "receipts    " << c.receipts << " matched, " << c.applied << " state changes, "
            << c.untrusted << " untrusted, " << c.unmatched << " unmatched, " << c.orphans
            << " orphans, " << c.other << " not receipts, " << c.duplicates
            << " duplicates, " << c.no_receipt << " rows without a receipt in time\n";
  if (c.searched > 0 || c.settled > 0) {
    std::cout << "uncertain   " << c.searched << " searches, " << c.found_by_search
              << " messages found, " << c.settled << " rows settled\n";
  }
  std::cout << "bytes       " << c.bytes << " received from the server (" << c.message_bytes
            << " in whole messages)\n";
  if (!campaign.poll.archive_folder.empty()) {
    std::cout << "archive     " << c.moved << " messages moved to "
              << core::quote(campaign.poll.archive_folder) << " (poll.archive_folder)\n";
  }
  if (c.idle_wakeups > 0) {
    std::cout << "idle        " << c.idle_wakeups
              << " waits ended early by new mail (IMAP IDLE)\n";
  }
  for (const auto& orphan : report.orphans) {
    std::cout << "orphan      " << orphan.message_id << " " << orphan.kind << " ("
              << orphan.folder << " UID " << orphan.uid << ") " << orphan.file << "\n";
  }
  std::cout << "all rows   ";
  for (const auto& [state, n] : report.states) {
    std::cout << " " << journal::to_string(state) << "=" << n;
  }
  std::cout << "\n";
  if (c.untrusted > 0) {
    print_warning(std::to_string(c.untrusted) +
                  " receipts with a signature that is not valid changed nothing; they are "
                  "kept under evidence/ (check account.ca_file)");
  }
  if (report.needs_decision > 0) {
    print_warning(std::to_string(report.needs_decision) +
                  " uncertain rows have no receipt after poll.uncertain_grace_hours: the "
                  "provider most likely never took them; decide with 'pecbatch resolve'");
  }
  if (report.interrupted) {
    print_warning("interrupted: the journal is up to date; run again to continue");
    return k_exit_interrupted;
  }
  if (report.pending > 0) {
    std::cout << "pending     " << report.pending << " rows still await receipts"
              << (report.timed_out ? " (timeout reached)" : "") << "\n";
    return k_exit_temp;
  }
  return k_exit_ok;
}

} // namespace

campaign::PollReport poll_with_console(const config::Campaign& campaign,
                                       const campaign::PollOptions& poll,
                                       const std::string& password, bool quiet, bool trace) {
  if (campaign.account.imap_host.empty()) {
    throw core::Fatal(core::make_error(
        core::ErrorKind::config,
        "account.imap_host: not set, and profile " + campaign.profile->name +
            " does not know the provider's IMAP host"));
  }
  auto settings = campaign::imap_settings(campaign, password);
  if (trace) {
    settings.trace = [](const std::string& line) {
      log(LogLevel::debug, "imap", {{"line", line}});
      std::cerr << "imap: " << line << '\n';
    };
  }
  core::SystemClock clock;
  PollConsole console(quiet);
  StopSignals signals;
  campaign::PollDeps deps;
  deps.mailbox = [settings] { return receipts::make_openssl_mailbox(settings); };
  deps.clock = &clock;
  deps.observer = &console;
  deps.stop = &signals.flag();
  return campaign::poll_campaign(campaign, poll, deps).value_or_throw();
}

void setup_poll(CLI::App& app, Command& command) {
  auto options = std::make_shared<PollOptions>();
  auto* sub = app.add_subcommand(
      "poll", "Read the provider's receipts from the mailbox and update each row");
  add_campaign_options(*sub, options->campaign);
  sub->add_flag("--until-final", options->until_final,
                "Keep polling until every sent row has a final state (or --timeout)");
  sub->add_option("--timeout", options->timeout,
                  "With --until-final: stop after this long, e.g. 60s, 30m, 26h")
      ->type_name("DURATION");
  sub->add_option("--interval", options->interval,
                  "Fixed wait between passes (default: 2s, doubling up to 60s); with one "
                  "folder and IMAP IDLE the wait ends as soon as new mail arrives")
      ->type_name("DURATION");
  sub->add_flag("--quiet,-q", options->quiet, "No progress output");
  sub->add_flag("--trace", options->trace,
                "Show the IMAP commands on stderr (login redacted, messages omitted)");
  sub->footer(
      "The mailbox is only read (EXAMINE, BODY.PEEK: no flag is set), unless "
      "poll.archive_folder is set: then the messages archived as this campaign's "
      "evidence are moved there. Header fields come first; only receipts about this "
      "campaign's messages are fetched, and archived unchanged under "
      "OUTPUT_DIR/evidence/. Only receipts with a valid signature change a row. Running "
      "it again never counts a receipt twice.\n"
      "Exit status: 0 every sent row final, 75 rows still pending (or campaign locked, "
      "mailbox unreachable), 78 configuration or authentication, 69 TLS failure, "
      "130 interrupted.");
  sub->callback([options, &command] { command = [options] { return run_poll(*options); }; });
}

} // namespace pecbatch::cli

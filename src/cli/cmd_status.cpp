// pecbatch status CAMPAIGN: where the campaign stands, from its journal
// (read-only, no lock: safe while send or poll runs).

#include "command.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

#include <pecbatch/campaign/send.hpp>
#include <pecbatch/campaign/status.hpp>
#include <pecbatch/campaign/validate.hpp>
#include <pecbatch/core/clock.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct StatusOptions {
  CampaignOptions campaign;
  bool json = false;
  std::size_t show = 20;
};

std::string fixed(double value, int decimals) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string rate_text(const config::Limits& limits) {
  std::string out;
  auto add = [&](unsigned rate, const char* unit) {
    if (rate > 0) {
      out.append(out.empty() ? "" : ", ").append(std::to_string(rate)).append(unit);
    }
  };
  add(limits.rate_per_minute, "/min");
  add(limits.rate_per_hour, "/h");
  add(limits.rate_per_day, "/day");
  return out.empty() ? "no limit" : out;
}

std::string ago(core::TimePoint now, core::TimePoint then) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - then);
  if (seconds.count() < 0) {
    return "in the future (clock skew?)";
  }
  if (seconds.count() == 0) {
    return "just now";
  }
  return campaign::format_duration(seconds) + " ago";
}

nlohmann::ordered_json time_or_null(const std::optional<core::TimePoint>& time) {
  return time ? nlohmann::ordered_json(campaign::iso_local_time(*time))
              : nlohmann::ordered_json(nullptr);
}

void print_json(const campaign::StatusReport& s) {
  using nlohmann::ordered_json;
  ordered_json doc;
  doc["campaign"] = s.campaign_id;
  doc["name"] = s.campaign_name;
  doc["journal"] = s.journal_file.string();
  doc["generated_at"] = campaign::iso_local_time(s.now);
  doc["total"] = s.total;
  ordered_json states = ordered_json::array();
  for (const auto& c : s.states) {
    states.push_back({{"state", journal::to_string(c.state)},
                      {"group", campaign::to_string(campaign::group_of(c.state))},
                      {"count", c.count},
                      {"percent", std::round(c.percent * 10) / 10}});
  }
  doc["states"] = std::move(states);
  doc["groups"] = {{"to_send", s.to_send},
                   {"awaiting_receipts", s.awaiting_receipts},
                   {"success", s.succeeded},
                   {"failure", s.failed}};
  doc["send"] = {{"submissions", s.submissions},
                 {"first_submission", time_or_null(s.first_submission)},
                 {"last_submission", time_or_null(s.last_submission)},
                 {"window_minutes", s.rate_window.count()},
                 {"recent_submissions", s.recent_submissions},
                 {"recent_per_minute", std::round(s.recent_rate_per_minute * 100) / 100},
                 {"average_per_minute", std::round(s.average_rate_per_minute * 100) / 100}};
  doc["limits"] = {{"rate_per_minute", s.limits.rate_per_minute},
                   {"rate_per_hour", s.limits.rate_per_hour},
                   {"rate_per_day", s.limits.rate_per_day}};
  doc["eta_seconds"] = s.eta ? ordered_json(s.eta->count()) : ordered_json(nullptr);
  doc["eta_basis"] = s.eta_basis.empty() ? ordered_json(nullptr) : ordered_json(s.eta_basis);
  doc["last_receipt"] = time_or_null(s.last_receipt);
  doc["seconds_since_last_receipt"] =
      s.last_receipt
          ? ordered_json(std::chrono::duration_cast<std::chrono::seconds>(s.now - *s.last_receipt)
                             .count())
          : ordered_json(nullptr);
  ordered_json decisions = ordered_json::array();
  for (const auto& d : s.decisions) {
    decisions.push_back({{"row", d.row},
                         {"address", d.address},
                         {"message_id", d.message_id},
                         {"state", journal::to_string(d.state)},
                         {"error", d.error.empty() ? ordered_json(nullptr) : ordered_json(d.error)}});
  }
  doc["needs_decision"] = std::move(decisions);
  std::cout << doc.dump(2, ' ', false, ordered_json::error_handler_t::replace) << "\n";
}

void print_text(const campaign::StatusReport& s, std::size_t show) {
  std::cout << "campaign    " << s.campaign_id;
  if (s.campaign_name != s.campaign_id) {
    std::cout << " \"" << s.campaign_name << "\"";
  }
  std::cout << " (journal " << s.journal_file.string() << ")\n";
  std::cout << "rows        " << s.total << ": " << s.succeeded << " delivered or sent external, "
            << s.failed << " failed, " << s.awaiting_receipts << " awaiting receipts, "
            << s.to_send << " to send\n";
  for (const auto& c : s.states) {
    char line[96];
    std::snprintf(line, sizeof line, "  %-16s %8llu %6s%%\n", journal::to_string(c.state),
                  static_cast<unsigned long long>(c.count), fixed(c.percent, 1).c_str());
    std::cout << line;
  }
  std::cout << "send rate   ";
  if (s.submissions == 0) {
    std::cout << "nothing submitted yet\n";
  } else {
    std::cout << fixed(s.recent_rate_per_minute, 1) << "/min over the last "
              << s.rate_window.count() << " min (" << s.recent_submissions
              << " submissions); last submission " << ago(s.now, *s.last_submission);
    if (s.average_rate_per_minute > 0) {
      std::cout << ", average " << fixed(s.average_rate_per_minute, 1) << "/min";
    }
    std::cout << "\n";
  }
  std::cout << "to finish   ";
  if (s.to_send == 0) {
    std::cout << "nothing left to send\n";
  } else if (s.eta) {
    std::cout << "about " << campaign::format_duration(*s.eta) << " for " << s.to_send
              << (s.to_send == 1 ? " row" : " rows") << " at the " << s.eta_basis << " ("
              << rate_text(s.limits) << ")\n";
  } else {
    std::cout << s.to_send << (s.to_send == 1 ? " row" : " rows")
              << " to send; no configured rate and no recent sending to estimate the time\n";
  }
  std::cout << "receipts    "
            << (s.last_receipt ? "last recorded " + ago(s.now, *s.last_receipt)
                               : std::string("none recorded yet"))
            << "\n";
  if (s.decisions.empty()) {
    std::cout << "decisions   none needed\n";
    return;
  }
  std::cout << "decisions   " << s.decisions.size()
            << (s.decisions.size() == 1 ? " row needs" : " rows need") << " a decision:\n";
  std::size_t shown = 0;
  for (const auto& d : s.decisions) {
    if (shown == show) {
      std::cout << "  ... and " << s.decisions.size() - shown
                << " more (pecbatch status --json, or pecbatch report)\n";
      break;
    }
    std::cout << "  row " << d.row << "  " << d.address << "  " << journal::to_string(d.state);
    if (!d.error.empty()) {
      std::cout << "  " << d.error;
    }
    std::cout << "\n";
    ++shown;
  }
}

int run_status(const StatusOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);
  core::SystemClock clock;
  const auto status = campaign::campaign_status(campaign, clock.now()).value_or_throw();
  if (options.json) {
    print_json(status);
  } else {
    print_text(status, options.show);
  }
  return k_exit_ok;
}

} // namespace

void setup_status(CLI::App& app, Command& command) {
  auto options = std::make_shared<StatusOptions>();
  auto* sub = app.add_subcommand(
      "status", "Show where a campaign stands: rows per state, rate, time left, problems");
  add_campaign_options(*sub, options->campaign);
  sub->add_flag("--json", options->json, "Print the status as JSON (shape in docs/reports.md)");
  sub->add_option("--show", options->show,
                  "List at most N rows needing a decision (default 20; --json lists all)")
      ->type_name("N");
  sub->footer(
      "Reads the journal only: it never takes the campaign lock and never changes the "
      "journal, so it can run while send or poll is running.\n"
      "Examples:\n"
      "  pecbatch status campaign.toml\n"
      "  pecbatch status campaign.toml --json | jq '.needs_decision[]'\n"
      "Exit status: 0 status shown, 66 campaign file not found, 78 configuration error or "
      "no journal yet (nothing sent).");
  sub->callback(
      [options, &command] { command = [options] { return run_status(*options); }; });
}

} // namespace pecbatch::cli

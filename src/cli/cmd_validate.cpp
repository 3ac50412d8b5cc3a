// pecbatch validate CAMPAIGN: checks everything that can be checked without
// the network and prints a summary.

#include "command.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

#include <pecbatch/campaign/validate.hpp>

#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct ValidateOptions {
  CampaignOptions campaign;
};

std::string rate_text(const config::Limits& limits) {
  std::string out;
  auto add = [&](unsigned rate, const char* unit) {
    if (rate > 0) {
      out += (out.empty() ? "" : ", ") + std::to_string(rate) + "/" + unit;
    }
  };
  add(limits.rate_per_minute, "min");
  add(limits.rate_per_hour, "hour");
  add(limits.rate_per_day, "day");
  return out.empty() ? "no rate limit" : out;
}

int run_validate(const ValidateOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);
  const auto report = campaign::validate_campaign(campaign).value_or_throw();

  print_diagnostics(report.warnings, true);
  print_diagnostics(report.errors);

  std::cout << "campaign    " << campaign.id;
  if (campaign.name != campaign.id) {
    std::cout << " (" << campaign.name << ")";
  }
  std::cout << "\ncontacts    " << campaign.contacts.file.string() << ": " << report.rows
            << " rows, " << report.valid << " valid";
  if (report.skipped > 0) {
    std::cout << ", " << report.skipped << " duplicates skipped";
  }
  std::cout << ", " << report.errors.size()
            << (report.errors.size() == 1 ? " problem" : " problems") << '\n';
  if (report.valid > 0) {
    std::cout << "largest     " << campaign::format_size(report.largest_bytes) << " (row "
              << report.largest_row << ", " << report.largest_address << ")";
    if (campaign.limits.message.max_message_bytes > 0) {
      std::cout << "; limit "
                << campaign::format_size(campaign.limits.message.max_message_bytes);
    }
    std::cout << "\ntotal       " << campaign::format_size(report.total_bytes) << '\n';
  }
  std::cout << "rate        " << rate_text(campaign.limits) << " (provider "
            << campaign.profile->name << ")\n"
            << "duration    about "
            << campaign::format_duration(report.estimated_duration) << " for "
            << report.valid << " messages\n";
  if (!report.errors.empty()) {
    std::cout << "result      NOT READY: fix the problems above; nothing can be sent\n";
    return k_exit_data;
  }
  std::cout << "result      ready: every row can be sent\n";
  return k_exit_ok;
}

} // namespace

void setup_validate(CLI::App& app, Command& command) {
  auto options = std::make_shared<ValidateOptions>();
  auto* sub = app.add_subcommand(
      "validate", "Check contacts, templates, attachments and provider limits (no network)");
  add_campaign_options(*sub, options->campaign);
  sub->footer("Exit status: 0 every row valid, 65 data problems, 78 configuration error.");
  sub->callback([options, &command] { command = [options] { return run_validate(*options); }; });
}

} // namespace pecbatch::cli

#pragma once

#include <pecbatch/config/campaign.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace pecbatch::cli {

// What a subcommand's parse callback leaves behind: the work to run, which
// returns the exit code. Run by cli::run inside its single try/catch.
using Command = std::function<int()>;

// Options shared by every command that reads a campaign file.
struct CampaignOptions {
  std::string campaign;
  std::string contacts;
  std::string output_dir;
  std::vector<std::string> sets;
};

// Adds CAMPAIGN and the override flags (--contacts, --output-dir, --set).
void add_campaign_options(CLI::App& command, CampaignOptions& options);

// Loads the campaign with the overrides; throws core::Fatal on error.
config::Campaign load_campaign_or_throw(const CampaignOptions& options);

// "90", "90s", "500ms", "2m", "1h" -> milliseconds; throws core::Fatal
// (config) naming `option` when `text` is not a duration.
std::chrono::milliseconds parse_duration_option(const std::string& option,
                                                const std::string& text);

// One entry per subcommand, each in its own cmd_*.cpp file.
void setup_validate(CLI::App& app, Command& command);
void setup_render(CLI::App& app, Command& command);
void setup_send(CLI::App& app, Command& command);
void setup_run(CLI::App& app, Command& command);
void setup_poll(CLI::App& app, Command& command);
void setup_contacts(CLI::App& app, Command& command);
void setup_config(CLI::App& app, Command& command);
void setup_receipt(CLI::App& app, Command& command);
void setup_retry(CLI::App& app, Command& command);
void setup_resolve(CLI::App& app, Command& command);
void setup_evidence(CLI::App& app, Command& command);
void setup_status(CLI::App& app, Command& command);
void setup_report(CLI::App& app, Command& command);

} // namespace pecbatch::cli

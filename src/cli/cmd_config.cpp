// pecbatch config show CAMPAIGN: every effective setting and where it came
// from, secrets redacted.

#include "command.hpp"
#include "exit_codes.hpp"

#include <algorithm>
#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct ConfigShowOptions {
  CampaignOptions campaign;
};

int run_config_show(const ConfigShowOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);
  std::size_t key_width = 0;
  std::size_t value_width = 0;
  for (const auto& s : campaign.settings) {
    key_width = std::max(key_width, s.key.size());
    value_width = std::max(value_width, std::min<std::size_t>(s.value.size(), 48));
  }
  for (const auto& s : campaign.settings) {
    const std::string value = s.value.empty() ? "(unset)" : s.value;
    std::cout << s.key << std::string(key_width - s.key.size() + 1, ' ') << "= " << value
              << std::string(value.size() < value_width ? value_width - value.size() : 0,
                             ' ')
              << "  # " << s.origin << '\n';
  }
  const auto& profile = *campaign.profile;
  std::cout << "\n# provider profile " << profile.name << " (" << profile.display_name
            << ")\n#   endpoints: " << profile.endpoints.source
            << (profile.endpoints.verified ? " [verified]" : " [not verified]")
            << "\n#   limits: " << profile.limits.source
            << (profile.limits.verified ? " [verified]" : " [not verified]") << '\n';
  if (!profile.login_hint.empty()) {
    std::cout << "#   login: " << profile.login_hint << '\n';
  }
  return k_exit_ok;
}

} // namespace

void setup_config(CLI::App& app, Command& command) {
  auto* config = app.add_subcommand("config", "Inspect the campaign configuration");
  config->require_subcommand(1);
  auto options = std::make_shared<ConfigShowOptions>();
  auto* show = config->add_subcommand(
      "show", "Print every effective setting and where it came from (secrets redacted)");
  add_campaign_options(*show, options->campaign);
  show->callback(
      [options, &command] { command = [options] { return run_config_show(*options); }; });
}

} // namespace pecbatch::cli

#include "command.hpp"

#include <pecbatch/core/result.hpp>
#include <pecbatch/core/strings.hpp>

#include <charconv>
#include <cstdint>

#include <filesystem>

namespace pecbatch::cli {

void add_campaign_options(CLI::App& command, CampaignOptions& options) {
  command.add_option("CAMPAIGN", options.campaign, "Campaign file (TOML)")
      ->required()
      ->type_name("FILE");
  command
      .add_option("--contacts", options.contacts,
                  "Contacts file to use instead of contacts.file")
      ->type_name("FILE");
  command
      .add_option("--output-dir", options.output_dir,
                  "Output directory instead of campaign.output_dir")
      ->type_name("DIR");
  command
      .add_option("--set", options.sets,
                  "Override any campaign key, e.g. --set provider.rate_per_minute=3 "
                  "(repeatable; see 'pecbatch config show')")
      ->type_name("KEY=VALUE");
}

config::Campaign load_campaign_or_throw(const CampaignOptions& options) {
  const auto cwd = std::filesystem::current_path();
  std::vector<config::Override> overrides;
  for (const auto& text : options.sets) {
    overrides.push_back(config::parse_set_flag(text, cwd).value_or_throw());
  }
  // Dedicated flags win over --set: they are the more specific spelling.
  if (!options.contacts.empty()) {
    overrides.push_back({"contacts.file", options.contacts, "--contacts", cwd, true});
  }
  if (!options.output_dir.empty()) {
    overrides.push_back({"campaign.output_dir", options.output_dir, "--output-dir", cwd, true});
  }
  return config::load_campaign(options.campaign, overrides).value_or_throw();
}

std::chrono::milliseconds parse_duration_option(const std::string& option,
                                                const std::string& text) {
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  const std::string unit(ptr, text.data() + text.size());
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "s") {
    factor = 1000;
  } else if (unit == "ms") {
    factor = 1;
  } else if (unit == "m" || unit == "min") {
    factor = 60'000;
  } else if (unit == "h") {
    factor = 3'600'000;
  }
  if (ec != std::errc() || ptr == text.data() || factor == 0 || value > 1'000'000'000) {
    throw core::Fatal(core::make_error(
        core::ErrorKind::config,
        option + ": " + core::quote(text) + " is not a duration (e.g. 90s, 500ms, 10m, 2h)"));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(value * factor));
}

} // namespace pecbatch::cli

// pecbatch render CAMPAIGN --out DIR: writes each message exactly as it
// would be sent, without the network.

#include "command.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

#include <pecbatch/campaign/render.hpp>

#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct RenderOptions {
  CampaignOptions campaign;
  std::string out_dir;
  std::string rows;
};

int run_render(const RenderOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);
  campaign::RenderOptions render;
  render.out_dir = options.out_dir;
  if (!options.rows.empty()) {
    render.rows = campaign::RowSet::parse(options.rows).value_or_throw();
  }
  const auto result = campaign::render_campaign(campaign, render).value_or_throw();
  print_diagnostics(result.report.warnings, true);
  if (!result.report.errors.empty()) {
    print_diagnostics(result.report.errors);
    print_error(std::to_string(result.report.errors.size()) +
                " problems: nothing rendered (see 'pecbatch validate')");
    return k_exit_data;
  }
  std::cout << "rendered " << result.written << " of " << result.report.valid
            << " messages into " << options.out_dir << " (index.csv lists them)\n";
  return k_exit_ok;
}

} // namespace

void setup_render(CLI::App& app, Command& command) {
  auto options = std::make_shared<RenderOptions>();
  auto* sub = app.add_subcommand(
      "render", "Write one .eml per recipient, byte for byte what would be sent");
  add_campaign_options(*sub, options->campaign);
  sub->add_option("--out", options->out_dir, "Directory for the .eml files and index.csv")
      ->required()
      ->type_name("DIR");
  sub->add_option("--rows", options->rows,
                  "Only these rows, e.g. 2-10,15 (row numbers as in the contacts "
                  "file; the header is row 1)")
      ->type_name("RANGES");
  sub->footer("Nothing is written unless every row is valid. Exit status: 0 rendered, "
              "65 data problems, 78 configuration error.");
  sub->callback([options, &command] { command = [options] { return run_render(*options); }; });
}

} // namespace pecbatch::cli

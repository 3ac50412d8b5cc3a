// pecbatch evidence CAMPAIGN --zip OUT: the evidence of chosen rows in one
// zip file, byte for byte, with manifests, README.txt and SHA256SUMS.

#include "command.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

#include <pecbatch/campaign/evidence_zip.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/campaign/validate.hpp>
#include <pecbatch/core/clock.hpp>

#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct EvidenceOptions {
  CampaignOptions campaign;
  std::string zip;
  std::string rows;
};

int run_evidence(const EvidenceOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);
  campaign::EvidenceZipOptions zip;
  zip.out = options.zip;
  if (!options.rows.empty()) {
    zip.rows = campaign::RowSet::parse(options.rows).value_or_throw();
  }
  zip.producer = std::string("pecbatch ") + PECBATCH_VERSION;

  core::SystemClock clock;
  const auto report = campaign::export_evidence_zip(campaign, zip, clock).value_or_throw();

  std::cout << "campaign    " << campaign.id << " (journal "
            << campaign::journal_path(campaign).string() << ")\n";
  for (const auto& row : report.rows) {
    std::cout << "            row " << row.row << "  " << row.address << "  " << row.state
              << "  " << row.message_id << "  ";
    if (row.manifest_sha256.empty()) {
      std::cout << "no evidence (nothing submitted)\n";
    } else {
      std::cout << row.files << (row.files == 1 ? " file" : " files") << "\n";
    }
  }
  std::cout << "zip         " << options.zip << ": " << report.with_evidence
            << (report.with_evidence == 1 ? " message, " : " messages, ") << report.entries
            << " files, " << campaign::format_size(report.bytes) << " ("
            << campaign::format_size(report.zip_size) << " compressed)\n"
            << "sha256      " << report.zip_sha256 << "\n"
            << "check       unzip it and run 'sha256sum -c SHA256SUMS' in its folder\n";
  return k_exit_ok;
}

} // namespace

void setup_evidence(CLI::App& app, Command& command) {
  auto options = std::make_shared<EvidenceOptions>();
  auto* sub = app.add_subcommand(
      "evidence", "Export the evidence of chosen rows (sent messages, receipts, "
                  "manifests) into a zip file");
  add_campaign_options(*sub, options->campaign);
  sub->add_option("--zip", options->zip, "The zip file to write (replaced atomically)")
      ->type_name("OUT")
      ->required();
  sub->add_option("--rows", options->rows,
                  "Only these contacts rows, e.g. 2-10,15 (every attempt of each)")
      ->type_name("RANGES");
  sub->footer(
      "The row manifests are brought up to date first; every file in the zip is a "
      "byte-for-byte copy of the evidence archive under OUTPUT_DIR/evidence/, checked "
      "against the manifests after the zip is written. See docs/evidence.md.\n"
      "Examples:\n"
      "  pecbatch evidence campaign.toml --zip prove.zip\n"
      "  pecbatch evidence campaign.toml --zip riga-12.zip --rows 12\n"
      "Exit status: 0 written, 66 no chosen row has evidence (nothing submitted), "
      "74 a file differs from its manifest or cannot be read or written, 75 campaign "
      "locked by another run, 78 no journal yet.");
  sub->callback(
      [options, &command] { command = [options] { return run_evidence(*options); }; });
}

} // namespace pecbatch::cli

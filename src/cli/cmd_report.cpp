// pecbatch report CAMPAIGN: one line per recipient, as CSV, JSON or one
// self-contained HTML page, written atomically.

#include "command.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

#include <pecbatch/campaign/report.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/strings.hpp>

#include <algorithm>
#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct ReportCliOptions {
  CampaignOptions campaign;
  std::string format;
  std::string out;
  std::vector<std::string> fields;
  bool fields_given = false;
  std::string csv_delimiter = ",";
  bool bom = false;
  bool excel = false;
};

[[noreturn]] void config_error(const std::string& message) {
  throw core::Fatal(core::make_error(core::ErrorKind::config, message));
}

std::string format_from_extension(const std::string& out) {
  const std::string lower = core::to_lower_ascii(out);
  if (lower.ends_with(".csv")) {
    return "csv";
  }
  if (lower.ends_with(".json")) {
    return "json";
  }
  if (lower.ends_with(".html") || lower.ends_with(".htm")) {
    return "html";
  }
  return "";
}

char parse_delimiter(const std::string& text) {
  if (text == "," || text == ";" || text == "|") {
    return text[0];
  }
  if (text == "tab" || text == "\\t" || text == "\t") {
    return '\t';
  }
  config_error("--csv-delimiter: " + core::quote(text) + " is not one of ',', ';', '|', 'tab'");
}

int run_report(const ReportCliOptions& options) {
  const auto campaign = load_campaign_or_throw(options.campaign);

  std::string format = options.format;
  if (format.empty()) {
    format = format_from_extension(options.out);
    if (format.empty()) {
      print_error("--format: not given, and --out " +
                  (options.out.empty() ? std::string("is not set")
                                       : core::quote(options.out) + " has no .csv, .json or "
                                                                    ".html extension"));
      std::cerr << "Run 'pecbatch report --help' for usage.\n";
      return k_exit_usage;
    }
  }
  const bool to_stdout = options.out == "-";
  if (to_stdout && format == "html") {
    config_error("--out -: the HTML report links to evidence files relative to its own "
                 "location, so it must be written to a file");
  }
  std::filesystem::path out = options.out.empty()
                                  ? campaign.output_dir / ("report." + format)
                                  : std::filesystem::path(options.out);

  campaign::ReportOptions report_options;
  if (options.fields_given) {
    for (const auto& field : options.fields) {
      const auto name = std::string(core::trim(field));
      if (!name.empty() && std::find(report_options.fields.begin(),
                                     report_options.fields.end(),
                                     name) == report_options.fields.end()) {
        report_options.fields.push_back(name);
      }
    }
  } else {
    report_options.fields = campaign.report.fields;
  }

  core::SystemClock clock;
  const auto report =
      campaign::build_report(campaign, report_options, clock.now()).value_or_throw();

  std::string content;
  if (format == "csv") {
    campaign::CsvOptions csv;
    csv.delimiter = options.excel ? ';' : parse_delimiter(options.csv_delimiter);
    csv.bom = options.bom || options.excel;
    content = campaign::render_csv(report, csv);
  } else if (format == "json") {
    content = campaign::render_json(report);
  } else {
    campaign::HtmlOptions html;
    html.link_prefix = campaign::link_prefix_for(out, campaign.output_dir);
    content = campaign::render_html(report, html);
  }

  if (to_stdout) {
    std::cout << content;
    return k_exit_ok;
  }
  std::error_code ec;
  const auto parent = std::filesystem::absolute(out, ec).parent_path();
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    throw core::Fatal(core::make_error(core::ErrorKind::io, parent.string() + ": " + ec.message()));
  }
  core::write_file_atomic(out, content).value_or_throw();
  std::cout << "report      " << out.string() << " (" << format << ", " << report.rows.size()
            << (report.rows.size() == 1 ? " row" : " rows") << ")\n";
  return k_exit_ok;
}

} // namespace

void setup_report(CLI::App& app, Command& command) {
  auto options = std::make_shared<ReportCliOptions>();
  auto* sub = app.add_subcommand(
      "report", "Write the per-recipient report (CSV, JSON or a self-contained HTML page)");
  add_campaign_options(*sub, options->campaign);
  sub->add_option("--format,-f", options->format,
                  "csv, json or html (default: from the --out extension)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"csv", "json", "html"}));
  sub->add_option("--out,-o", options->out,
                  "File to write (atomically), '-' for stdout (csv, json); default "
                  "OUTPUT_DIR/report.FORMAT")
      ->type_name("FILE");
  auto* fields = sub->add_option("--fields", options->fields,
                  "Contacts columns to show, e.g. nome,numero (default: report.fields)")
      ->type_name("A,B")
      ->delimiter(',');
  sub->add_option("--csv-delimiter", options->csv_delimiter,
                  "CSV field separator: ',' (default), ';', '|' or tab")
      ->type_name("CHAR");
  sub->add_flag("--bom", options->bom, "Start the CSV with a UTF-8 byte order mark");
  sub->add_flag("--excel", options->excel,
                "CSV for Italian Excel: ';' separator and a UTF-8 BOM");
  sub->footer(
      "CSV cells that start with = + - @ or a tab get a leading apostrophe, so that "
      "spreadsheets never run them as formulas. The HTML page needs no network: open it "
      "anywhere: its evidence links are relative to where it is written (move it together "
      "with the output directory).\n"
      "Examples:\n"
      "  pecbatch report campaign.toml --format html --out esito.html --fields nome\n"
      "  pecbatch report campaign.toml --out esito.csv --excel\n"
      "  pecbatch report campaign.toml --format json --out - | jq '.counts'\n"
      "Exit status: 0 written, 64 usage, 66 campaign or contacts file not found, "
      "74 cannot write, 78 configuration error, unknown field or no journal yet.");
  sub->callback([options, fields, &command] {
    options->fields_given = fields->count() > 0;
    command = [options] { return run_report(*options); };
  });
}

} // namespace pecbatch::cli

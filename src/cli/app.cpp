#include "app.hpp"

#include "command.hpp"
#include "exit_codes.hpp"
#include "log.hpp"
#include "output.hpp"

#include <pecbatch/core/result.hpp>
#include <pecbatch/core/strings.hpp>

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <map>

namespace pecbatch::cli {

namespace {

// The subcommands, in the order --help lists them.
struct SubcommandEntry {
  const char* name;
  void (*setup)(CLI::App&, Command&);
};

constexpr SubcommandEntry k_subcommands[] = {
    {"validate", setup_validate},
    {"render", setup_render},
    {"run", setup_run},
    {"send", setup_send},
    {"poll", setup_poll},
    {"status", setup_status},
    {"report", setup_report},
    {"contacts", setup_contacts},
    {"config", setup_config},
    {"receipt", setup_receipt},
    {"retry", setup_retry},
    {"resolve", setup_resolve},
    {"evidence", setup_evidence},
};

const char* k_footer = R"(Examples:
  pecbatch validate campaign.toml
  pecbatch render campaign.toml --out rendered/ --rows 2-11
  pecbatch run campaign.toml --yes --report esito.html   # the whole job
  pecbatch send campaign.toml              # the plan: what would be sent
  pecbatch send campaign.toml --yes --limit 100
  pecbatch poll campaign.toml --until-final --timeout 30m
  pecbatch status campaign.toml
  pecbatch report campaign.toml --format html --out esito.html --fields nome
  pecbatch retry campaign.toml --failed --yes     # failed rows: new attempts
  pecbatch evidence campaign.toml --zip prove.zip
  pecbatch contacts contatti.xlsx --json
  pecbatch config show campaign.toml --set provider.rate_per_minute=3

Exit status: 0 success, 64 usage, 65 data error (contacts, templates,
attachments), 66 input file not found, 69 permanent failures, 70 internal
error, 74 I/O error, 75 deferred or locked, 78 configuration error,
130 interrupted. See docs/exit-codes.md.)";

int usage_error(const std::string& message) {
  print_error(message);
  std::cerr << "Run 'pecbatch --help' for usage.\n";
  return k_exit_usage;
}

} // namespace

int run(int argc, char** argv) {
  CLI::App app{"pecbatch " PECBATCH_VERSION
               " - send certified e-mail (PEC) in batches, one message per recipient"};
  app.name("pecbatch");
  app.set_version_flag("--version", std::string("pecbatch ") + PECBATCH_VERSION);
  app.require_subcommand(1);
  app.footer(k_footer);

  // Global options, accepted before or after the command.
  LogSettings log_settings;
  app.fallthrough();
  app.add_option("--log-file", log_settings.file,
                 "Append structured log records to FILE (one per SMTP attempt, receipt, "
                 "notice and error; never a password or a message body)")
      ->type_name("FILE");
  app.add_option("--log-format", log_settings.format, "text (default) or json (JSON Lines)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, LogFormat>{{"text", LogFormat::text}, {"json", LogFormat::json}}))
      ->type_name("FORMAT");
  app.add_option("--log-level", log_settings.level,
                 "debug, info (default), warning or error; debug adds the SMTP/IMAP "
                 "dialogue of --trace")
      ->transform(CLI::CheckedTransformer(std::map<std::string, LogLevel>{
          {"debug", LogLevel::debug},
          {"info", LogLevel::info},
          {"warning", LogLevel::warning},
          {"error", LogLevel::error}}))
      ->type_name("LEVEL");

  Command command;
  for (const auto& entry : k_subcommands) {
    entry.setup(app, command);
  }

  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      std::string message = e.what();
      if (app.get_subcommands().empty() && argc > 1 && argv[1][0] != '-') {
        // The first word is not a command we know: say so, with a guess.
        std::vector<std::string> names;
        for (const auto& entry : k_subcommands) {
          names.emplace_back(entry.name);
        }
        message = std::string("unknown command '") + argv[1] + "'";
        if (auto guess = core::suggest(argv[1], names)) {
          message += " (did you mean '" + *guess + "'?)";
        }
      }
      return usage_error(message);
    }
    if (!command) {
      return k_exit_usage;
    }
    open_log(log_settings);
    const std::string name = app.get_subcommands().front()->get_name();
    log(LogLevel::info, "start", {{"command", name}, {"version", std::string(PECBATCH_VERSION)}});
    const int code = command();
    log(LogLevel::info, "exit", {{"command", name}, {"code", static_cast<std::int64_t>(code)}});
    close_log();
    return code;
  } catch (const core::Fatal& fatal) {
    print_error(fatal.error().message);
    const int code = exit_code_for(fatal.error().kind);
    log(LogLevel::error, "error",
        {{"message", fatal.error().message}, {"code", static_cast<std::int64_t>(code)}});
    close_log();
    return code;
  } catch (const std::exception& e) {
    print_error(std::string("internal error: ") + e.what());
    log(LogLevel::error, "error", {{"message", std::string("internal error: ") + e.what()},
                                   {"code", static_cast<std::int64_t>(k_exit_software)}});
    close_log();
    return k_exit_software;
  }
}

} // namespace pecbatch::cli

#include "app.hpp"

#include "command.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

#include <pecbatch/core/result.hpp>
#include <pecbatch/core/strings.hpp>

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

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
    {"send", setup_send},
    {"poll", setup_poll},
    {"contacts", setup_contacts},
    {"config", setup_config},
    {"receipt", setup_receipt},
};

const char* k_footer = R"(Examples:
  pecbatch validate campaign.toml
  pecbatch render campaign.toml --out rendered/ --rows 2-11
  pecbatch send campaign.toml              # the plan: what would be sent
  pecbatch send campaign.toml --yes --limit 100
  pecbatch poll campaign.toml --until-final --timeout 30m
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
    return command ? command() : k_exit_usage;
  } catch (const core::Fatal& fatal) {
    print_error(fatal.error().message);
    return exit_code_for(fatal.error().kind);
  } catch (const std::exception& e) {
    print_error(std::string("internal error: ") + e.what());
    return k_exit_software;
  }
}

} // namespace pecbatch::cli

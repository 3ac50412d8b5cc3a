// pecbatch contacts FILE: shows how pecbatch reads a contacts file (columns,
// address column, rows, problems), as text or as JSON.

#include "command.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

#include <pecbatch/contacts/contacts.hpp>
#include <pecbatch/core/strings.hpp>

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct ContactsOptions {
  std::string file;
  std::string format = "auto";
  std::string sheet;
  std::string encoding = "utf-8";
  std::string delimiter = "auto";
  std::string address_column;
  std::string duplicates = "error";
  bool json = false;
};

nlohmann::json error_json(const core::Diagnostic& d) {
  nlohmann::json e;
  e["row"] = d.row;
  e["column"] = d.column.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.column);
  e["message"] = d.message;
  return e;
}

contacts::ReadOptions read_options(const ContactsOptions& options) {
  contacts::ReadOptions read;
  read.format = *contacts::parse_format(options.format);
  read.encoding = *contacts::parse_encoding(options.encoding);
  read.sheet = options.sheet;
  if (options.delimiter == "tab") {
    read.delimiter = '\t';
  } else if (options.delimiter != "auto") {
    read.delimiter = options.delimiter[0];
  }
  return read;
}

int run_contacts(const ContactsOptions& options) {
  contacts::ValidateOptions validate;
  validate.address_column = options.address_column;
  validate.duplicates = options.duplicates == "skip" ? contacts::DuplicatePolicy::skip
                                                     : contacts::DuplicatePolicy::error;
  auto opened = contacts::ContactStream::open(options.file, read_options(options), validate);
  if (!opened.ok()) {
    const auto& error = opened.error();
    if (!options.json || error.kind != core::ErrorKind::input) {
      throw core::Fatal(error);
    }
    // Header problems: still one JSON document, with the problems in it.
    nlohmann::json doc;
    doc["columns"] = nlohmann::json::array();
    doc["address_column"] = nullptr;
    doc["rows"] = nlohmann::json::array();
    doc["errors"] = nlohmann::json::array();
    for (const auto& line : core::split(error.message, '\n')) {
      doc["errors"].push_back({{"row", 1}, {"column", nullptr}, {"message", line}});
    }
    std::cout << doc.dump(2) << '\n';
    return k_exit_data;
  }
  auto stream = std::move(opened).value();

  core::Diagnostics errors;
  core::Diagnostics notes;
  std::uint64_t rows = 0;
  std::uint64_t valid = 0;
  // Rows are written as they are read, so memory stays flat for big files.
  if (options.json) {
    std::cout << "{\n  \"columns\": " << nlohmann::json(stream.columns()).dump()
              << ",\n  \"address_column\": " << nlohmann::json(stream.address_column()).dump()
              << ",\n  \"rows\": [";
  } else {
    std::cout << "file     " << stream.path().string() << "\ncolumns  ";
    for (std::size_t i = 0; i < stream.columns().size(); ++i) {
      const auto& c = stream.columns()[i];
      std::cout << (i ? ", " : "") << c << (c == stream.address_column() ? " (address)" : "");
    }
    std::cout << "\n\n";
  }
  while (true) {
    auto next = stream.next().value_or_throw();
    if (!next) {
      break;
    }
    ++rows;
    const auto& row = *next;
    if (row.duplicate_skipped) {
      notes.insert(notes.end(), row.problems.begin(), row.problems.end());
    } else {
      errors.insert(errors.end(), row.problems.begin(), row.problems.end());
      if (row.problems.empty()) {
        ++valid;
      }
    }
    if (options.json) {
      nlohmann::json fields = nlohmann::json::object();
      for (const auto& [name, value] : row.contact.fields) {
        fields[name] = value;
      }
      nlohmann::json item = {{"row", row.contact.row},
                             {"address", row.contact.address},
                             {"fields", fields}};
      std::cout << (rows > 1 ? ",\n    " : "\n    ")
                << item.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      std::cout << row.contact.row << "\t" << row.contact.address;
      for (const auto& [name, value] : row.contact.fields) {
        std::cout << "\t" << name << "=" << core::quote(value);
      }
      std::cout << '\n';
    }
  }
  if (options.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& d : errors) {
      list.push_back(error_json(d));
    }
    std::cout << (rows > 0 ? "\n  ],\n" : "],\n") << "  \"errors\": " << list.dump(2) << "\n}\n";
  } else {
    print_diagnostics(notes, true);
    print_diagnostics(errors);
    std::cout << "\n" << rows << " rows, " << valid << " valid, " << errors.size()
              << (errors.size() == 1 ? " problem" : " problems") << '\n';
  }
  return errors.empty() ? k_exit_ok : k_exit_data;
}

} // namespace

void setup_contacts(CLI::App& app, Command& command) {
  auto options = std::make_shared<ContactsOptions>();
  auto* sub = app.add_subcommand(
      "contacts", "Show how a contacts file (CSV, XLSX, XLS) is read, and its problems");
  sub->add_option("FILE", options->file, "Contacts file")->required();
  sub->add_option("--format", options->format, "File format")
      ->check(CLI::IsMember({"auto", "csv", "xlsx", "xls"}))
      ->capture_default_str();
  sub->add_option("--sheet", options->sheet, "Spreadsheet sheet name (default: the first)");
  sub->add_option("--encoding", options->encoding, "CSV encoding")
      ->check(CLI::IsMember({"utf-8", "windows-1252", "latin-1"}))
      ->capture_default_str();
  sub->add_option("--delimiter", options->delimiter, "CSV delimiter (default: sniffed)")
      ->check(CLI::IsMember({"auto", ",", ";", "tab"}))
      ->capture_default_str();
  sub->add_option("--address-column", options->address_column,
                  "Column holding the PEC address (default: found by name)");
  sub->add_option("--duplicates", options->duplicates, "Duplicate addresses")
      ->check(CLI::IsMember({"error", "skip"}))
      ->capture_default_str();
  sub->add_flag("--json", options->json, "JSON output (shape in docs/contacts.md)");
  sub->footer("Exit status: 0 no problems, 65 problems found, 66 file not found.");
  sub->callback([options, &command] { command = [options] { return run_contacts(*options); }; });
}

} // namespace pecbatch::cli

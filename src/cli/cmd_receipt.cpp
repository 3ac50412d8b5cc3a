// pecbatch receipt inspect FILE...: classifies, parses and verifies PEC
// receipts and envelopes offline, as text or as JSON Lines (one object per
// file; shape in docs/receipts.md).

#include <pecbatch/core/file.hpp>
#include <pecbatch/receipts/message.hpp>
#include <pecbatch/receipts/signature.hpp>

#include "command.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace pecbatch::cli {

namespace {

struct InspectOptions {
  std::vector<std::string> files;
  std::vector<std::string> ca_files;
  bool json = false;
};

// Keys stay in the documented order (docs/receipts.md).
using Json = nlohmann::ordered_json;

template <typename T> Json or_null(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

// The facts of one message; every key is always present (null = unknown).
Json inspection_json(const std::string& file, const receipts::ParsedMessage& m,
                     const receipts::SignatureReport& signature,
                     const std::vector<std::string>& warnings) {
  const receipts::Daticert empty;
  const auto& dc = m.daticert ? *m.daticert : empty;
  Json destinatari = Json::array();
  for (const auto& r : dc.destinatari) {
    destinatari.push_back({{"address", r.address}, {"tipo", r.tipo}});
  }
  Json j;
  j["file"] = file;
  j["class"] = receipts::to_string(m.message_class);
  j["kind"] = m.kind ? Json(receipts::to_string(*m.kind)) : Json(nullptr);
  j["msgid"] = or_null(m.msgid);
  j["identificativo"] = or_null(dc.identificativo);
  j["consegna"] = or_null(dc.consegna);
  j["errore"] = or_null(dc.errore);
  j["errore_esteso"] = or_null(dc.errore_esteso);
  j["mittente"] = or_null(dc.mittente);
  j["destinatari"] = destinatari;
  j["oggetto"] = or_null(dc.oggetto);
  j["gestore"] = or_null(dc.gestore_emittente);
  j["time"] = or_null(dc.time);
  j["ricevuta"] = or_null(dc.ricevuta);
  j["signature"] = {{"status", receipts::to_string(signature.status)},
                    {"signer_email", or_null(signature.signer_email)},
                    {"issuer", or_null(signature.issuer)},
                    {"signing_time", or_null(signature.signing_time)}};
  j["warnings"] = warnings;
  return j;
}

void print_text(std::ostream& out, const std::string& file,
                const receipts::ParsedMessage& m,
                const receipts::SignatureReport& signature,
                const std::vector<std::string>& warnings) {
  auto line = [&](const char* label, const std::optional<std::string>& value) {
    if (value) {
      out << "  " << label << std::string(15 - std::string(label).size(), ' ') << *value
          << '\n';
    }
  };
  out << file << '\n';
  out << "  class          " << receipts::to_string(m.message_class);
  if (m.kind) {
    out << " (" << receipts::to_string(*m.kind) << ")";
  }
  out << '\n';
  const receipts::Daticert empty;
  const auto& dc = m.daticert ? *m.daticert : empty;
  line("msgid", m.msgid);
  line("identificativo", dc.identificativo);
  line("time", dc.time);
  line("mittente", dc.mittente);
  for (const auto& r : dc.destinatari) {
    line("destinatario", r.address + " (" + r.tipo + ")");
  }
  line("consegna", dc.consegna);
  line("errore", dc.errore);
  line("errore-esteso", dc.errore_esteso);
  line("oggetto", dc.oggetto);
  line("gestore", dc.gestore_emittente);
  line("ricevuta", dc.ricevuta);
  std::string status = receipts::to_string(signature.status);
  if (!signature.reason.empty()) {
    status += ": " + signature.reason;
  }
  line("signature", status);
  line("signer", signature.signer_email);
  line("issuer", signature.issuer);
  line("signing time", signature.signing_time);
  for (const auto& w : warnings) {
    line("warning", w);
  }
  if (!m.daticert) {
    out << "  (no certification data)\n";
  }
}

int run_inspect(const InspectOptions& options) {
  receipts::TrustOptions trust;
  for (const auto& path : options.ca_files) {
    trust.ca_files.emplace_back(path);
  }
  const auto verifier = receipts::make_openssl_verifier(trust).value_or_throw();

  int exit_code = k_exit_ok;
  bool first = true;
  for (const auto& file : options.files) {
    auto raw = core::read_file(file);
    if (!raw.ok()) {
      print_error(raw.error().message);
      // A missing file (66) wins over an I/O error (74), which wins over an
      // unparsable file (65).
      if (raw.error().kind == core::ErrorKind::no_input) {
        exit_code = k_exit_no_input;
      } else if (exit_code != k_exit_no_input) {
        exit_code = k_exit_io;
      }
      continue;
    }
    auto parsed = receipts::parse_message(std::move(raw).value());
    if (!parsed.ok()) {
      print_error(file + ": " + parsed.error().message);
      if (exit_code == k_exit_ok) {
        exit_code = k_exit_data;
      }
      continue;
    }
    const auto& message = parsed.value();
    const auto signature = verifier->verify(message);
    auto warnings = message.warnings;
    // The reason of a non-valid status, unless it is plain "not signed".
    if (signature.status != receipts::SignatureStatus::valid &&
        !signature.reason.empty() &&
        (signature.status != receipts::SignatureStatus::not_signed ||
         message.signed_entity)) {
      warnings.push_back(std::string("signature ") +
                         receipts::to_string(signature.status) + ": " + signature.reason);
    }
    if (options.json) {
      std::cout << inspection_json(file, message, signature, warnings)
                       .dump(-1, ' ', false, Json::error_handler_t::replace)
                << '\n';
    } else {
      std::cout << (first ? "" : "\n");
      // The signature line already gives the reason.
      print_text(std::cout, file, message, signature, message.warnings);
    }
    first = false;
  }
  return exit_code;
}

} // namespace

void setup_receipt(CLI::App& app, Command& command) {
  auto* receipt = app.add_subcommand("receipt", "Work with PEC receipts (offline)");
  receipt->require_subcommand(1);
  receipt->footer(
      "Example:\n  pecbatch receipt inspect --json --ca-file /tmp/pec/ca/root-ca.pem "
      "/tmp/pec/mail/*/new/*\n\nSee docs/receipts.md.");

  auto options = std::make_shared<InspectOptions>();
  auto* inspect = receipt->add_subcommand(
      "inspect", "Classify, parse and verify PEC receipts and envelopes (.eml files)");
  inspect->add_option("FILE", options->files, "Raw message files (e.g. from a Maildir)")
      ->required()
      ->type_name("FILE");
  inspect->add_flag("--json", options->json,
                    "JSON Lines: one object per file (shape in docs/receipts.md)");
  inspect
      ->add_option("--ca-file", options->ca_files,
                   "Extra trust anchor(s), PEM, besides the system CA bundle "
                   "(repeatable; e.g. the sandbox CA)")
      ->allow_extra_args(false)
      ->type_name("FILE");
  inspect->footer(
      "Exit status: 0 every file read (whatever the signature status), 65 a "
      "file is not a mail message, 66 a file (or a --ca-file) does not exist, "
      "74 a file cannot be read, 78 a --ca-file holds no certificate.");
  inspect->callback(
      [options, &command] { command = [options] { return run_inspect(*options); }; });
}

} // namespace pecbatch::cli

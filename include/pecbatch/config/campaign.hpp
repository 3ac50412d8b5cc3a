#pragma once

#include <pecbatch/compose/message.hpp>
#include <pecbatch/compose/preflight.hpp>
#include <pecbatch/config/provider.hpp>
#include <pecbatch/contacts/contacts.hpp>
#include <pecbatch/core/result.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

// The campaign file: one TOML file describing one batch, which a cron job
// can run again and again. See docs/configuration.md for every key.
namespace pecbatch::config {

struct Account {
  std::string address;   // the sender's PEC address (From, MAIL FROM)
  std::string username;  // login; defaults to the address
  // Exactly one password source may be set; none is fine for commands that
  // do not connect.
  std::string password_env;                   // environment variable name
  std::optional<std::filesystem::path> password_file;  // 0600 file
  std::string password_command;               // its stdout is the password
  std::string smtp_host;
  std::uint16_t smtp_port = 0;
  Security smtp_security = Security::tls;
  std::string imap_host;
  std::uint16_t imap_port = 0;
  Security imap_security = Security::tls;
  std::optional<std::filesystem::path> ca_file;  // extra trusted CA (PEM)
};

struct Limits {
  compose::MessageLimits message;
  unsigned rate_per_minute = 0;  // 0 = no limit
  unsigned rate_per_hour = 0;
  unsigned rate_per_day = 0;
};

struct ContactsSettings {
  std::filesystem::path file;
  contacts::ReadOptions read;
  contacts::ValidateOptions validate;  // header_columns left for the caller
  std::vector<std::string> attachment_columns;
  std::filesystem::path attachments_dir;  // base of per-recipient paths
};

struct MessageSettings {
  std::string subject;  // a Mustache template
  std::filesystem::path text_template;
  std::optional<std::filesystem::path> html_template;
  std::vector<std::filesystem::path> attachments;  // shared by every message
  compose::ReceiptType receipt = compose::ReceiptType::breve;
};

// How `send` behaves on the wire.
struct SendSettings {
  unsigned concurrency = 1;               // parallel SMTP connections
  unsigned max_attempts = 5;              // per row and run, the first included
  unsigned retry_base_seconds = 2;        // first back-off, doubled each time
  unsigned retry_max_seconds = 120;       // back-off cap
  unsigned connect_timeout_seconds = 30;
  unsigned timeout_seconds = 300;         // whole transaction of one message
  unsigned messages_per_connection = 100; // then reconnect
  unsigned quiet_period_seconds = 300;    // after a throttling reply, before speeding up again
  std::string helo_name;                  // EHLO argument; default: sender's domain
};

// How `poll` follows receipts.
struct PollSettings {
  // Rows submitted or accepted with no final receipt for this long become
  // `no_receipt` (docs/polling.md).
  unsigned no_receipt_after_hours = 26;
  // The IMAP folders read for receipts, each with its own cursor.
  std::vector<std::string> folders{"INBOX"};
  // How long after a row became `uncertain` each pass still searches the
  // folders for a receipt of it (IMAP SEARCH HEADER); after that it waits
  // for `pecbatch resolve`.
  unsigned uncertain_grace_hours = 26;
  // Opt-in: the IMAP folder this campaign's receipts are moved into once
  // archived and recorded (docs/polling.md). Empty: the mailbox is only
  // read (EXAMINE), never changed.
  std::string archive_folder;
};

// What `pecbatch report` shows (docs/reports.md).
struct ReportSettings {
  // Contacts columns shown beside each row (merge fields); none by default,
  // so that a report carries no personal data that was not asked for.
  std::vector<std::string> fields;
};

// One effective setting, for `pecbatch config show`.
struct Setting {
  std::string key;     // "account.address"
  std::string value;   // TOML-like display form; secrets redacted; "" = unset
  std::string origin;  // "campaign.toml:5", "profile aruba", "default", "--contacts"
};

struct Campaign {
  std::filesystem::path file;  // the campaign file, absolute
  std::string id;              // stable id, part of every Message-ID
  std::string name;
  std::filesystem::path output_dir;  // journal, evidence, reports
  Account account;
  const ProviderProfile* profile = nullptr;
  Limits limits;
  ContactsSettings contacts;
  MessageSettings message;
  SendSettings send;
  PollSettings poll;
  ReportSettings report;
  std::vector<Setting> settings;  // every key, in documentation order
};

// A value given on the command line, overriding the file.
struct Override {
  std::string key;     // "contacts.file"
  std::string value;   // TOML value syntax, or a bare string
  std::string origin;  // the flag, e.g. "--contacts" or "--set"
  // Relative paths in `value` are resolved against this directory (the
  // current directory for flags).
  std::filesystem::path base_dir;
  // Take `value` as a plain string, never as TOML syntax (for flags that
  // name a file, such as --contacts).
  bool literal = false;
};

// Loads `file` and applies `overrides`. Relative paths in the file are
// relative to the file's directory. Every problem (syntax, unknown key with
// a did-you-mean, wrong type, missing required key, bad value) is reported,
// one per line as `file:line: key: message`, in one error of kind `config`;
// a missing campaign file is `no_input`.
core::Result<Campaign> load_campaign(const std::filesystem::path& file,
                                     const std::vector<Override>& overrides = {});

// Parses an "override" flag of the form KEY=VALUE (for --set).
core::Result<Override> parse_set_flag(const std::string& text,
                                      const std::filesystem::path& base_dir);

// Every key the campaign file accepts, in documentation order.
std::vector<std::string> known_keys();

// Parses a size: an integer number of bytes, or a number with a unit
// (KB, MB, GB = powers of 1000; KiB, MiB, GiB = powers of 1024).
std::optional<std::uint64_t> parse_size(std::string_view text);

// The campaign's password, from its configured source. Fails with `config`
// when no source is set, the variable is unset or empty, the file is
// readable or writable by group or others, or the command fails. The
// password is never part of an error message.
core::Result<std::string> resolve_password(const Account& account);

} // namespace pecbatch::config

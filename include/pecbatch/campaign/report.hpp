#pragma once

#include <pecbatch/campaign/status.hpp>
#include <pecbatch/config/campaign.hpp>
#include <pecbatch/core/clock.hpp>
#include <pecbatch/core/result.hpp>
#include <pecbatch/journal/journal.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The per-recipient report (`pecbatch report`, docs/reports.md): one line
// per journal row with its merge fields, Message-ID, state, times, error,
// evidence files and signature verdict; rendered as CSV, JSON or one
// self-contained HTML page. Built from the journal opened read-only (no
// lock) and, for merge fields, the contacts file read again.
namespace pecbatch::campaign {

struct ReportOptions {
  // Contacts columns to show (merge fields), in this order; empty: none.
  std::vector<std::string> fields;
};

// A file of the evidence archive, with its SHA-256 as recorded.
struct EvidenceFile {
  std::string path;       // relative to the output directory, '/'-separated
  std::string sha256;
  std::string kind;       // receipts: "accettazione", ...; "" if unknown
  std::string signature;  // receipts: "valid", "invalid", "untrusted", "unsigned"
  std::string time;       // receipts: the daticert time, ISO 8601
};

struct ReportRow {
  std::uint64_t row = 0;  // the contacts row (line) when sent
  std::string address;
  // One per ReportOptions::fields; nullopt when the address is no longer
  // in the contacts file.
  std::vector<std::optional<std::string>> fields;
  std::string message_id;
  // Retries (`pecbatch retry`, `resolve --resend-uncertain`): the
  // Message-ID of the attempt this row sends again, and of the attempt that
  // sent this one again. `current` is false for an attempt sent again: it
  // stays in the report (its receipts may still come) but no longer counts
  // for its recipient.
  std::optional<std::string> retry_of;
  std::optional<std::string> retried_as;
  bool current = true;
  journal::State state = journal::State::queued;
  unsigned attempts = 0;
  // ISO 8601 with offset. submitted: the provider's 250; accepted and
  // delivered: the certified time of the valid receipt (daticert), else
  // when the journal recorded the state.
  std::optional<std::string> submitted_at;
  std::optional<std::string> accepted_at;
  std::optional<std::string> delivered_at;
  // The last SMTP error reply (only while the row is in an SMTP state and
  // the reply was >= 400; code 0 otherwise).
  int smtp_code = 0;
  std::string smtp_enhanced;
  std::string smtp_text;
  // The failure receipt's daticert `errore` and `errore-esteso` (the last
  // receipt of the row with an errore other than "nessuno").
  std::string errore;
  std::string errore_esteso;
  std::string error;  // describe_error: the two above in one line
  // "valid" when every PEC receipt of the row verified; otherwise the
  // worst status found (invalid, untrusted, unsigned); "" without receipts.
  std::string signature;
  std::string evidence_dir;                // "evidence/<Message-ID>/", "" if none
  std::optional<EvidenceFile> sent;        // sent.eml, when kept
  std::vector<EvidenceFile> receipts;      // in the order recorded
};

struct Report {
  std::string campaign_id;
  std::string campaign_name;
  std::string generated_at;                // ISO 8601 with offset
  std::vector<std::string> fields;         // column names as in the contacts header
  // Recipients: the latest attempt of each contacts row (attempts sent
  // again are not counted).
  std::uint64_t total = 0;
  std::vector<StateCount> counts;          // every state, lifecycle order
  std::vector<ReportRow> rows;             // every attempt, contacts-row order
};

// Builds the report of `campaign` as of `now`. Fails with `config` when the
// campaign has no journal, or a field is not a column of the contacts file
// (with a suggestion); `no_input`/`input` when the contacts file (needed
// only for fields) cannot be read; `io` on journal errors.
core::Result<Report> build_report(const config::Campaign& campaign, const ReportOptions& options,
                                  core::TimePoint now);

struct CsvOptions {
  char delimiter = ',';
  bool bom = false;  // start with a UTF-8 byte order mark (Excel)
};

// One CSV cell: neutralised against formula injection (a leading = + - @
// TAB or CR gets a leading apostrophe), then quoted per RFC 4180 when it
// holds the delimiter, a quote, CR or LF (quotes doubled).
std::string csv_cell(std::string_view value, char delimiter);

// The report as CSV: a header line, then one line per row, CRLF line ends.
std::string render_csv(const Report& report, const CsvOptions& options);

// The report as JSON (pretty-printed, UTF-8), shape in docs/reports.md.
std::string render_json(const Report& report);

struct HtmlOptions {
  // Path from the HTML file's directory to the output directory, "" or
  // ending in '/': evidence links are `link_prefix + path`.
  std::string link_prefix;
};

// The report as one self-contained HTML page: inline CSS and script only,
// a Content-Security-Policy that forbids any fetch, an SVG chart of the
// states, a sortable and filterable table, relative evidence links. Every
// value is HTML-escaped.
std::string render_html(const Report& report, const HtmlOptions& options);

// `&`, `<`, `>`, `"`, `'` as character references.
std::string html_escape(std::string_view text);

// The relative path prefix from the directory of `out_file` to
// `output_dir` (see HtmlOptions::link_prefix).
std::string link_prefix_for(const std::filesystem::path& out_file,
                            const std::filesystem::path& output_dir);

} // namespace pecbatch::campaign

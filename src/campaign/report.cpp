#include <pecbatch/campaign/report.hpp>

#include <pecbatch/campaign/send.hpp>
#include <pecbatch/contacts/contacts.hpp>
#include <pecbatch/core/address.hpp>
#include <pecbatch/core/strings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <system_error>
#include <unordered_map>

namespace pecbatch::campaign {

using core::ErrorKind;
using core::make_error;
using journal::State;
using nlohmann::ordered_json;

namespace {

// ---------------------------------------------------------------------------
// The model

// The merge fields of every contact, by normalised address (first row wins).
struct FieldTable {
  std::vector<std::string> names;  // as spelled in the contacts header
  std::unordered_map<std::string, std::vector<std::string>> by_address;
};

core::Result<FieldTable> read_fields(const config::Campaign& campaign,
                                     const std::vector<std::string>& wanted) {
  FieldTable table;
  if (wanted.empty()) {
    return table;
  }
  auto validate = campaign.contacts.validate;
  validate.duplicates = contacts::DuplicatePolicy::skip;
  PB_TRY_ASSIGN(auto stream, contacts::ContactStream::open(campaign.contacts.file,
                                                           campaign.contacts.read, validate));
  const auto& columns = stream.columns();
  std::string problems;
  for (const auto& name : wanted) {
    auto it = std::find(columns.begin(), columns.end(), name);
    if (it == columns.end()) {
      it = std::find_if(columns.begin(), columns.end(), [&](const std::string& column) {
        return core::iequals_ascii(column, name);
      });
    }
    if (it == columns.end()) {
      std::string message = "report field " + core::quote(name) + ": no such column in " +
                            campaign.contacts.file.string();
      if (auto guess = core::suggest(name, columns)) {
        message += " (did you mean " + core::quote(*guess) + "?)";
      }
      message += "; columns:";
      for (const auto& column : columns) {
        message += " " + core::quote(column);
      }
      problems += (problems.empty() ? "" : "\n") + message;
      continue;
    }
    table.names.push_back(*it);
  }
  if (!problems.empty()) {
    return make_error(ErrorKind::config, problems);
  }
  for (;;) {
    PB_TRY_ASSIGN(auto next, stream.next());
    if (!next) {
      break;
    }
    const auto& contact = next->contact;
    if (contact.address.empty() || next->duplicate_skipped) {
      continue;
    }
    std::vector<std::string> values;
    values.reserve(table.names.size());
    for (const auto& name : table.names) {
      const std::string* value = contact.field(name);
      values.push_back(value != nullptr ? *value : std::string());
    }
    table.by_address.emplace(core::normalise_mailbox(contact.address), std::move(values));
  }
  return table;
}

int signature_rank(const std::string& status) {
  if (status == "valid") {
    return 0;
  }
  if (status == "unsigned") {
    return 1;
  }
  if (status == "untrusted") {
    return 2;
  }
  return 3;  // invalid, or anything unknown
}

bool receipt_failure_state(State state) {
  return state == State::rejected || state == State::delivery_failed ||
         state == State::failed_timeout || state == State::delayed;
}

bool smtp_state(State state) {
  return state == State::queued || state == State::sending || state == State::submitting ||
         state == State::deferred || state == State::failed || state == State::uncertain;
}

std::optional<long long> iso_to_unix(std::string_view iso);

// A receipt's certified time in the local zone, like every other time of
// the report (the verbatim daticert time stays in the receipt's entry).
std::string certified_local_time(const std::string& iso) {
  const auto unix = iso_to_unix(iso);
  return unix ? iso_local_time(core::from_unix_ms(*unix * 1000)) : iso;
}

// The time of the first event that moved the row to `state`.
std::optional<std::string> event_time(const std::vector<journal::Event>& events, State state) {
  for (const auto& event : events) {
    if (event.to == state) {
      return iso_local_time(event.at);
    }
  }
  return std::nullopt;
}

core::Result<ReportRow> build_row(const config::Campaign& campaign, journal::Journal& journal,
                                  const journal::RowRecord& record, const FieldTable& fields) {
  ReportRow row;
  row.row = record.row;
  row.address = record.address;
  row.message_id = record.message_id;
  row.state = record.state;
  row.attempts = record.attempts;

  if (!fields.names.empty()) {
    const auto it = fields.by_address.find(core::normalise_mailbox(record.address));
    for (std::size_t i = 0; i < fields.names.size(); ++i) {
      if (it == fields.by_address.end()) {
        row.fields.emplace_back(std::nullopt);
      } else {
        row.fields.emplace_back(it->second[i]);
      }
    }
  }

  if (core::to_unix_ms(record.submitted) > 0) {
    row.submitted_at = iso_local_time(record.submitted);
  }
  if (smtp_state(record.state) && record.last_code >= 400) {
    row.smtp_code = record.last_code;
    row.smtp_enhanced = record.last_enhanced;
    row.smtp_text = record.last_text;
  }
  row.error = describe_error(record);

  PB_TRY_ASSIGN(const auto records, journal.receipts_for(record.message_id));
  int worst = -1;
  for (const auto& receipt : records) {
    if (receipt.row_id && *receipt.row_id != record.id) {
      continue;
    }
    row.receipts.push_back(
        {receipt.file, receipt.sha256, receipt.kind, receipt.signature, receipt.time});
    if (!receipt.kind.empty()) {
      worst = std::max(worst, signature_rank(receipt.signature));
    }
    if (receipt.signature != "valid") {
      continue;
    }
    if (receipt.kind == "accettazione" && !row.accepted_at && !receipt.time.empty()) {
      row.accepted_at = certified_local_time(receipt.time);
    }
    if (receipt.kind == "avvenuta-consegna" && !row.delivered_at && !receipt.time.empty() &&
        core::iequals_ascii(receipt.consegna, record.address)) {
      row.delivered_at = certified_local_time(receipt.time);
    }
    const bool has_error = (!receipt.errore.empty() && receipt.errore != "nessuno") ||
                           !receipt.errore_esteso.empty();
    if (has_error && receipt_failure_state(record.state)) {
      row.errore = receipt.errore;
      row.errore_esteso = receipt.errore_esteso;
    }
  }
  if (worst >= 0) {
    for (const char* status : {"valid", "unsigned", "untrusted", "invalid"}) {
      if (signature_rank(status) == worst) {
        row.signature = status;
      }
    }
  }
  // Without a certified time (e.g. a journal edited by hand), when the
  // journal recorded the state.
  const bool was_accepted = record.state != State::rejected && !row.receipts.empty();
  if ((!row.accepted_at && was_accepted) || (!row.delivered_at && record.state == State::delivered)) {
    PB_TRY_ASSIGN(const auto events, journal.events(record.id));
    if (!row.accepted_at) {
      row.accepted_at = event_time(events, State::accepted);
    }
    if (!row.delivered_at) {
      row.delivered_at = event_time(events, State::delivered);
    }
  }

  const auto dir = evidence_dir(campaign, record.message_id);
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) {
    row.evidence_dir = "evidence/" + record.message_id + "/";
    if (std::filesystem::is_regular_file(dir / "sent.eml", ec)) {
      row.sent = EvidenceFile{row.evidence_dir + "sent.eml", record.sent_sha256, "", "", ""};
    }
  }
  return row;
}

// ---------------------------------------------------------------------------
// Small formatting helpers

std::string percent_text(double percent) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%.1f%%", percent);
  return buffer;
}

const char* group_class(State state) {
  switch (group_of(state)) {
  case StateGroup::to_send: return "g-send";
  case StateGroup::awaiting_receipts: return "g-wait";
  case StateGroup::success: return "g-ok";
  case StateGroup::failure: return "g-fail";
  }
  return "g-wait";
}

// Percent-encodes what is not safe in a relative URL path.
std::string url_path(std::string_view path) {
  static const char* const hex = "0123456789ABCDEF";
  std::string out;
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                      c == '~' || c == '/' || c == '@';
    if (safe) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  return out;
}

ordered_json text_or_null(const std::string& text) {
  return text.empty() ? ordered_json(nullptr) : ordered_json(text);
}

ordered_json optional_or_null(const std::optional<std::string>& text) {
  return text ? ordered_json(*text) : ordered_json(nullptr);
}

std::string join(const std::vector<EvidenceFile>& files, std::string EvidenceFile::*member) {
  std::string out;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (i > 0) {
      out.push_back('\n');
    }
    out.append(files[i].*member);
  }
  return out;
}

} // namespace

// ---------------------------------------------------------------------------

core::Result<Report> build_report(const config::Campaign& campaign, const ReportOptions& options,
                                  core::TimePoint now) {
  PB_TRY_ASSIGN(auto journal, open_journal_read_only(campaign));
  PB_TRY_ASSIGN(const auto fields, read_fields(campaign, options.fields));

  Report report;
  report.campaign_id = campaign.id;
  report.campaign_name = campaign.name;
  report.generated_at = iso_local_time(now);
  report.fields = fields.names;

  PB_TRY_ASSIGN(auto counts, journal.current_counts());
  for (const auto& [state, n] : counts) {
    report.total += n;
  }
  auto add_count = [&](State state) {
    const auto it = counts.find(state);
    const std::uint64_t n = it == counts.end() ? 0 : it->second;
    report.counts.push_back({state, n,
                             report.total == 0 ? 0.0
                                               : 100.0 * static_cast<double>(n) /
                                                     static_cast<double>(report.total)});
    if (it != counts.end()) {
      counts.erase(it);
    }
  };
  for (const State state : lifecycle_states()) {
    add_count(state);
  }
  while (!counts.empty()) {
    add_count(counts.begin()->first);
  }

  // Rows first (one read of the row table), then each row's events and
  // receipts: never a nested statement on the same connection.
  std::vector<journal::RowRecord> records;
  records.reserve(static_cast<std::size_t>(report.total));
  PB_TRY(journal.for_each({}, [&](const journal::RowRecord& record) {
    records.push_back(record);
    return true;
  }));
  std::unordered_map<std::int64_t, std::string> message_ids;
  for (const auto& record : records) {
    message_ids.emplace(record.id, record.message_id);
  }
  auto message_id_of = [&](const std::optional<std::int64_t>& id) -> std::optional<std::string> {
    if (!id) {
      return std::nullopt;
    }
    const auto it = message_ids.find(*id);
    return it == message_ids.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  report.rows.reserve(records.size());
  for (const auto& record : records) {
    PB_TRY_ASSIGN(auto row, build_row(campaign, journal, record, fields));
    row.retry_of = message_id_of(record.retry_of);
    row.retried_as = message_id_of(record.superseded_by);
    row.current = !record.superseded_by;
    report.rows.push_back(std::move(row));
  }
  return report;
}

// ---------------------------------------------------------------------------
// CSV

std::string csv_cell(std::string_view value, char delimiter) {
  std::string cell;
  cell.reserve(value.size() + 3);
  if (!value.empty() && (value.front() == '=' || value.front() == '+' || value.front() == '-' ||
                         value.front() == '@' || value.front() == '\t' || value.front() == '\r')) {
    cell.push_back('\'');
  }
  cell.append(value);
  const bool quote = cell.find_first_of(std::string{delimiter, '"', '\r', '\n'}) !=
                     std::string::npos;
  if (!quote) {
    return cell;
  }
  std::string out = "\"";
  for (const char c : cell) {
    if (c == '"') {
      out.push_back('"');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string render_csv(const Report& report, const CsvOptions& options) {
  std::string out;
  if (options.bom) {
    out.append("\xEF\xBB\xBF");
  }
  const char d = options.delimiter;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) {
        out.push_back(d);
      }
      out.append(csv_cell(cells[i], d));
    }
    out.append("\r\n");
  };
  std::vector<std::string> header = {"row", "address"};
  header.insert(header.end(), report.fields.begin(), report.fields.end());
  for (const char* name :
       {"message_id", "retry_of", "retried_as", "state", "attempts", "submitted_at", "accepted_at",
        "delivered_at", "smtp_code", "smtp_enhanced", "smtp_text", "errore", "errore_esteso",
        "signature", "evidence_dir", "sent_file", "sent_sha256", "receipt_files",
        "receipt_sha256"}) {
    header.emplace_back(name);
  }
  line(header);
  for (const auto& row : report.rows) {
    std::vector<std::string> cells = {std::to_string(row.row), row.address};
    for (const auto& field : row.fields) {
      cells.push_back(field.value_or(""));
    }
    cells.push_back(row.message_id);
    cells.push_back(row.retry_of.value_or(""));
    cells.push_back(row.retried_as.value_or(""));
    cells.emplace_back(journal::to_string(row.state));
    cells.push_back(std::to_string(row.attempts));
    cells.push_back(row.submitted_at.value_or(""));
    cells.push_back(row.accepted_at.value_or(""));
    cells.push_back(row.delivered_at.value_or(""));
    cells.push_back(row.smtp_code != 0 ? std::to_string(row.smtp_code) : "");
    cells.push_back(row.smtp_enhanced);
    cells.push_back(row.smtp_text);
    cells.push_back(row.errore);
    cells.push_back(row.errore_esteso);
    cells.push_back(row.signature);
    cells.push_back(row.evidence_dir);
    cells.push_back(row.sent ? row.sent->path : "");
    cells.push_back(row.sent ? row.sent->sha256 : "");
    cells.push_back(join(row.receipts, &EvidenceFile::path));
    cells.push_back(join(row.receipts, &EvidenceFile::sha256));
    line(cells);
  }
  return out;
}

// ---------------------------------------------------------------------------
// JSON

std::string render_json(const Report& report) {
  ordered_json doc;
  doc["report_version"] = 1;
  doc["campaign"] = report.campaign_id;
  doc["name"] = report.campaign_name;
  doc["generated_at"] = report.generated_at;
  doc["fields"] = report.fields;
  doc["total"] = report.total;
  ordered_json counts = ordered_json::object();
  ordered_json groups = {{"to_send", 0}, {"awaiting_receipts", 0}, {"success", 0}, {"failure", 0}};
  for (const auto& count : report.counts) {
    counts[journal::to_string(count.state)] = count.count;
    auto& group = groups[to_string(group_of(count.state))];
    group = group.get<std::uint64_t>() + count.count;
  }
  doc["counts"] = std::move(counts);
  doc["groups"] = std::move(groups);
  ordered_json rows = ordered_json::array();
  for (const auto& row : report.rows) {
    ordered_json r;
    r["row"] = row.row;
    r["address"] = row.address;
    ordered_json fields = ordered_json::object();
    for (std::size_t i = 0; i < report.fields.size() && i < row.fields.size(); ++i) {
      fields[report.fields[i]] = optional_or_null(row.fields[i]);
    }
    r["fields"] = std::move(fields);
    r["message_id"] = row.message_id;
    r["retry_of"] = optional_or_null(row.retry_of);
    r["retried_as"] = optional_or_null(row.retried_as);
    r["current"] = row.current;
    r["state"] = journal::to_string(row.state);
    r["group"] = to_string(group_of(row.state));
    r["attempts"] = row.attempts;
    r["submitted_at"] = optional_or_null(row.submitted_at);
    r["accepted_at"] = optional_or_null(row.accepted_at);
    r["delivered_at"] = optional_or_null(row.delivered_at);
    r["smtp_code"] = row.smtp_code != 0 ? ordered_json(row.smtp_code) : ordered_json(nullptr);
    r["smtp_enhanced"] = text_or_null(row.smtp_enhanced);
    r["smtp_text"] = text_or_null(row.smtp_text);
    r["errore"] = text_or_null(row.errore);
    r["errore_esteso"] = text_or_null(row.errore_esteso);
    r["error"] = text_or_null(row.error);
    r["signature"] = text_or_null(row.signature);
    ordered_json evidence;
    evidence["dir"] = text_or_null(row.evidence_dir);
    if (row.sent) {
      evidence["sent"] = {{"path", row.sent->path}, {"sha256", text_or_null(row.sent->sha256)}};
    } else {
      evidence["sent"] = nullptr;
    }
    ordered_json receipts = ordered_json::array();
    for (const auto& file : row.receipts) {
      receipts.push_back({{"path", file.path},
                          {"sha256", file.sha256},
                          {"kind", text_or_null(file.kind)},
                          {"signature", text_or_null(file.signature)},
                          {"time", text_or_null(file.time)}});
    }
    evidence["receipts"] = std::move(receipts);
    r["evidence"] = std::move(evidence);
    rows.push_back(std::move(r));
  }
  doc["rows"] = std::move(rows);
  // Invalid UTF-8 (never expected: contacts are validated) is replaced,
  // not thrown.
  return doc.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

// ---------------------------------------------------------------------------
// HTML

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
    case '&': out.append("&amp;"); break;
    case '<': out.append("&lt;"); break;
    case '>': out.append("&gt;"); break;
    case '"': out.append("&quot;"); break;
    case '\'': out.append("&#39;"); break;
    default: out.push_back(c);
    }
  }
  return out;
}

std::string link_prefix_for(const std::filesystem::path& out_file,
                            const std::filesystem::path& output_dir) {
  std::error_code ec;
  auto from = std::filesystem::weakly_canonical(
      std::filesystem::absolute(out_file, ec).parent_path(), ec);
  auto to = std::filesystem::weakly_canonical(std::filesystem::absolute(output_dir, ec), ec);
  const auto relative = to.lexically_relative(from);
  if (relative.empty()) {
    return to.generic_string() + "/";
  }
  if (relative == ".") {
    return "";
  }
  return relative.generic_string() + "/";
}

namespace {

constexpr const char* k_style = R"css(
:root { color-scheme: light; --ok: #1a7f37; --fail: #c62828; --wait: #1f5fbf; --send: #7a5b00;
  --line: #d0d7de; --muted: #57606a; --bg-alt: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 1.5rem 2rem; color: #1f2328; background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans",
  "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.meta { color: var(--muted); margin: 0; }
.meta code, td.mid, td.hash { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.totals { display: flex; flex-wrap: wrap; gap: .75rem; margin: .75rem 0 0; padding: 0; list-style: none; }
.totals li { border: 1px solid var(--line); border-radius: 6px; padding: .35rem .75rem; }
.totals strong { font-size: 1.2rem; margin-right: .3rem; }
.summary { display: flex; flex-wrap: wrap; gap: 1rem 3rem; align-items: flex-start; }
#chart { max-width: 100%; height: auto; }
#chart .label { font-size: 13px; fill: #1f2328; }
#chart .count { font-size: 13px; fill: var(--muted); }
#chart .g-ok rect { fill: var(--ok); } #chart .g-fail rect { fill: var(--fail); }
#chart .g-wait rect { fill: var(--wait); } #chart .g-send rect { fill: var(--send); }
.states { border-collapse: collapse; font-size: .85rem; }
.states td, .states th { padding: .15rem .75rem .15rem 0; text-align: left; }
.states td.n, .states td.p { text-align: right; font-variant-numeric: tabular-nums; }
.states tr.zero { color: var(--muted); }
.controls { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; margin: .5rem 0; }
.controls input, .controls select { font: inherit; padding: .25rem .4rem; }
.controls input { min-width: 18rem; }
#shown { color: var(--muted); }
.wrap { overflow-x: auto; }
table.rows { border-collapse: collapse; width: 100%; font-size: .88rem; }
table.rows caption { caption-side: top; text-align: left; padding: 0 0 .4rem; }
table.rows th, table.rows td { border-bottom: 1px solid var(--line); padding: .35rem .5rem;
  text-align: left; vertical-align: top; }
table.rows thead th { position: sticky; top: 0; background: #fff; border-bottom: 2px solid var(--line); }
table.rows tbody tr:nth-child(even) { background: var(--bg-alt); }
table.rows th button { all: unset; cursor: pointer; font-weight: 600; white-space: nowrap; }
table.rows th button:focus-visible { outline: 2px solid var(--wait); outline-offset: 2px; }
table.rows th[aria-sort=ascending] button::after { content: " \25B2"; font-size: .7em; }
table.rows th[aria-sort=descending] button::after { content: " \25BC"; font-size: .7em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.mid { font-size: .75rem; word-break: break-all; min-width: 14rem; color: var(--muted); }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
td.error { min-width: 16rem; }
td.missing { color: var(--muted); }
tr.superseded td { opacity: .6; }
.state { display: inline-block; padding: 0 .45rem; border-radius: 1rem; color: #fff; white-space: nowrap; }
.state.g-ok { background: var(--ok); } .state.g-fail { background: var(--fail); }
.state.g-wait { background: var(--wait); } .state.g-send { background: var(--send); }
.sig-bad { color: var(--fail); font-weight: 600; }
td.evidence { min-width: 11rem; }
td.evidence a { display: inline-block; margin-right: .5rem; white-space: nowrap; }
a { color: #0550ae; }
footer { margin-top: 2rem; color: var(--muted); font-size: .85rem; }
@media print {
  body { padding: 0; font-size: 10pt; }
  .controls { display: none; }
  table.rows { font-size: 8pt; }
  table.rows thead th { position: static; }
  a { color: inherit; text-decoration: none; }
  .state, #chart rect { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  tr { break-inside: avoid; }
}
)css";

constexpr const char* k_script = R"js(
(function () {
  'use strict';
  var table = document.getElementById('rows');
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var filter = document.getElementById('filter');
  var stateFilter = document.getElementById('state-filter');
  var shown = document.getElementById('shown');
  var buttons = Array.prototype.slice.call(table.tHead.querySelectorAll('button[data-col]'));
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: 'base'});
  var sortCol = 0, sortDir = 1;
  rows.forEach(function (tr, i) { tr.setAttribute('data-index', String(i)); });

  function key(tr, col, numeric) {
    var cell = tr.cells[col];
    var v = cell.hasAttribute('data-sort') ? cell.getAttribute('data-sort') : cell.textContent;
    if (numeric) {
      var n = parseFloat(v);
      return isNaN(n) ? -Infinity : n;
    }
    return v.trim();
  }
  function sortBy(col, numeric) {
    if (sortCol === col) { sortDir = -sortDir; } else { sortCol = col; sortDir = 1; }
    var keyed = rows.map(function (tr) {
      return [key(tr, col, numeric), Number(tr.getAttribute('data-index')), tr];
    });
    keyed.sort(function (a, b) {
      var c = numeric ? (a[0] < b[0] ? -1 : (a[0] > b[0] ? 1 : 0)) : collator.compare(a[0], b[0]);
      return c !== 0 ? c * sortDir : a[1] - b[1];
    });
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (k) { fragment.appendChild(k[2]); });
    body.appendChild(fragment);
    buttons.forEach(function (b) {
      var th = b.parentNode;
      if (Number(b.getAttribute('data-col')) === col) {
        th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
      } else {
        th.removeAttribute('aria-sort');
      }
    });
  }
  function applyFilter() {
    var q = filter.value.trim().toLowerCase();
    var state = stateFilter.value;
    var n = 0;
    rows.forEach(function (tr) {
      var ok = (!state || tr.getAttribute('data-state') === state) &&
               (!q || tr.textContent.toLowerCase().indexOf(q) >= 0);
      tr.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + ' of ' + rows.length + ' rows shown';
  }
  buttons.forEach(function (b) {
    b.addEventListener('click', function () {
      sortBy(Number(b.getAttribute('data-col')), b.getAttribute('data-type') === 'num');
    });
  });
  filter.addEventListener('input', applyFilter);
  stateFilter.addEventListener('change', applyFilter);
  Array.prototype.forEach.call(document.querySelectorAll('#chart .bar'), function (bar) {
    bar.addEventListener('click', function () {
      stateFilter.value = bar.getAttribute('data-state');
      applyFilter();
      table.scrollIntoView();
    });
  });
  applyFilter();
})();
)js";

void append_chart(std::string& out, const Report& report) {
  std::vector<const StateCount*> bars;
  std::uint64_t max = 0;
  for (const auto& count : report.counts) {
    if (count.count > 0) {
      bars.push_back(&count);
      max = std::max(max, count.count);
    }
  }
  constexpr int k_label = 150;
  constexpr int k_width = 400;
  constexpr int k_bar = 22;
  constexpr int k_step = 30;
  const int height = std::max<int>(1, static_cast<int>(bars.size())) * k_step + 10;
  std::string description;
  for (const auto* bar : bars) {
    description.append(description.empty() ? "" : ", ")
        .append(journal::to_string(bar->state))
        .append(": ")
        .append(std::to_string(bar->count));
  }
  out.append("<svg id=\"chart\" role=\"img\" aria-labelledby=\"chart-title chart-desc\" width=\"660\" "
             "height=\"")
      .append(std::to_string(height))
      .append("\" viewBox=\"0 0 660 ")
      .append(std::to_string(height))
      .append("\"><title id=\"chart-title\">Rows per state</title><desc id=\"chart-desc\">")
      .append(html_escape(description.empty() ? "no rows" : description))
      .append("</desc>\n");
  if (bars.empty()) {
    out.append("<text x=\"0\" y=\"20\" class=\"count\">No rows in the journal.</text>\n");
  }
  int y = 5;
  for (const auto* bar : bars) {
    const int width = std::max(
        2, static_cast<int>(static_cast<double>(k_width) * static_cast<double>(bar->count) /
                                static_cast<double>(max) +
                            0.5));
    const std::string state = journal::to_string(bar->state);
    const std::string count = std::to_string(bar->count);
    const std::string label = count + " (" + percent_text(bar->percent) + ")";
    out.append("<g class=\"bar ")
        .append(group_class(bar->state))
        .append("\" data-state=\"")
        .append(state)
        .append("\" data-count=\"")
        .append(count)
        .append("\"><text class=\"label\" x=\"")
        .append(std::to_string(k_label - 8))
        .append("\" y=\"")
        .append(std::to_string(y + 16))
        .append("\" text-anchor=\"end\">")
        .append(state)
        .append("</text><rect x=\"")
        .append(std::to_string(k_label))
        .append("\" y=\"")
        .append(std::to_string(y))
        .append("\" width=\"")
        .append(std::to_string(width))
        .append("\" height=\"")
        .append(std::to_string(k_bar))
        .append("\" rx=\"3\"><title>")
        .append(state)
        .append(": ")
        .append(label)
        .append("</title></rect><text class=\"count\" x=\"")
        .append(std::to_string(k_label + width + 6))
        .append("\" y=\"")
        .append(std::to_string(y + 16))
        .append("\">")
        .append(label)
        .append("</text></g>\n");
    y += k_step;
  }
  out.append("</svg>\n");
}

void append_link(std::string& out, const std::string& prefix, const std::string& path,
                 const std::string& text, const std::string& title, const char* css_class) {
  out.append("<a href=\"")
      .append(html_escape(url_path(prefix + path)))
      .append("\"");
  if (!title.empty()) {
    out.append(" title=\"").append(html_escape(title)).append("\"");
  }
  if (css_class != nullptr) {
    out.append(" class=\"").append(css_class).append("\"");
  }
  out.append(">").append(html_escape(text)).append("</a>");
}

// "2026-11-22T11:05:01+01:00" -> seconds since the epoch; nullopt if it is
// not that shape.
std::optional<long long> iso_to_unix(std::string_view iso) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, oh = 0, om = 0;
  char sign = 0;
  if (iso.size() < 20 ||
      std::sscanf(std::string(iso).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi,
                  &s) != 6) {
    return std::nullopt;
  }
  const std::string_view zone = iso.substr(19);
  long long offset = 0;
  if (zone != "Z") {
    if (std::sscanf(std::string(zone).c_str(), "%c%2d:%2d", &sign, &oh, &om) != 3 ||
        (sign != '+' && sign != '-')) {
      return std::nullopt;
    }
    offset = (sign == '-' ? -1 : 1) * (oh * 3600LL + om * 60LL);
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<long long>(::timegm(&tm)) - offset;
}

// A time cell: shown as "2026-11-22 11:05:01", the full ISO 8601 in the
// <time> element and its tooltip, sorted by the instant.
void append_time_cell(std::string& out, const std::optional<std::string>& iso) {
  if (!iso) {
    out.append("<td class=\"time\"></td>");
    return;
  }
  const auto unix = iso_to_unix(*iso);
  std::string shown = *iso;
  if (unix && shown.size() >= 19) {
    shown = shown.substr(0, 10) + " " + shown.substr(11, 8);
  }
  out.append("<td class=\"time\"");
  if (unix) {
    out.append(" data-sort=\"").append(std::to_string(*unix)).append("\"");
  }
  out.append("><time datetime=\"")
      .append(html_escape(*iso))
      .append("\" title=\"")
      .append(html_escape(*iso))
      .append("\">")
      .append(html_escape(shown))
      .append("</time></td>");
}

void append_cell(std::string& out, const std::string& text, const char* css_class = nullptr) {
  out.append("<td");
  if (css_class != nullptr) {
    out.append(" class=\"").append(css_class).append("\"");
  }
  out.append(">").append(html_escape(text)).append("</td>");
}

} // namespace

std::string render_html(const Report& report, const HtmlOptions& options) {
  std::string out;
  out.reserve(8192 + report.rows.size() * 900);
  const std::string title = "pecbatch report: " + report.campaign_name;
  out.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
             "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             "<meta name=\"generator\" content=\"pecbatch\">\n<title>")
      .append(html_escape(title))
      .append("</title>\n<style>")
      .append(k_style)
      .append("</style>\n</head>\n<body>\n<header>\n<h1>")
      .append(html_escape(report.campaign_name))
      .append("</h1>\n<p class=\"meta\">Campaign <code>")
      .append(html_escape(report.campaign_id))
      .append("</code> &middot; report generated <time datetime=\"")
      .append(html_escape(report.generated_at))
      .append("\">")
      .append(html_escape(report.generated_at))
      .append("</time> &middot; <span id=\"total\">")
      .append(std::to_string(report.total))
      .append("</span> rows</p>\n");

  std::uint64_t groups[4] = {0, 0, 0, 0};
  for (const auto& count : report.counts) {
    groups[static_cast<int>(group_of(count.state))] += count.count;
  }
  out.append("<ul class=\"totals\">")
      .append("<li><strong>")
      .append(std::to_string(groups[static_cast<int>(StateGroup::success)]))
      .append("</strong>delivered or sent external</li><li><strong>")
      .append(std::to_string(groups[static_cast<int>(StateGroup::failure)]))
      .append("</strong>failed</li><li><strong>")
      .append(std::to_string(groups[static_cast<int>(StateGroup::awaiting_receipts)]))
      .append("</strong>awaiting receipts</li><li><strong>")
      .append(std::to_string(groups[static_cast<int>(StateGroup::to_send)]))
      .append("</strong>not sent yet</li></ul>\n</header>\n<main>\n");

  // Summary: the chart, and every state in a table (its text alternative).
  out.append("<section aria-labelledby=\"summary-title\">\n<h2 id=\"summary-title\">States</h2>\n"
             "<div class=\"summary\">\n");
  append_chart(out, report);
  out.append("<table class=\"states\" id=\"state-counts\"><thead><tr><th scope=\"col\">State</th>"
             "<th scope=\"col\">Rows</th><th scope=\"col\">Share</th></tr></thead><tbody>\n");
  for (const auto& count : report.counts) {
    out.append(count.count == 0 ? "<tr class=\"zero\"" : "<tr")
        .append(" data-summary=\"")
        .append(journal::to_string(count.state))
        .append("\"><td>")
        .append(journal::to_string(count.state))
        .append("</td><td class=\"n\">")
        .append(std::to_string(count.count))
        .append("</td><td class=\"p\">")
        .append(percent_text(count.percent))
        .append("</td></tr>\n");
  }
  out.append("</tbody></table>\n</div>\n</section>\n");

  // The recipients.
  out.append("<section aria-labelledby=\"rows-title\">\n<h2 id=\"rows-title\">Recipients</h2>\n"
             "<div class=\"controls\" role=\"search\">\n"
             "<label>Filter <input type=\"search\" id=\"filter\" "
             "placeholder=\"address, name, error, Message-ID…\" autocomplete=\"off\"></label>\n"
             "<label>State <select id=\"state-filter\"><option value=\"\">all states</option>");
  // The states of the table's rows (attempts sent again included).
  std::map<State, std::uint64_t> in_table;
  for (const auto& row : report.rows) {
    ++in_table[row.state];
  }
  for (const auto& summary : report.counts) {
    const auto it = in_table.find(summary.state);
    if (it == in_table.end()) {
      continue;
    }
    const auto count = StateCount{it->first, it->second, 0};
    const std::string state = journal::to_string(count.state);
    out.append("<option value=\"")
        .append(state)
        .append("\">")
        .append(state)
        .append(" (")
        .append(std::to_string(count.count))
        .append(")</option>");
  }
  out.append("</select></label>\n<span id=\"shown\" role=\"status\" aria-live=\"polite\">")
      .append(std::to_string(report.rows.size()))
      .append(" of ")
      .append(std::to_string(report.rows.size()))
      .append(" rows shown</span>\n</div>\n<div class=\"wrap\">\n"
              "<table class=\"rows\" id=\"rows\">\n<caption class=\"meta\">One row per "
              "recipient; click a column heading to sort.</caption>\n<thead><tr>");
  int column = 0;
  auto heading = [&](const std::string& name, bool numeric) {
    out.append("<th scope=\"col\"")
        .append(column == 0 ? " aria-sort=\"ascending\"" : "")
        .append("><button type=\"button\" data-col=\"")
        .append(std::to_string(column))
        .append("\"")
        .append(numeric ? " data-type=\"num\"" : "")
        .append(">")
        .append(html_escape(name))
        .append("</button></th>");
    ++column;
  };
  heading("Row", true);
  heading("Address", false);
  for (const auto& field : report.fields) {
    heading(field, false);
  }
  heading("State", false);
  heading("Submitted", true);
  heading("Accepted", true);
  heading("Delivered", true);
  heading("Error", false);
  heading("Signature", false);
  heading("Evidence", false);
  heading("Message-ID", false);
  out.append("</tr></thead>\n<tbody>\n");

  for (const auto& row : report.rows) {
    const std::string state = journal::to_string(row.state);
    out.append("<tr data-state=\"")
        .append(state)
        .append(row.current ? "\">" : "\" class=\"superseded\">");
    out.append("<td class=\"num\" data-sort=\"")
        .append(std::to_string(row.row))
        .append("\">")
        .append(std::to_string(row.row))
        .append("</td>");
    append_cell(out, row.address);
    for (const auto& field : row.fields) {
      if (field) {
        append_cell(out, *field);
      } else {
        out.append("<td class=\"missing\" title=\"not in the contacts file\"></td>");
      }
    }
    out.append("<td><span class=\"state ")
        .append(group_class(row.state))
        .append("\">")
        .append(state)
        .append("</span>");
    if (row.retried_as) {
      out.append("<br><small title=\"")
          .append(html_escape(*row.retried_as))
          .append("\">sent again</small>");
    }
    if (row.retry_of) {
      out.append("<br><small title=\"")
          .append(html_escape(*row.retry_of))
          .append("\">retry</small>");
    }
    out.append("</td>");
    append_time_cell(out, row.submitted_at);
    append_time_cell(out, row.accepted_at);
    append_time_cell(out, row.delivered_at);
    append_cell(out, row.error, "error");
    append_cell(out, row.signature,
                row.signature.empty() || row.signature == "valid" ? nullptr : "sig-bad");
    out.append("<td class=\"evidence\">");
    if (!row.evidence_dir.empty()) {
      append_link(out, options.link_prefix, row.evidence_dir, "folder",
                  "evidence/" + row.message_id, nullptr);
    }
    if (row.sent) {
      append_link(out, options.link_prefix, row.sent->path, "sent",
                  "sent.eml, SHA-256 " + row.sent->sha256, nullptr);
    }
    for (const auto& receipt : row.receipts) {
      const std::string name = receipt.kind.empty() ? "message" : receipt.kind;
      append_link(out, options.link_prefix, receipt.path, name,
                  name + ", signature " + (receipt.signature.empty() ? "-" : receipt.signature) +
                      ", SHA-256 " + receipt.sha256,
                  receipt.signature == "valid" || receipt.signature.empty() ? nullptr
                                                                            : "sig-bad");
    }
    out.append("</td>");
    append_cell(out, row.message_id, "mid");
    out.append("</tr>\n");
  }
  out.append("</tbody>\n</table>\n</div>\n</section>\n</main>\n<footer>\n<p>Generated by "
             "pecbatch from the campaign journal. Times are local to where they were recorded "
             "(the full ISO 8601 time with its UTC offset is in each tooltip); "
             "accepted and delivered times are the provider's certified times. Evidence links "
             "point to the files kept in the campaign's output directory (the SHA-256 of each "
             "is in its tooltip and in the CSV and JSON reports).</p>\n</footer>\n<script>")
      .append(k_script)
      .append("</script>\n</body>\n</html>\n");
  return out;
}

} // namespace pecbatch::campaign

// ContactStream: header checks, address column, per-row validation.

#include "fingerprints.hpp"
#include "reader_impl.hpp"

#include <pecbatch/core/address.hpp>
#include <pecbatch/core/strings.hpp>

namespace pecbatch::contacts {

namespace {

// How header names are compared with the aliases: ASCII lower case, without
// spaces, '_', '-' and '.' ("E-Mail", "e_mail" and "EMAIL" are all "email").
std::string alias_key(std::string_view name) {
  std::string key;
  for (char c : core::to_lower_ascii(name)) {
    if (c != ' ' && c != '_' && c != '-' && c != '.' && c != '\t') {
      key += c;
    }
  }
  return key;
}

// The address without surrounding ASCII spaces and tabs. Line ends are left
// in place so that the address check reports them.
std::string_view trim_blanks(std::string_view s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string_view::npos) {
    return {};
  }
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

std::string plural(std::size_t n, const char* word) {
  return std::to_string(n) + ' ' + word + (n == 1 ? "" : "s");
}

std::string column_label(std::size_t index) {
  return "column " + std::to_string(index + 1);
}

} // namespace

// The order is the preference when several columns match: PEC names first
// (a sheet often has both the ordinary e-mail and the PEC of a company, and
// PEC is what we send to), then generic e-mail names. Two columns matching
// the same alias (e.g. "E-mail" and "Email") are ambiguous: an error asking
// for `address_column`.
const std::vector<std::string>& address_column_aliases() {
  static const std::vector<std::string> aliases = {
      "pec",
      "indirizzo pec",
      "casella pec",
      "pec address",
      "email pec",
      "e-mail pec",
      "mail pec",
      "pec email",
      "posta elettronica certificata",
      "indirizzo posta elettronica certificata",
      "indirizzo di posta elettronica certificata",
      "domicilio digitale",
      "email",
      "e-mail",
      "mail",
      "indirizzo email",
      "indirizzo e-mail",
      "indirizzo mail",
      "email address",
      "e-mail address",
      "posta elettronica",
      "indirizzo posta elettronica",
      "indirizzo di posta elettronica",
  };
  return aliases;
}

const std::string* Contact::field(std::string_view column) const {
  if (column == address_column) {
    return &address;
  }
  for (const auto& [name, value] : fields) {
    if (name == column) {
      return &value;
    }
  }
  // Header names are unique ignoring case.
  if (core::iequals_ascii(column, address_column)) {
    return &address;
  }
  for (const auto& [name, value] : fields) {
    if (core::iequals_ascii(name, column)) {
      return &value;
    }
  }
  return nullptr;
}

struct ContactStream::Impl {
  std::unique_ptr<detail::ReaderBase> reader;
  std::filesystem::path path;
  std::string file; // path as printed in diagnostics
  std::vector<std::string> columns;
  std::size_t address_index = 0;
  std::vector<bool> header_column; // by column index
  DuplicatePolicy duplicates = DuplicatePolicy::error;
  detail::FirstRows first_rows;
};

namespace {

// Finds the column named `wanted` (exactly, else ignoring case, else by
// alias key if that is unambiguous).
std::optional<std::size_t> find_column(const std::vector<std::string>& columns,
                                       std::string_view wanted) {
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == wanted) {
      return i;
    }
  }
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (core::iequals_ascii(columns[i], wanted)) {
      return i;
    }
  }
  std::optional<std::size_t> found;
  const std::string key = alias_key(wanted);
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (!key.empty() && alias_key(columns[i]) == key) {
      if (found) {
        return std::nullopt;
      }
      found = i;
    }
  }
  return found;
}

// Checks the header and picks the address column; every problem goes to
// `problems`.
std::optional<std::size_t> check_header(const std::vector<std::string>& columns,
                                        const ValidateOptions& options,
                                        const core::Diagnostic& at,
                                        core::Diagnostics& problems) {
  auto problem = [&](std::string column, std::string message) {
    core::Diagnostic d = at;
    d.column = std::move(column);
    d.message = std::move(message);
    problems.push_back(std::move(d));
  };

  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].empty()) {
      problem(column_label(i), "empty column name");
      continue;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (core::iequals_ascii(columns[i], columns[j])) {
        problem(columns[i], "duplicate column name (" + column_label(j) + " and " +
                                column_label(i) + ")");
        break;
      }
    }
  }

  if (!options.address_column.empty()) {
    if (auto index = find_column(columns, options.address_column)) {
      return index;
    }
    std::string message = "no column " + core::quote(options.address_column) +
                          " (the address column set in the options); the "
                          "columns are " +
                          detail::quoted_list(columns);
    if (auto guess = core::suggest(options.address_column, columns)) {
      message += " (did you mean " + core::quote(*guess) + "?)";
    }
    problem("", message);
    return std::nullopt;
  }

  const auto& aliases = address_column_aliases();
  std::size_t best_rank = aliases.size();
  std::vector<std::size_t> best;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const std::string key = alias_key(columns[i]);
    for (std::size_t rank = 0; rank < aliases.size() && rank <= best_rank; ++rank) {
      if (alias_key(aliases[rank]) != key) {
        continue;
      }
      if (rank < best_rank) {
        best_rank = rank;
        best.clear();
      }
      best.push_back(i);
      break;
    }
  }
  if (best.size() == 1) {
    return best.front();
  }
  if (best.size() > 1) {
    std::vector<std::string> names;
    for (auto i : best) {
      names.push_back(columns[i]);
    }
    problem("", "cannot tell which column holds the addresses: " +
                    detail::quoted_list(names) +
                    " all look like it; set the address column in the options");
    return std::nullopt;
  }
  std::string accepted;
  for (const auto& alias : aliases) {
    accepted += accepted.empty() ? "" : ", ";
    accepted += alias;
  }
  problem("", "no address column: the columns are " + detail::quoted_list(columns) +
                  "; name the address column one of: " + accepted +
                  " (case, spaces, '-', '_' and '.' do not matter), or set the "
                  "address column in the options");
  return std::nullopt;
}

} // namespace

core::Result<ContactStream> ContactStream::open(const std::filesystem::path& path,
                                                const ReadOptions& read_options,
                                                const ValidateOptions& options) {
  PB_TRY_ASSIGN(auto reader, detail::open_any_reader(path, read_options));
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->file = path.string();
  impl->columns = reader->header();
  impl->duplicates = options.duplicates;

  core::Diagnostic at;
  at.file = impl->file;
  at.row = reader->header_row();
  core::Diagnostics problems;
  const auto address = check_header(impl->columns, options, at, problems);
  if (!problems.empty()) {
    std::string message;
    for (const auto& d : problems) {
      message += message.empty() ? "" : "\n";
      message += d.to_string();
    }
    return core::make_error(core::ErrorKind::input, message);
  }
  impl->address_index = *address;

  // Unknown names are ignored here: the template checks report fields that
  // do not exist.
  impl->header_column.assign(impl->columns.size(), false);
  for (const auto& name : options.header_columns) {
    if (auto index = find_column(impl->columns, name)) {
      impl->header_column[*index] = true;
    }
  }
  impl->reader = std::move(reader);
  return ContactStream(std::move(impl));
}

ContactStream::ContactStream(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
ContactStream::ContactStream(ContactStream&&) noexcept = default;
ContactStream& ContactStream::operator=(ContactStream&&) noexcept = default;
ContactStream::~ContactStream() = default;

const std::vector<std::string>& ContactStream::columns() const {
  return m_impl->columns;
}

const std::string& ContactStream::address_column() const {
  return m_impl->columns[m_impl->address_index];
}

const std::filesystem::path& ContactStream::path() const { return m_impl->path; }

core::Result<std::optional<RowResult>> ContactStream::next() {
  Impl& m = *m_impl;
  PB_TRY_ASSIGN(auto record, m.reader->next());
  if (!record) {
    return std::optional<RowResult>();
  }
  RowResult result;
  Contact& contact = result.contact;
  contact.row = record->row;
  contact.address_column = m.columns[m.address_index];
  auto& values = record->values;
  auto problem = [&](const std::string& column, std::string message) {
    result.problems.push_back(
        core::Diagnostic{m.file, contact.row, column, std::move(message)});
  };

  if (values.size() != m.columns.size()) {
    problem("", "row has " + plural(values.size(), "field") + ", header has " +
                    std::to_string(m.columns.size()));
  }

  const std::string& address_column = contact.address_column;
  if (m.address_index < values.size()) {
    contact.address = std::string(trim_blanks(values[m.address_index]));
  }
  if (contact.address.empty()) {
    problem(address_column, "missing address");
  } else if (auto why = core::mailbox_problem(contact.address)) {
    problem(address_column,
            "not a valid PEC address " + core::quote(contact.address) + " (" + *why + ")");
  } else {
    const auto key = detail::fingerprint(core::normalise_mailbox(contact.address));
    if (auto first = m.first_rows.insert(key, contact.row)) {
      if (m.duplicates == DuplicatePolicy::skip) {
        result.duplicate_skipped = true;
        problem(address_column, "duplicate of row " + std::to_string(*first) +
                                    ", skipped");
      } else {
        problem(address_column, "duplicate of row " + std::to_string(*first));
      }
    }
  }

  contact.fields.reserve(m.columns.size() - 1);
  for (std::size_t i = 0; i < m.columns.size(); ++i) {
    if (i == m.address_index) {
      continue;
    }
    std::string value = i < values.size() ? std::move(values[i]) : std::string();
    if (m.header_column[i] && value.find_first_of(std::string_view("\r\n\0", 3)) !=
                                  std::string::npos) {
      problem(m.columns[i], "contains a line break or NUL character, not allowed in "
                            "a value that goes into a message header: " +
                                core::quote(value));
    } else if (value.find('\0') != std::string::npos) {
      problem(m.columns[i], "contains a NUL character: " + core::quote(value));
    }
    contact.fields.emplace_back(m.columns[i], std::move(value));
  }
  return std::optional<RowResult>(std::move(result));
}

} // namespace pecbatch::contacts

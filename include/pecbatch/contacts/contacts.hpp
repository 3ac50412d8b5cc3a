#pragma once

#include <pecbatch/core/diagnostic.hpp>
#include <pecbatch/core/result.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// Contacts: reading a CSV / XLSX / XLS file as a stream of rows, and
// validating each row (address, duplicates, header safety). Memory does not
// grow with the number of rows, except for a compact fingerprint per address
// used to find duplicates.
namespace pecbatch::contacts {

enum class Format { automatic, csv, xlsx, xls };
enum class Encoding { utf8, windows1252, latin1 };
enum class DuplicatePolicy { error, skip };

// Parses "auto", "csv", "xlsx", "xls" (case-insensitive).
std::optional<Format> parse_format(std::string_view text);
// Parses "utf-8"/"utf8", "windows-1252"/"cp1252", "latin-1"/"iso-8859-1".
std::optional<Encoding> parse_encoding(std::string_view text);

struct ReadOptions {
  Format format = Format::automatic;  // automatic: from the file extension
  std::string sheet;                  // xlsx/xls: sheet name; empty = first
  std::optional<char> delimiter;      // csv: nullopt = sniff among , ; TAB
  Encoding encoding = Encoding::utf8; // csv only; spreadsheets are Unicode
};

// One record as read from the file: values in header order.
struct Record {
  std::uint64_t row = 0;  // 1-based line of the record's start (header = 1)
  std::vector<std::string> values;
};

// A streaming reader of one contacts file. The first record is the header.
class Reader {
public:
  virtual ~Reader() = default;
  // The header row, as read (values trimmed of surrounding spaces).
  virtual const std::vector<std::string>& header() const = 0;
  // The next data record, nullopt at the end. An error (broken quotes,
  // invalid UTF-8, unreadable spreadsheet) ends the stream: its message
  // starts with `file:row:`.
  virtual core::Result<std::optional<Record>> next() = 0;
};

// Opens `path` and reads its header. Fails with `no_input` if the file
// cannot be opened, `input` if it cannot be parsed or has no header row.
core::Result<std::unique_ptr<Reader>> open_reader(const std::filesystem::path& path,
                                                  const ReadOptions& options);

// Names that identify the address column (compared ignoring case and
// spaces): pec, email, e-mail, indirizzo pec, ...
const std::vector<std::string>& address_column_aliases();

struct ValidateOptions {
  std::string address_column;  // empty: found by name among the aliases
  DuplicatePolicy duplicates = DuplicatePolicy::error;
  // Columns whose values reach a message header (beyond the address, which
  // always does): CR, LF and NUL are errors there. NUL is an error in every
  // column.
  std::vector<std::string> header_columns;
};

// A validated data row.
struct Contact {
  std::uint64_t row = 0;
  std::string address;  // as written in the file, trimmed
  // Every column except the address, in header order: (name, value).
  std::vector<std::pair<std::string, std::string>> fields;
  // The name of the address column in the header, so that field() can
  // answer for it.
  std::string address_column;

  // The value of `column` (any column, the address one included), or
  // nullptr.
  const std::string* field(std::string_view column) const;
};

struct RowResult {
  Contact contact;
  core::Diagnostics problems;    // empty when the row is valid
  bool duplicate_skipped = false; // a duplicate dropped by policy `skip`
                                  // (also reported in `problems` as a note)
};

// Validating stream over a contacts file.
class ContactStream {
public:
  // Opens the file, reads the header and checks it (empty or duplicate
  // names, address column not found). Header problems are fatal: the error
  // is of kind `input` with every problem listed, one per line.
  static core::Result<ContactStream> open(const std::filesystem::path& path,
                                          const ReadOptions& read_options,
                                          const ValidateOptions& options);

  const std::vector<std::string>& columns() const;
  const std::string& address_column() const;
  const std::filesystem::path& path() const;

  // The next row with its problems, nullopt at the end. An error means the
  // file itself could not be read further (see Reader::next).
  core::Result<std::optional<RowResult>> next();

  ContactStream(ContactStream&&) noexcept;
  ContactStream& operator=(ContactStream&&) noexcept;
  ~ContactStream();

private:
  struct Impl;
  explicit ContactStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

} // namespace pecbatch::contacts

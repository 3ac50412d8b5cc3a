// CSV (RFC 4180) reader on libcsv, streaming over fixed-size chunks.
//
// libcsv reports fields and records through callbacks but not where they
// are in the file, so the reader feeds it one physical line at a time (a
// line ends at LF, CRLF or a lone CR). A record starts on the line where the
// parser first sees a byte other than a line end while outside a record;
// quoted values with embedded line ends keep that line as the record's row.

#include "reader_impl.hpp"

#include <pecbatch/core/strings.hpp>

#include <csv.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>

namespace pecbatch::contacts::detail {

namespace {

// Bytes read from the file at a time.
constexpr std::size_t k_chunk_size = 64 * 1024;

constexpr std::string_view k_utf8_bom = "\xEF\xBB\xBF";

// libcsv trims spaces and tabs around unquoted fields unless told that
// nothing is a space: values are kept exactly as written.
int never_space(unsigned char /*c*/) { return 0; }

// The delimiter of the header line: the most frequent of ';', TAB and ','
// outside quotes; ties go to ';' (what Italian Excel writes), then TAB. A
// single-column file gets ','.
char sniff_delimiter(std::string_view text) {
  std::size_t semicolons = 0;
  std::size_t tabs = 0;
  std::size_t commas = 0;
  bool quoted = false;
  const auto start = text.find_first_not_of("\r\n");
  if (start == std::string_view::npos) {
    return ',';
  }
  for (char c : text.substr(start)) {
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted) {
      if (c == '\r' || c == '\n') {
        break;
      }
      semicolons += c == ';';
      tabs += c == '\t';
      commas += c == ',';
    }
  }
  if (semicolons > 0 && semicolons >= tabs && semicolons >= commas) {
    return ';';
  }
  if (tabs > 0 && tabs >= commas) {
    return '\t';
  }
  return ',';
}

// A message for files that are clearly not text, or none.
std::optional<std::string> not_csv_reason(std::string_view start) {
  if (start.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
    return "this is a ZIP file (an XLSX spreadsheet?), not CSV: set "
           "format = \"xlsx\" or give the file the .xlsx extension";
  }
  if (start.substr(0, 4) == std::string_view("\xD0\xCF\x11\xE0", 4)) {
    return "this is an Office binary file (an XLS spreadsheet?), not CSV: set "
           "format = \"xls\" or give the file the .xls extension";
  }
  if (start.substr(0, 2) == "\xFF\xFE" || start.substr(0, 2) == "\xFE\xFF") {
    return "this file is UTF-16 (Excel's \"Unicode text\"): save it as "
           "\"CSV UTF-8\" instead";
  }
  return std::nullopt;
}

std::string hex_byte(char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X",
                static_cast<unsigned>(static_cast<unsigned char>(c)));
  return buf;
}

class CsvReader final : public ReaderBase {
public:
  CsvReader(std::filesystem::path path, const ReadOptions& options,
            std::unique_ptr<std::FILE, int (*)(std::FILE*)> file)
      : m_path(std::move(path)), m_encoding(options.encoding),
        m_file(std::move(file)) {
    csv_init(&m_parser, CSV_STRICT | CSV_STRICT_FINI);
    csv_set_space_func(&m_parser, &never_space);
    if (options.delimiter) {
      csv_set_delim(&m_parser, static_cast<unsigned char>(*options.delimiter));
      m_delimiter_known = true;
    }
  }

  ~CsvReader() override { csv_free(&m_parser); }

  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads up to the header. Fails like next() if the header cannot be
  // read, or when there is no header; a problem after the header is
  // reported by next(), after the records before it.
  core::Status start() {
    while (!m_have_header && !m_done && !m_error) {
      fill();
    }
    if (m_have_header) {
      return {};
    }
    if (m_error) {
      return *m_error;
    }
    return input_error(m_path, 1, "no header row: the file is empty");
  }

  const std::vector<std::string>& header() const override { return m_header; }

  std::uint64_t header_row() const override { return m_header_row; }

  core::Result<std::optional<Record>> next() override {
    while (m_ready.empty() && !m_done && !m_error) {
      fill();
    }
    if (!m_ready.empty()) {
      Record record = std::move(m_ready.front());
      m_ready.pop_front();
      return std::optional<Record>(std::move(record));
    }
    if (m_error) {
      return *m_error;
    }
    return std::optional<Record>();
  }

private:
  // Reads the next chunk, decodes it and feeds it to the parser. Complete
  // records go to `m_ready`; at the end of the file, sets `m_done`; on a
  // problem, sets `m_error` (records before it stay in `m_ready`).
  void fill() {
    m_raw.resize(k_chunk_size);
    const std::size_t got = std::fread(m_raw.data(), 1, m_raw.size(), m_file.get());
    if (got < m_raw.size() && std::ferror(m_file.get())) {
      m_error = core::make_error(core::ErrorKind::io,
                                 m_path.string() + ": read error: " +
                                     std::strerror(errno));
      return;
    }
    const bool eof = got == 0;
    std::string_view raw(m_raw.data(), got);
    if (m_first_chunk) {
      m_first_chunk = false;
      if (raw.substr(0, k_utf8_bom.size()) == k_utf8_bom) {
        // A BOM says UTF-8 whatever the setting: converting it as
        // Windows-1252 would only produce mojibake.
        raw.remove_prefix(k_utf8_bom.size());
        m_offset = k_utf8_bom.size();
        m_encoding = Encoding::utf8;
      } else if (auto reason = not_csv_reason(raw)) {
        m_error = input_error(m_path, 1, *reason);
        return;
      }
    }

    if (m_encoding == Encoding::utf8) {
      m_text = m_carry;
      m_text.append(raw);
      m_carry.clear();
      const auto bad = core::find_invalid_utf8(m_text);
      if (bad && !eof && m_text.size() - *bad < 4) {
        // Possibly a character cut by the chunk boundary: decide later.
        m_carry = m_text.substr(*bad);
        m_text.resize(*bad);
      } else if (bad) {
        const char byte = m_text[*bad];
        const std::uint64_t offset = m_offset + *bad;
        m_text.resize(*bad);
        feed_decoded(m_text);
        if (m_error) {
          return;
        }
        // The bad byte sits on the current line, or on the next one when
        // the text so far ended with a CR whose line is still open.
        const std::uint64_t line = m_line + (m_cr_pending ? 1 : 0);
        m_error = input_error(
            m_path, line,
            "invalid UTF-8 at byte offset " + std::to_string(offset) + " (" +
                hex_byte(byte) +
                "): set encoding = \"windows-1252\" if the file was saved by "
                "Excel as plain CSV");
        return;
      }
      m_offset += m_text.size();
    } else if (m_encoding == Encoding::windows1252) {
      m_text = core::windows1252_to_utf8(raw);
    } else {
      m_text = core::latin1_to_utf8(raw);
    }
    feed_decoded(m_text);
    if (eof && !m_error) {
      finish();
    }
  }

  // Feeds UTF-8 text, line by line.
  void feed_decoded(std::string_view text) {
    if (!m_delimiter_known && !text.empty()) {
      csv_set_delim(&m_parser, static_cast<unsigned char>(sniff_delimiter(text)));
      m_delimiter_known = true;
    }
    std::size_t start = 0;
    if (m_cr_pending && !text.empty()) {
      m_cr_pending = false;
      if (text[0] == '\n') {
        feed_segment(text.substr(0, 1)); // the LF of a CRLF cut in two
        start = 1;
      }
      ++m_line;
    }
    while (start < text.size() && !m_error) {
      auto end = text.find_first_of("\r\n", start);
      if (end == std::string_view::npos) {
        feed_segment(text.substr(start));
        return;
      }
      if (text[end] == '\r') {
        if (end + 1 == text.size()) {
          // CR or CRLF? The next chunk tells.
          feed_segment(text.substr(start));
          m_cr_pending = true;
          return;
        }
        if (text[end + 1] == '\n') {
          ++end;
        }
      }
      feed_segment(text.substr(start, end + 1 - start));
      ++m_line;
      start = end + 1;
    }
  }

  // Feeds at most one physical line (with its line end, if any).
  void feed_segment(std::string_view segment) {
    if (!m_in_record && segment.find_first_not_of("\r\n") != std::string_view::npos) {
      m_in_record = true;
      m_record_line = m_line;
    }
    const std::size_t used = csv_parse(&m_parser, segment.data(), segment.size(),
                                       &CsvReader::on_field, &CsvReader::on_record,
                                       this);
    if (used != segment.size()) {
      parse_failed();
    }
  }

  void parse_failed() {
    const int status = csv_error(&m_parser);
    if (status == CSV_EPARSE) {
      std::string message =
          "malformed quotes: a quote inside a quoted value must be doubled "
          "(\"\"), a quoted value must be followed by the delimiter or the "
          "end of the line, and an unquoted value cannot contain quotes";
      if (m_record_line != m_line) {
        message += " (the record starts on line " + std::to_string(m_record_line) +
                   ": is a quote missing there?)";
      }
      m_error = input_error(m_path, m_line, message);
    } else {
      m_error = input_error(m_path, m_line, csv_strerror(status));
    }
  }

  void finish() {
    if (csv_fini(&m_parser, &CsvReader::on_field, &CsvReader::on_record, this) != 0) {
      m_error = input_error(m_path, m_record_line,
                            "unterminated quoted value: the quote opened in the "
                            "record starting on this line is never closed");
      return;
    }
    m_done = true;
  }

  static void on_field(void* data, std::size_t size, void* self) {
    auto& reader = *static_cast<CsvReader*>(self);
    if (data == nullptr) {
      reader.m_fields.emplace_back();
    } else {
      reader.m_fields.emplace_back(static_cast<const char*>(data), size);
    }
  }

  static void on_record(int /*terminator*/, void* self) {
    auto& reader = *static_cast<CsvReader*>(self);
    reader.m_in_record = false;
    std::vector<std::string> values = std::move(reader.m_fields);
    reader.m_fields.clear();
    reader.m_fields.reserve(values.size());
    if (all_empty(values)) {
      return; // ";;;" lines as Excel writes for empty rows
    }
    if (!reader.m_have_header) {
      reader.m_header = make_header(std::move(values), false);
      reader.m_header_row = reader.m_record_line;
      reader.m_have_header = true;
      return;
    }
    reader.m_ready.push_back(Record{reader.m_record_line, std::move(values)});
  }

  std::filesystem::path m_path;
  Encoding m_encoding;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> m_file;
  csv_parser m_parser{};
  bool m_delimiter_known = false;

  std::vector<std::string> m_header;
  std::uint64_t m_header_row = 0;
  bool m_have_header = false;

  std::string m_raw;   // the chunk as read
  std::string m_text;  // the chunk as UTF-8
  std::string m_carry; // a possibly cut UTF-8 sequence from the last chunk
  std::uint64_t m_offset = 0; // file offset of the next byte to validate
  bool m_first_chunk = true;

  std::uint64_t m_line = 1;        // physical line of the next byte fed
  bool m_cr_pending = false;       // the text fed so far ends with a CR
  bool m_in_record = false;        // the parser is inside a record
  std::uint64_t m_record_line = 0; // where the current record starts
  std::vector<std::string> m_fields;

  std::deque<Record> m_ready;
  std::optional<core::Error> m_error;
  bool m_done = false;
};

} // namespace

core::Result<std::unique_ptr<ReaderBase>> open_csv_reader(
    const std::filesystem::path& path, const ReadOptions& options) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(
      std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    return core::make_error(core::ErrorKind::no_input,
                            path.string() + ": cannot open: " + std::strerror(errno));
  }
  auto reader = std::make_unique<CsvReader>(path, options, std::move(file));
  PB_TRY(reader->start());
  return std::unique_ptr<ReaderBase>(std::move(reader));
}

} // namespace pecbatch::contacts::detail

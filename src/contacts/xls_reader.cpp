// XLS (BIFF, Excel 97-2003) reader on libfreexl. FreeXL loads the whole
// worksheet's cell table when the sheet is selected (the format has no
// streaming access); records are still built one row at a time.

#include "reader_impl.hpp"
#include "values.hpp"

#include <pecbatch/core/strings.hpp>

#include <freexl.h>

#include <memory>

namespace pecbatch::contacts::detail {

namespace {

std::string freexl_reason(int code) {
  switch (code) {
  case FREEXL_FILE_NOT_FOUND:
    return "file not found";
  case FREEXL_INSUFFICIENT_MEMORY:
    return "out of memory";
  case FREEXL_INVALID_CFBF_HEADER:
  case FREEXL_CFBF_INVALID_SIGNATURE:
    return "not an Excel 97-2003 file";
  case FREEXL_CRAFTED_FILE:
    return "severely damaged file";
  case FREEXL_BIFF_WORKBOOK_NOT_FOUND:
    return "no workbook inside";
  case FREEXL_UNSUPPORTED_CHARSET:
  case FREEXL_INVALID_CHARACTER:
    return "text in an unsupported character set";
  default:
    return "damaged file (FreeXL error " + std::to_string(code) + ")";
  }
}

class XlsReader final : public ReaderBase {
public:
  XlsReader(std::filesystem::path path, const void* handle)
      : m_path(std::move(path)), m_handle(handle) {}

  ~XlsReader() override { freexl_close(m_handle); }

  XlsReader(const XlsReader&) = delete;
  XlsReader& operator=(const XlsReader&) = delete;

  core::Status start(const std::string& wanted) {
    unsigned int password = 0;
    if (freexl_get_info(m_handle, FREEXL_BIFF_PASSWORD, &password) == FREEXL_OK &&
        password == FREEXL_BIFF_OBFUSCATED) {
      return error("the workbook is password-protected: remove the password, "
                   "or save it as CSV");
    }
    unsigned int count = 0;
    if (freexl_get_info(m_handle, FREEXL_BIFF_SHEET_COUNT, &count) != FREEXL_OK ||
        count == 0) {
      return error("the workbook has no worksheet");
    }
    std::vector<std::string> names;
    for (unsigned int i = 0; i < count; ++i) {
      const char* name = nullptr;
      if (freexl_get_worksheet_name(m_handle, static_cast<unsigned short>(i), &name) !=
          FREEXL_OK) {
        return error("cannot read the sheet names");
      }
      names.emplace_back(name != nullptr ? name : "");
    }
    PB_TRY_ASSIGN(const unsigned int index, find_sheet(names, wanted));
    const int rc = freexl_select_active_worksheet(m_handle,
                                                  static_cast<unsigned short>(index));
    if (rc != FREEXL_OK) {
      return error("cannot read sheet " + core::quote(names[index]) + ": " +
                   freexl_reason(rc));
    }
    m_sheet_name = names[index];
    unsigned short columns = 0;
    if (freexl_worksheet_dimensions(m_handle, &m_rows, &columns) != FREEXL_OK) {
      return error("cannot read the size of sheet " + core::quote(m_sheet_name));
    }
    m_columns = columns;

    PB_TRY_ASSIGN(auto first, next());
    if (!first) {
      return core::make_error(core::ErrorKind::input,
                              m_path.string() + ":1: no header row: sheet " +
                                  core::quote(m_sheet_name) + " is empty");
    }
    m_header = make_header(std::move(first->values), true);
    m_header_row = first->row;
    return {};
  }

  const std::vector<std::string>& header() const override { return m_header; }

  std::uint64_t header_row() const override { return m_header_row; }

  core::Result<std::optional<Record>> next() override {
    while (m_next_row < m_rows) {
      const unsigned int row = m_next_row++;
      std::vector<std::string> values;
      values.reserve(m_columns);
      for (unsigned int column = 0; column < m_columns; ++column) {
        FreeXL_CellValue cell;
        const int rc = freexl_get_cell_value(
            m_handle, row, static_cast<unsigned short>(column), &cell);
        if (rc != FREEXL_OK) {
          return input_error(m_path, row + 1,
                             "cannot read cell " + column_name(column) +
                                 std::to_string(row + 1) + ": " + freexl_reason(rc));
        }
        values.push_back(cell_text(cell));
      }
      fit_spreadsheet_row(values, m_header.size());
      if (all_empty(values)) {
        continue;
      }
      return std::optional<Record>(Record{row + 1ull, std::move(values)});
    }
    return std::optional<Record>();
  }

private:
  core::Error error(const std::string& message) const {
    return core::make_error(core::ErrorKind::input, m_path.string() + ": " + message);
  }

  core::Result<unsigned int> find_sheet(const std::vector<std::string>& names,
                                        const std::string& wanted) const {
    if (wanted.empty()) {
      return 0u;
    }
    for (unsigned int i = 0; i < names.size(); ++i) {
      if (names[i] == wanted) {
        return i;
      }
    }
    for (unsigned int i = 0; i < names.size(); ++i) {
      if (core::iequals_ascii(names[i], wanted)) {
        return i;
      }
    }
    std::string message = "no sheet named " + core::quote(wanted) +
                          "; the sheets are " + quoted_list(names);
    if (auto guess = core::suggest(wanted, names)) {
      message += " (did you mean " + core::quote(*guess) + "?)";
    }
    return error(message);
  }

  static std::string cell_text(const FreeXL_CellValue& cell) {
    switch (cell.type) {
    case FREEXL_CELL_INT:
      return std::to_string(cell.value.int_value);
    case FREEXL_CELL_DOUBLE:
      return format_number(cell.value.double_value);
    case FREEXL_CELL_TEXT:
    case FREEXL_CELL_SST_TEXT:
    case FREEXL_CELL_DATE:     // YYYY-MM-DD
    case FREEXL_CELL_DATETIME: // YYYY-MM-DD HH:MM:SS
    case FREEXL_CELL_TIME:     // HH:MM:SS
      return cell.value.text_value != nullptr ? std::string(cell.value.text_value)
                                              : std::string();
    default: // FREEXL_CELL_NULL
      return std::string();
    }
  }

  std::filesystem::path m_path;
  const void* m_handle;
  std::string m_sheet_name;
  unsigned int m_rows = 0;
  unsigned int m_columns = 0;
  unsigned int m_next_row = 0;
  std::vector<std::string> m_header;
  std::uint64_t m_header_row = 0;
};

} // namespace

core::Result<std::unique_ptr<ReaderBase>> open_xls_reader(
    const std::filesystem::path& path, const ReadOptions& options) {
  const void* handle = nullptr;
  const int rc = freexl_open(path.c_str(), &handle);
  if (rc != FREEXL_OK) {
    if (handle != nullptr) {
      freexl_close(handle);
    }
    if (rc == FREEXL_FILE_NOT_FOUND) {
      return core::make_error(core::ErrorKind::no_input,
                              path.string() + ": cannot open: " + freexl_reason(rc));
    }
    return core::make_error(core::ErrorKind::input,
                            path.string() + ": not a valid XLS file: " +
                                freexl_reason(rc));
  }
  auto reader = std::make_unique<XlsReader>(path, handle);
  PB_TRY(reader->start(options.sheet));
  return std::unique_ptr<ReaderBase>(std::move(reader));
}

} // namespace pecbatch::contacts::detail

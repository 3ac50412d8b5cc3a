#include "reader_impl.hpp"

#include <pecbatch/core/strings.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace pecbatch::contacts {

namespace {

// Lower-case, without '-', '_' and spaces: "UTF-8" -> "utf8".
std::string squash(std::string_view text) {
  std::string out;
  for (char c : core::to_lower_ascii(core::trim(text))) {
    if (c != '-' && c != '_' && c != ' ') {
      out += c;
    }
  }
  return out;
}

// The format named by the file's extension, or by its first bytes when the
// extension says nothing.
Format detect_format(const std::filesystem::path& path, std::string_view magic) {
  const std::string ext = core::to_lower_ascii(path.extension().string());
  if (ext == ".csv" || ext == ".tsv" || ext == ".txt") {
    return Format::csv;
  }
  if (ext == ".xlsx" || ext == ".xlsm") {
    return Format::xlsx;
  }
  if (ext == ".xls") {
    return Format::xls;
  }
  if (magic.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
    return Format::xlsx;
  }
  if (magic.substr(0, 8) == std::string_view("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8)) {
    return Format::xls;
  }
  return Format::csv;
}

} // namespace

std::optional<Format> parse_format(std::string_view text) {
  const std::string name = squash(text);
  if (name == "auto") {
    return Format::automatic;
  }
  if (name == "csv") {
    return Format::csv;
  }
  if (name == "xlsx") {
    return Format::xlsx;
  }
  if (name == "xls") {
    return Format::xls;
  }
  return std::nullopt;
}

std::optional<Encoding> parse_encoding(std::string_view text) {
  const std::string name = squash(text);
  if (name == "utf8") {
    return Encoding::utf8;
  }
  if (name == "windows1252" || name == "cp1252") {
    return Encoding::windows1252;
  }
  if (name == "latin1" || name == "iso88591") {
    return Encoding::latin1;
  }
  return std::nullopt;
}

core::Result<std::unique_ptr<Reader>> open_reader(const std::filesystem::path& path,
                                                  const ReadOptions& options) {
  PB_TRY_ASSIGN(auto reader, detail::open_any_reader(path, options));
  return std::unique_ptr<Reader>(std::move(reader));
}

namespace detail {

core::Result<std::unique_ptr<ReaderBase>> open_any_reader(
    const std::filesystem::path& path, const ReadOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return core::make_error(core::ErrorKind::no_input,
                            path.string() + ": cannot open: is a directory");
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(
      std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    return core::make_error(core::ErrorKind::no_input,
                            path.string() + ": cannot open: " + std::strerror(errno));
  }
  char magic[8] = {};
  const std::size_t got = std::fread(magic, 1, sizeof magic, file.get());
  file.reset();

  Format format = options.format;
  if (format == Format::automatic) {
    format = detect_format(path, std::string_view(magic, got));
  }
  switch (format) {
  case Format::xlsx:
    return open_xlsx_reader(path, options);
  case Format::xls:
    return open_xls_reader(path, options);
  case Format::csv:
  case Format::automatic:
    break;
  }
  return open_csv_reader(path, options);
}

void fit_spreadsheet_row(std::vector<std::string>& values,
                         std::size_t header_width) {
  while (!values.empty() && values.back().empty()) {
    values.pop_back();
  }
  if (values.size() < header_width) {
    values.resize(header_width);
  }
}

bool all_empty(const std::vector<std::string>& values) {
  for (const auto& value : values) {
    if (!value.empty()) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> make_header(std::vector<std::string> values,
                                     bool drop_trailing_empty) {
  for (auto& value : values) {
    value = std::string(core::trim(value));
  }
  if (drop_trailing_empty) {
    while (!values.empty() && values.back().empty()) {
      values.pop_back();
    }
  }
  return values;
}

std::string location(const std::filesystem::path& path, std::uint64_t row) {
  return path.string() + ':' + std::to_string(row) + ": ";
}

core::Error input_error(const std::filesystem::path& path, std::uint64_t row,
                        const std::string& message) {
  return core::make_error(core::ErrorKind::input, location(path, row) + message);
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) {
      out += i + 1 == names.size() ? " and " : ", ";
    }
    out += core::quote(names[i]);
  }
  return out;
}

} // namespace detail

} // namespace pecbatch::contacts

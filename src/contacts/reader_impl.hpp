#pragma once

#include <pecbatch/contacts/contacts.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

// Internals shared by the readers of the contacts module.
namespace pecbatch::contacts::detail {

// A Reader that also knows where its header was (the first non-empty
// record: row 1 unless the file starts with blank lines or rows).
class ReaderBase : public Reader {
public:
  virtual std::uint64_t header_row() const = 0;
};

// Opens `path` with the reader for `options.format` (resolved from the
// extension, then the content, when automatic). Errors as open_reader.
core::Result<std::unique_ptr<ReaderBase>> open_any_reader(
    const std::filesystem::path& path, const ReadOptions& options);

// One reader per format. `path` is known to be a readable regular file.
core::Result<std::unique_ptr<ReaderBase>> open_csv_reader(
    const std::filesystem::path& path, const ReadOptions& options);
core::Result<std::unique_ptr<ReaderBase>> open_xlsx_reader(
    const std::filesystem::path& path, const ReadOptions& options);
core::Result<std::unique_ptr<ReaderBase>> open_xls_reader(
    const std::filesystem::path& path, const ReadOptions& options);

// Uncompressed size above which an XLSX part is refused (zip bomb guard).
inline constexpr std::uint64_t k_max_xlsx_part_size = 512ull * 1024 * 1024;

// Spreadsheet rows have no field count of their own: a missing or empty cell
// is an empty value. Drops trailing empty values, then pads with empty
// values up to `header_width`, so only a value past the header's last
// column makes the row longer than the header.
void fit_spreadsheet_row(std::vector<std::string>& values,
                         std::size_t header_width);

// True when every value is empty (such records are skipped).
bool all_empty(const std::vector<std::string>& values);

// Trims the header names, then (spreadsheets only, `drop_trailing_empty`)
// drops trailing empty names left by formatted but empty cells.
std::vector<std::string> make_header(std::vector<std::string> values,
                                     bool drop_trailing_empty);

// "PATH:ROW: " prefix of input error messages.
std::string location(const std::filesystem::path& path, std::uint64_t row);

// An `input` error whose message is `PATH:ROW: message`.
core::Error input_error(const std::filesystem::path& path, std::uint64_t row,
                        const std::string& message);

// "a", "b" and "c": names quoted and listed for a message.
std::string quoted_list(const std::vector<std::string>& names);

} // namespace pecbatch::contacts::detail

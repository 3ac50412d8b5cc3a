#pragma once

#include <pecbatch/contacts/contacts.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pecbatch::test {

// Everything a Reader yields: the header, the records, and the error that
// ended the stream (if any).
struct ReadAll {
  std::vector<std::string> header;
  std::vector<contacts::Record> records;
  std::optional<core::Error> error;
};

// Opens `path` and reads it to the end; an open error lands in `error`.
inline ReadAll read_all(const std::filesystem::path& path,
                        const contacts::ReadOptions& options = {}) {
  ReadAll out;
  auto reader = contacts::open_reader(path, options);
  if (!reader) {
    out.error = reader.error();
    return out;
  }
  out.header = (*reader)->header();
  while (true) {
    auto record = (*reader)->next();
    if (!record) {
      out.error = record.error();
      return out;
    }
    if (!*record) {
      return out;
    }
    out.records.push_back(std::move(**record));
  }
}

// Every row of a ContactStream, or the error that ended it.
struct ValidateAll {
  std::vector<contacts::RowResult> rows;
  std::optional<core::Error> error;
};

inline ValidateAll validate_all(contacts::ContactStream& stream) {
  ValidateAll out;
  while (true) {
    auto row = stream.next();
    if (!row) {
      out.error = row.error();
      return out;
    }
    if (!*row) {
      return out;
    }
    out.rows.push_back(std::move(**row));
  }
}

// The messages of `problems`, for compact assertions.
inline std::vector<std::string> messages(const core::Diagnostics& problems) {
  std::vector<std::string> out;
  for (const auto& d : problems) {
    out.push_back(d.to_string());
  }
  return out;
}

using Values = std::vector<std::string>;

} // namespace pecbatch::test

#pragma once

#include <pecbatch/core/result.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace pecbatch::core {

// Reads a whole file. Fails with `no_input` when it does not exist or cannot
// be opened, `io` on a read error.
Result<std::string> read_file(const std::filesystem::path& path);

// Writes `data` to `path` atomically: a temporary file in the same directory,
// flushed, then renamed over `path`. Readers see the old file or the new one,
// never a part.
Status write_file_atomic(const std::filesystem::path& path,
                         std::string_view data);

} // namespace pecbatch::core

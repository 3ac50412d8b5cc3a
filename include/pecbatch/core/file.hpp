#pragma once

#include <pecbatch/core/result.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace pecbatch::core {

// Reads a whole file. Fails with `no_input` when it does not exist or cannot
// be opened, `io` on a read error.
Result<std::string> read_file(const std::filesystem::path& path);

// When a write reaches the disk.
enum class Flush {
  now,    // fsync'ed before the rename
  later,  // left to the page cache: see sync_filesystem()
  // As `later`, for files written once and not read back soon (evidence):
  // contents of 1 MiB or more go to the disk without the page cache
  // (O_DIRECT, where the file system allows it), which spares the kernel
  // copying them into new cache pages. Durable with sync_filesystem() too.
  later_uncached,
};

// Writes `data` to `path` atomically: a temporary file in the same directory,
// flushed (or not, with Flush::later), then renamed over `path`. Readers see
// the old file or the new one, never a part.
Status write_file_atomic(const std::filesystem::path& path,
                         std::string_view data, Flush flush = Flush::now);

// Makes everything written so far on the file system that holds `path`
// durable, contents, new directories and renames alike (syncfs(2)): one
// call for a whole batch of Flush::later writes.
Status sync_filesystem(const std::filesystem::path& path);

} // namespace pecbatch::core

// core::write_file_atomic with Flush::later_uncached: exact contents at
// every size around the O_DIRECT block and chunk boundaries, the fallback
// where O_DIRECT is refused, and that large files really bypass the page
// cache (their pages are not resident after the write).
#include <pecbatch/core/file.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

using namespace pecbatch::core;

namespace {

std::string bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) {
    // Zeros included: a padding left in the file would not go unnoticed
    // only because it differs from the contents.
    c = static_cast<char>(rng() % 4 == 0 ? 0 : rng() & 0xff);
  }
  return out;
}

// Fraction of the file's pages in the page cache (mincore).
double resident(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ADD_FAILURE() << path << ": cannot open";
    return -1;
  }
  const auto size = static_cast<std::size_t>(::lseek(fd, 0, SEEK_END));
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    ADD_FAILURE() << path << ": cannot map";
    return -1;
  }
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core((size + page - 1) / page);
  const int rc = ::mincore(map, size, in_core.data());
  ::munmap(map, size);
  if (rc != 0) {
    ADD_FAILURE() << "mincore failed";
    return -1;
  }
  std::size_t n = 0;
  for (const auto v : in_core) {
    n += v & 1;
  }
  return static_cast<double>(n) / static_cast<double>(in_core.size());
}

bool direct_io_possible(const std::filesystem::path& dir) {
  const auto probe = dir / "direct-probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return false;
  }
  ::close(fd);
  std::filesystem::remove(probe);
  return true;
}

class UncachedWriteTest : public pecbatch::test::TempDirTest {
protected:
  void check_sizes(const std::filesystem::path& where) {
    const std::size_t mib = 1u << 20;
    const std::vector<std::size_t> sizes = {0,       1,           4095,        4096,
                                            mib - 1, mib,         mib + 1,     2 * mib,
                                            2 * mib + 4096, 3 * mib + 123};
    unsigned seed = 1;
    for (const auto size : sizes) {
      const auto path = where / "sent.eml";
      const auto first = bytes(size, seed++);
      const auto second = bytes(size + 7, seed++);  // replaces a file of another size
      ASSERT_TRUE(write_file_atomic(path, first, Flush::later_uncached).ok()) << size;
      EXPECT_EQ(*read_file(path), first) << size;
      ASSERT_TRUE(write_file_atomic(path, second, Flush::later_uncached).ok()) << size;
      const auto read = read_file(path);
      ASSERT_TRUE(read.ok());
      EXPECT_EQ(read->size(), second.size());
      EXPECT_TRUE(*read == second) << size;
      std::filesystem::remove(path);
    }
    EXPECT_TRUE(std::filesystem::is_empty(where)) << "a temporary file was left";
    EXPECT_TRUE(sync_filesystem(where).ok());
  }
};

} // namespace

TEST_F(UncachedWriteTest, ContentsAreExactAroundEveryBoundary) { check_sizes(dir()); }

TEST_F(UncachedWriteTest, WhereODirectIsRefusedTheWriteFallsBackToTheCache) {
  // tmpfs has no O_DIRECT: the same calls must still write everything.
  const std::filesystem::path shm = "/dev/shm";
  if (!std::filesystem::is_directory(shm) || direct_io_possible(shm)) {
    GTEST_SKIP() << "no file system without O_DIRECT here";
  }
  const auto where = shm / ("pecbatch-uncached-" + std::to_string(::getpid()));
  std::filesystem::create_directories(where);
  check_sizes(where);
  std::filesystem::remove_all(where);
}

TEST_F(UncachedWriteTest, LargeFilesBypassThePageCacheAndSmallOnesDoNot) {
  if (!direct_io_possible(dir())) {
    GTEST_SKIP() << dir() << " has no O_DIRECT";
  }
  const auto large = bytes((3u << 20) + 123, 7);
  ASSERT_TRUE(write_file_atomic(dir() / "uncached.eml", large, Flush::later_uncached).ok());
  ASSERT_TRUE(write_file_atomic(dir() / "cached.eml", large, Flush::later).ok());
  ASSERT_TRUE(write_file_atomic(dir() / "small.eml", bytes(20000, 8), Flush::later_uncached)
                  .ok());
  // The last, padded block is written through the cache by ftruncate at
  // most: nearly all of the file must be absent from it.
  EXPECT_LT(resident(dir() / "uncached.eml"), 0.05);
  EXPECT_GT(resident(dir() / "cached.eml"), 0.95);
  EXPECT_GT(resident(dir() / "small.eml"), 0.95);
  EXPECT_EQ(*read_file(dir() / "uncached.eml"), large);
}

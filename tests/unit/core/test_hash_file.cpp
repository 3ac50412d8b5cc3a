#include <pecbatch/core/file.hpp>
#include <pecbatch/core/hash.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

using namespace pecbatch::core;

TEST(HashTest, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

class FileTest : public pecbatch::test::TempDirTest {};

TEST_F(FileTest, AtomicWriteReplacesAndLeavesNoTemporary) {
  const auto path = dir() / "report.csv";
  ASSERT_TRUE(write_file_atomic(path, "old").ok());
  ASSERT_TRUE(write_file_atomic(path, "new content").ok());
  EXPECT_EQ(*read_file(path), "new content");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir())) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  EXPECT_EQ(*sha256_file_hex(path), sha256_hex("new content"));
}

TEST_F(FileTest, ALaterFlushedWriteIsCompleteAndSyncFilesystemSucceeds) {
  const auto path = dir() / "sent.eml";
  const std::string big(3u << 20, 'x');
  ASSERT_TRUE(write_file_atomic(path, big, Flush::later).ok());
  EXPECT_EQ(*read_file(path), big);
  EXPECT_TRUE(sync_filesystem(dir()).ok());
  EXPECT_TRUE(sync_filesystem(path).ok());
  const auto missing = sync_filesystem(dir() / "absent");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, ErrorKind::io);
}

TEST_F(FileTest, MissingFileIsNoInput) {
  auto r = read_file(dir() / "absent.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::no_input);
}

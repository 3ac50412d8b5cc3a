#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace pecbatch::test {

// Each test runs with its own fresh directory, removed when the test passes
// and kept (path printed) when it fails.
class TempDirTest : public ::testing::Test {
protected:
  void SetUp() override;
  void TearDown() override;

  const std::filesystem::path& dir() const { return m_dir; }
  // Writes `content` to `name` inside the test directory; returns its path.
  std::filesystem::path write(const std::string& name, std::string_view content);

private:
  std::filesystem::path m_dir;
};

// Path of a file under tests/data.
std::filesystem::path data_path(std::string_view relative);

// Reads a whole file in binary mode (test helper; fails the test on error).
std::string slurp(const std::filesystem::path& path);

} // namespace pecbatch::test

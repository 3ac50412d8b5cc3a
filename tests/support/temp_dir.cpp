#include "support/temp_dir.hpp"

#include <cstdlib>
#include <iostream>
#include <fstream>
#include <sstream>

namespace pecbatch::test {

void TempDirTest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("pecbatch-") + info->test_suite_name() + "-" +
                     info->name() + "-XXXXXX";
  for (auto& c : name) {
    if (c == '/') {
      c = '_';
    }
  }
  std::string pattern = (std::filesystem::temp_directory_path() / name).string();
  char* made = ::mkdtemp(pattern.data());
  ASSERT_NE(made, nullptr) << "mkdtemp failed for " << pattern;
  m_dir = made;
}

void TempDirTest::TearDown() {
  if (m_dir.empty()) {
    return;
  }
  if (HasFailure()) {
    std::cerr << "test data left in " << m_dir << '\n';
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(m_dir, ec);
}

std::filesystem::path TempDirTest::write(const std::string& name,
                                         std::string_view content) {
  const auto path = m_dir / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  return path;
}

std::filesystem::path data_path(std::string_view relative) {
  return std::filesystem::path(PECBATCH_TEST_DATA_DIR_FOR_SUPPORT) / relative;
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

} // namespace pecbatch::test

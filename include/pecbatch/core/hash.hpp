#pragma once

#include <pecbatch/core/result.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace pecbatch::core {

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// Incremental SHA-256 for data that arrives in pieces.
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data);
  // Returns the lower-case hex digest; the object must not be updated after.
  std::string finish_hex();

private:
  void* m_ctx;
};

// SHA-256 of a file's content, streamed.
Result<std::string> sha256_file_hex(const std::filesystem::path& path);

} // namespace pecbatch::core

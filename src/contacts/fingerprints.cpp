#include "fingerprints.hpp"

#include <cstdint>

namespace pecbatch::contacts::detail {

std::uint64_t fingerprint(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h == 0 ? 1 : h;
}

namespace {

std::uint32_t clamp_row(std::uint64_t row) {
  return row > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(row);
}

} // namespace

std::optional<std::uint64_t> FirstRows::insert(std::uint64_t key,
                                               std::uint64_t row) {
  if ((m_size + 1) * 5 > m_keys.size() * 4) {
    grow();
  }
  const std::size_t mask = m_keys.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(key) & mask;; i = (i + 1) & mask) {
    if (m_keys[i] == key) {
      return m_rows[i];
    }
    if (m_keys[i] == 0) {
      m_keys[i] = key;
      m_rows[i] = clamp_row(row);
      ++m_size;
      return std::nullopt;
    }
  }
}

void FirstRows::grow() {
  auto old_keys = std::move(m_keys);
  auto old_rows = std::move(m_rows);
  const std::size_t size = old_keys.empty() ? 1024 : old_keys.size() * 2;
  m_keys.assign(size, 0);
  m_rows.assign(size, 0);
  const std::size_t mask = size - 1;
  for (std::size_t k = 0; k < old_keys.size(); ++k) {
    if (old_keys[k] == 0) {
      continue;
    }
    std::size_t i = static_cast<std::size_t>(old_keys[k]) & mask;
    while (m_keys[i] != 0) {
      i = (i + 1) & mask;
    }
    m_keys[i] = old_keys[k];
    m_rows[i] = old_rows[k];
  }
}

} // namespace pecbatch::contacts::detail

#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace pecbatch::contacts::detail {

// 64-bit fingerprint of `text` (FNV-1a, then the MurmurHash3 finaliser to
// spread the bits). Never 0.
std::uint64_t fingerprint(std::string_view text);

// The rows where each address was first seen, keyed by the address's 64-bit
// fingerprint only: 12 bytes per slot (the key, and the row as 32 bits) in an
// open-addressing table (linear probing, at most 80% full), instead of the
// addresses themselves: about 1.5 MB for 100,000 addresses. Rows past
// 2^32 - 1 are recorded as that number.
//
// Two different addresses share a fingerprint with probability about
// n^2 / 2^65: about 3e-10 for 100,000 addresses, 3e-8 for a million. Such a
// collision would report a false duplicate (never hide a real one); the
// message names the first row, so a person can see it.
class FirstRows {
public:
  // Records `row` for `key` and returns nullopt, or returns the row already
  // recorded for `key`.
  std::optional<std::uint64_t> insert(std::uint64_t key, std::uint64_t row);

  std::size_t size() const { return m_size; }

private:
  void grow();

  // Parallel arrays rather than a struct, so a slot costs 12 bytes, not 16.
  std::vector<std::uint64_t> m_keys; // 0: empty
  std::vector<std::uint32_t> m_rows;
  std::size_t m_size = 0;
};

} // namespace pecbatch::contacts::detail

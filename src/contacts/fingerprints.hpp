#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <string_view>
#include <vector>

namespace pecbatch::contacts::detail {

// Memory straight from the kernel (mmap), given back whole when freed. For
// the table below: through malloc, a table freed at the end of one pass over
// the contacts raised malloc's threshold for using mmap, so the next pass's
// tables came from the heap, left it fragmented and were never given back
// (2.6 MB more peak RSS for a 100,000-row send, docs/performance.md).
template <typename T>
struct PageAllocator {
  using value_type = T;
  PageAllocator() = default;
  template <typename U>
  PageAllocator(const PageAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    void* p = ::mmap(nullptr, n * sizeof(T), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw std::bad_alloc();
    }
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t n) noexcept { ::munmap(p, n * sizeof(T)); }

  template <typename U>
  bool operator==(const PageAllocator<U>&) const noexcept { return true; }
};

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
  std::vector<std::uint64_t, PageAllocator<std::uint64_t>> m_keys; // 0: empty
  std::vector<std::uint32_t, PageAllocator<std::uint32_t>> m_rows;
  std::size_t m_size = 0;
};

} // namespace pecbatch::contacts::detail

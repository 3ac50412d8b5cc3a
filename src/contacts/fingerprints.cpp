#include "fingerprints.hpp"

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

std::optional<std::uint64_t> FirstRows::insert(std::uint64_t key,
                                               std::uint64_t row) {
  if ((m_size + 1) * 2 > m_slots.size()) {
    grow();
  }
  const std::size_t mask = m_slots.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(key) & mask;; i = (i + 1) & mask) {
    Slot& slot = m_slots[i];
    if (slot.key == key) {
      return slot.row;
    }
    if (slot.key == 0) {
      slot = Slot{key, row};
      ++m_size;
      return std::nullopt;
    }
  }
}

void FirstRows::grow() {
  std::vector<Slot> old = std::move(m_slots);
  m_slots.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  const std::size_t mask = m_slots.size() - 1;
  for (const Slot& slot : old) {
    if (slot.key == 0) {
      continue;
    }
    std::size_t i = static_cast<std::size_t>(slot.key) & mask;
    while (m_slots[i].key != 0) {
      i = (i + 1) & mask;
    }
    m_slots[i] = slot;
  }
}

} // namespace pecbatch::contacts::detail

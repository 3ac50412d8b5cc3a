#pragma once

#include <pecbatch/core/result.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace pecbatch::campaign {

// A set of contact rows chosen on the command line, e.g. "2-10,15,40-".
// Row numbers are those every report uses: the record's line in the file
// (the header is row 1).
class RowSet {
public:
  // All rows.
  RowSet() = default;

  // Parses "N", "N-M", "N-" (to the end), comma-separated. Fails with
  // `config` on malformed text or N > M.
  static core::Result<RowSet> parse(const std::string& text);

  bool contains(std::uint64_t row) const;
  bool all() const { return m_ranges.empty(); }
  // Rows past this one are never selected (lets readers stop early).
  std::uint64_t last() const;

private:
  std::vector<std::pair<std::uint64_t, std::uint64_t>> m_ranges;
};

} // namespace pecbatch::campaign

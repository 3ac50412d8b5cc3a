#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pecbatch::core {

// One problem found in a user's input, located as precisely as known.
// Printed as `file:row:column: message` (GNU style), parts omitted when
// unknown.
struct Diagnostic {
  std::string file;
  std::uint64_t row = 0;  // 1-based line or record; 0 = unknown / whole file
  std::string column;     // column name (or key), empty when not applicable
  std::string message;

  std::string to_string() const;
};

using Diagnostics = std::vector<Diagnostic>;

} // namespace pecbatch::core

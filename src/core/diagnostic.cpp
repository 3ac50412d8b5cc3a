#include <pecbatch/core/diagnostic.hpp>

namespace pecbatch::core {

std::string Diagnostic::to_string() const {
  std::string out = file;
  if (row > 0) {
    out += ':';
    out += std::to_string(row);
  }
  if (!column.empty()) {
    out += ':';
    out += column;
  }
  if (!out.empty()) {
    out += ": ";
  }
  out += message;
  return out;
}

} // namespace pecbatch::core

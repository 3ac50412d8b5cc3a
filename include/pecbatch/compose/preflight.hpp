#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pecbatch::compose {

// Provider limits a message must respect before it may be sent.
struct MessageLimits {
  std::uint64_t max_message_bytes = 0;  // 0 = no limit
  unsigned max_attachments = 0;         // 0 = no limit
  std::vector<std::string> blocked_extensions;  // lower-case, without dot
};

// Returns a problem for a file name whose final extension is blocked, else
// nullopt: "fattura.pdf.exe" is blocked like "fattura.exe". Compared
// case-insensitively, after stripping trailing dots and spaces (which
// Windows ignores, so "fattura.exe. " would still run).
std::optional<std::string> blocked_extension_problem(
    const std::string& filename, const std::vector<std::string>& blocked);

// Checks a composed message: its encoded size, attachment count and
// attachment names. Returns every problem found (empty when it passes).
std::vector<std::string> preflight(std::uint64_t encoded_size,
                                   const std::vector<std::string>& attachment_names,
                                   const MessageLimits& limits);

} // namespace pecbatch::compose

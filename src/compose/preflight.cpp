#include <pecbatch/compose/preflight.hpp>

#include <pecbatch/core/strings.hpp>

#include <cstdio>
#include <string_view>

namespace pecbatch::compose {

namespace {

// Sizes are shown in binary units (1 MB = 1,048,576 bytes), as mail servers
// count them.
constexpr double k_kb = 1024.0;
constexpr double k_mb = 1024.0 * 1024.0;

// "31.2 MB", "30 MB", "512 KB", "900 bytes": one decimal, none when it is 0.
std::string format_size(std::uint64_t bytes) {
  double value = static_cast<double>(bytes);
  const char* unit = "bytes";
  if (bytes >= 1024 * 1024) {
    value /= k_mb;
    unit = "MB";
  } else if (bytes >= 1024) {
    value /= k_kb;
    unit = "KB";
  } else {
    return std::to_string(bytes) + " bytes";
  }
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  std::string number = buffer;
  if (number.ends_with(".0")) {
    number.resize(number.size() - 2);
  }
  return number + " " + unit;
}

// `name` without the trailing dots and spaces that Windows ignores.
std::string_view strip_trailing_dots_and_spaces(std::string_view name) {
  const auto last = name.find_last_not_of(". ");
  return last == std::string_view::npos ? std::string_view{}
                                        : name.substr(0, last + 1);
}

} // namespace

std::optional<std::string> blocked_extension_problem(
    const std::string& filename, const std::vector<std::string>& blocked) {
  const std::string_view name = strip_trailing_dots_and_spaces(filename);
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == name.size()) {
    return std::nullopt;
  }
  const std::string extension = core::to_lower_ascii(name.substr(dot + 1));
  for (const auto& entry : blocked) {
    // Tolerate entries written as ".EXE".
    std::string_view wanted = entry;
    if (wanted.starts_with('.')) {
      wanted.remove_prefix(1);
    }
    if (core::iequals_ascii(extension, wanted)) {
      return "attachment " + core::quote(filename) +
             " has a blocked extension (." + extension + ")";
    }
  }
  return std::nullopt;
}

std::vector<std::string> preflight(std::uint64_t encoded_size,
                                   const std::vector<std::string>& attachment_names,
                                   const MessageLimits& limits) {
  std::vector<std::string> problems;
  if (limits.max_message_bytes != 0 && encoded_size > limits.max_message_bytes) {
    std::string size = format_size(encoded_size);
    std::string limit = format_size(limits.max_message_bytes);
    if (size == limit) {
      // Rounding hides the difference: show exact byte counts.
      size = std::to_string(encoded_size) + " bytes";
      limit = std::to_string(limits.max_message_bytes) + " bytes";
    }
    problems.push_back("message is " + size + ", over the provider's limit of " +
                       limit);
  }
  if (limits.max_attachments != 0 &&
      attachment_names.size() > limits.max_attachments) {
    problems.push_back("message has " + std::to_string(attachment_names.size()) +
                       " attachments, over the provider's limit of " +
                       std::to_string(limits.max_attachments));
  }
  for (const auto& name : attachment_names) {
    if (auto problem = blocked_extension_problem(name, limits.blocked_extensions)) {
      problems.push_back(std::move(*problem));
    }
  }
  return problems;
}

} // namespace pecbatch::compose

// AttachmentCache, base64 encoding of attachment bodies, and the MIME type
// table.

#include "compose_detail.hpp"

#include <pecbatch/compose/message.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/hash.hpp>
#include <pecbatch/core/strings.hpp>

#include <algorithm>
#include <array>
#include <string_view>
#include <system_error>
#include <utility>

namespace pecbatch::compose {

namespace detail {

namespace {

constexpr std::size_t k_base64_line_chars = 76;
constexpr std::size_t k_base64_line_bytes = k_base64_line_chars / 4 * 3; // 57

constexpr char k_base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Extension (lower case, no dot) -> MIME type, sorted for readability only.
struct ExtensionType {
  std::string_view extension;
  std::string_view type;
};

constexpr std::array k_extension_types = {
    ExtensionType{"7z", "application/x-7z-compressed"},
    ExtensionType{"bmp", "image/bmp"},
    ExtensionType{"csv", "text/csv"},
    ExtensionType{"doc", "application/msword"},
    ExtensionType{"docx", "application/vnd.openxmlformats-officedocument."
                          "wordprocessingml.document"},
    ExtensionType{"gif", "image/gif"},
    ExtensionType{"gz", "application/gzip"},
    ExtensionType{"htm", "text/html"},
    ExtensionType{"html", "text/html"},
    ExtensionType{"jpeg", "image/jpeg"},
    ExtensionType{"jpg", "image/jpeg"},
    ExtensionType{"json", "application/json"},
    ExtensionType{"odp", "application/vnd.oasis.opendocument.presentation"},
    ExtensionType{"ods", "application/vnd.oasis.opendocument.spreadsheet"},
    ExtensionType{"odt", "application/vnd.oasis.opendocument.text"},
    ExtensionType{"p7m", "application/pkcs7-mime"},
    ExtensionType{"p7s", "application/pkcs7-signature"},
    ExtensionType{"pdf", "application/pdf"},
    ExtensionType{"png", "image/png"},
    ExtensionType{"ppt", "application/vnd.ms-powerpoint"},
    ExtensionType{"pptx", "application/vnd.openxmlformats-officedocument."
                          "presentationml.presentation"},
    ExtensionType{"rar", "application/vnd.rar"},
    ExtensionType{"rtf", "application/rtf"},
    ExtensionType{"svg", "image/svg+xml"},
    ExtensionType{"tif", "image/tiff"},
    ExtensionType{"tiff", "image/tiff"},
    ExtensionType{"tsr", "application/timestamp-reply"},
    ExtensionType{"txt", "text/plain"},
    ExtensionType{"webp", "image/webp"},
    ExtensionType{"xls", "application/vnd.ms-excel"},
    ExtensionType{"xlsx", "application/vnd.openxmlformats-officedocument."
                          "spreadsheetml.sheet"},
    ExtensionType{"xml", "application/xml"},
    ExtensionType{"zip", "application/zip"},
};

void append_quantum(std::string& out, const unsigned char* in, std::size_t n) {
  const unsigned value = (static_cast<unsigned>(in[0]) << 16) |
                         (n > 1 ? static_cast<unsigned>(in[1]) << 8 : 0U) |
                         (n > 2 ? static_cast<unsigned>(in[2]) : 0U);
  out += k_base64_alphabet[(value >> 18) & 0x3F];
  out += k_base64_alphabet[(value >> 12) & 0x3F];
  out += n > 1 ? k_base64_alphabet[(value >> 6) & 0x3F] : '=';
  out += n > 2 ? k_base64_alphabet[value & 0x3F] : '=';
}

// The name shown in the message for the file at `path`: its last component,
// as UTF-8 (a name that is not valid UTF-8 is taken as Windows-1252, the
// usual origin of such names).
std::string display_filename(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  if (core::find_invalid_utf8(name).has_value()) {
    name = core::windows1252_to_utf8(name);
  }
  return name;
}

} // namespace

std::size_t base64_lines_size(std::uint64_t size) {
  const std::uint64_t chars = (size + 2) / 3 * 4;
  const std::uint64_t lines =
      (chars + k_base64_line_chars - 1) / k_base64_line_chars;
  return static_cast<std::size_t>(chars + 2 * lines);
}

std::string encode_base64_lines(std::string_view data) {
  std::string out;
  out.reserve(base64_lines_size(data.size()));
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t line_end =
        std::min(data.size(), pos + k_base64_line_bytes);
    for (; pos + 3 <= line_end; pos += 3) {
      append_quantum(out, bytes + pos, 3);
    }
    if (pos < line_end) {
      append_quantum(out, bytes + pos, line_end - pos);
      pos = line_end;
    }
    out += "\r\n";
  }
  return out;
}

std::string content_type_for_filename(std::string_view filename) {
  const auto dot = filename.rfind('.');
  if (dot != std::string_view::npos) {
    const std::string extension = core::to_lower_ascii(filename.substr(dot + 1));
    for (const auto& entry : k_extension_types) {
      if (entry.extension == extension) {
        return std::string(entry.type);
      }
    }
  }
  return "application/octet-stream";
}

} // namespace detail

core::Result<std::shared_ptr<const EncodedAttachment>>
AttachmentCache::get(const std::filesystem::path& path) {
  if (path.filename().empty()) {
    return core::make_error(core::ErrorKind::no_input,
                            path.string() + ": not a file name");
  }
  // The key resolves the directory (symlinks, "..", relative paths) but keeps
  // the file name the user gave, which is the name shown in the message.
  std::error_code ec;
  const std::filesystem::path directory = std::filesystem::canonical(
      path.has_parent_path() ? path.parent_path() : std::filesystem::path("."),
      ec);
  if (ec) {
    return core::make_error(core::ErrorKind::no_input,
                            path.string() + ": cannot open: " + ec.message());
  }
  const std::filesystem::path key = directory / path.filename();

  // The lock is held while reading and encoding, so that each file is
  // encoded exactly once even when several threads ask for it at once.
  const std::lock_guard lock(m_mutex);
  if (const auto it = m_cache.find(key); it != m_cache.end()) {
    return it->second;
  }
  PB_TRY_ASSIGN(const std::string bytes, core::read_file(key));

  auto attachment = std::make_shared<EncodedAttachment>();
  attachment->path = key;
  attachment->filename = detail::display_filename(key);
  attachment->content_type =
      detail::content_type_for_filename(attachment->filename);
  attachment->size = bytes.size();
  attachment->sha256 = core::sha256_hex(bytes);
  attachment->base64 = detail::encode_base64_lines(bytes);

  std::shared_ptr<const EncodedAttachment> shared = std::move(attachment);
  m_cache.emplace(key, shared);
  ++m_encoded;
  return shared;
}

std::size_t AttachmentCache::encoded_count() const {
  const std::lock_guard lock(m_mutex);
  return m_encoded;
}

} // namespace pecbatch::compose

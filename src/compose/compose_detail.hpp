#pragma once

// Internals of the compose module, shared by its .cpp files and visible to
// its unit tests and benchmarks (which add src/compose to their include
// path). Not part of the public interface.

#include <pecbatch/compose/message.hpp>
#include <pecbatch/core/result.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pecbatch::compose::detail {

// Encodes `data` as base64 in lines of 76 characters, each line (the last
// one too) ended by CRLF. Empty input gives an empty string.
std::string encode_base64_lines(std::string_view data);

// Length of encode_base64_lines() of `size` bytes, computed without
// encoding.
std::size_t base64_lines_size(std::uint64_t size);

// The MIME type for an attachment file name, chosen by its (last, lower-cased)
// extension; "application/octet-stream" when unknown.
std::string content_type_for_filename(std::string_view filename);

// How compose_message() puts attachment bodies into the message.
enum class AttachmentMode {
  // The production path: GMime writes the MIME skeleton with a placeholder
  // per attachment, then the pre-encoded base64 of the EncodedAttachment is
  // spliced in. No attachment is encoded per message.
  splice,
  // The naive path, for tests and benchmarks only: each attachment file is
  // read again from `EncodedAttachment::path` and GMime base64-encodes it.
  // Gives the same bytes as `splice`.
  gmime_encode,
};

// compose_message() with an explicit attachment mode.
core::Result<std::string> compose_message(const MessageSpec& spec,
                                          AttachmentMode mode);

// The boundary of multipart number `n` (1 = mixed, 2 = alternative) of the
// message with `message_id`: `=_pecbatch_<24 hex of SHA-256(id)>_<n>`.
// The "=_" can appear neither in quoted-printable nor in base64 bodies, so
// it never collides with content.
std::string boundary_for(std::string_view message_id, int n);

// Makes sure GMime is initialised (once per process, thread-safe).
void ensure_gmime_initialised();

} // namespace pecbatch::compose::detail

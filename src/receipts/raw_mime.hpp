#pragma once

// Byte-level helpers on raw messages: where the body starts, where the
// signed part of a multipart/signed lies, line-end canonicalisation. They
// work on the bytes as transmitted, never on a re-serialisation.

#include <pecbatch/receipts/message.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pecbatch::receipts::detail {

// Offset of the first body byte: just after the empty line that ends the
// header section (CRLF or bare LF). raw.size() when there is no body.
std::size_t body_offset(std::string_view raw);

// True when the first line of `raw` ends with a bare LF.
bool first_line_bare_lf(std::string_view raw);

// True when the first line of `raw` is a header field ("Name: ...").
bool starts_with_header_field(std::string_view raw);

// The first body part of the multipart body starting at `from` with the
// given `boundary`, as a range of `raw`: from the line after the first
// delimiter line up to, not including, the line break that precedes the next
// delimiter line (RFC 2046 §5.1.1). Nullopt when either delimiter is
// missing.
std::optional<ByteRange> first_body_part(std::string_view raw, std::size_t from,
                                         std::string_view boundary);

// Replaces every LF not preceded by CR with CRLF.
std::string canonicalise_crlf(std::string_view text);

} // namespace pecbatch::receipts::detail

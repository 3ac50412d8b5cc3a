#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pecbatch::core {

std::string_view trim(std::string_view s);
std::string to_lower_ascii(std::string_view s);
bool iequals_ascii(std::string_view a, std::string_view b);
std::vector<std::string> split(std::string_view s, char sep);
bool starts_with_icase(std::string_view s, std::string_view prefix);
bool ends_with_icase(std::string_view s, std::string_view suffix);

// Returns the byte offset of the first byte that is not part of a valid UTF-8
// sequence (overlongs, surrogates and code points past U+10FFFF are
// invalid), or nullopt when `s` is valid UTF-8.
std::optional<std::size_t> find_invalid_utf8(std::string_view s);

// Appends the UTF-8 encoding of code point `cp`; surrogates and values past
// U+10FFFF become U+FFFD.
void append_utf8(std::string& out, std::uint32_t cp);

// Converts Windows-1252 bytes to UTF-8. Bytes 0x81, 0x8D, 0x8F, 0x90 and
// 0x9D, undefined in Windows-1252, map to the C1 controls of the same value
// (as WHATWG does).
std::string windows1252_to_utf8(std::string_view s);

// Converts ISO-8859-1 bytes to UTF-8.
std::string latin1_to_utf8(std::string_view s);

// Edit distance between `a` and `b` (ASCII case-insensitive).
std::size_t edit_distance(std::string_view a, std::string_view b);

// Returns the candidate closest to `word`, if close enough to be a likely
// typo, for "did you mean" suggestions.
std::optional<std::string> suggest(std::string_view word,
                                   const std::vector<std::string>& candidates);

// Quotes `s` for a one-line message: "…" with control characters escaped.
std::string quote(std::string_view s);

} // namespace pecbatch::core

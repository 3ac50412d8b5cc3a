#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pecbatch::core {

// Checks that `address` is a bare RFC 5321 mailbox as PEC providers accept
// it: `local@domain`, local part a dot-string of atext characters, domain a
// host name of at least two labels (letters, digits, hyphens; no label
// starting or ending with a hyphen), ASCII only, at most 254 octets.
// Display names, spaces, angle brackets, quoted local parts and address
// literals are refused.
//
// Returns nullopt when valid, otherwise a short English reason.
std::optional<std::string> mailbox_problem(std::string_view address);

inline bool is_valid_mailbox(std::string_view address) {
  return !mailbox_problem(address).has_value();
}

// The domain part of a valid mailbox (after the last '@').
std::string_view mailbox_domain(std::string_view address);

// Canonical form used to compare addresses: the domain lower-cased, and the
// local part lower-cased too (PEC providers treat local parts
// case-insensitively).
std::string normalise_mailbox(std::string_view address);

} // namespace pecbatch::core

#pragma once

// The IMAP4rev1 response reader of the OpenSSL mailbox (RFC 3501 §7, §9):
// framing of the byte stream into whole responses, literals included, and
// parsing of one response into its parts. Private to the receipts module;
// unit-tested in tests/unit/receipts/test_imap_parser.cpp.
//
// Literal safety: a literal `{n}` is always read as exactly n bytes, never
// scanned for line ends or tags, so a message line such as "A0004 OK" inside
// a body can neither end a response early nor desynchronise the connection.

#include <pecbatch/core/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pecbatch::receipts::imap {

// One response as framed on the wire. `text` is the response with every
// literal taken out: the `{n}` marker stays in place, the CRLF after it and
// the n bytes are moved, in order, to `literals`. So `text` never holds
// message bytes and can be traced as it is.
struct RawResponse {
  std::string text;
  std::vector<std::string> literals;
  std::uint64_t wire_bytes = 0; // bytes the response took on the wire
};

struct FramerLimits {
  // The longest response text (literals excluded); a server that sends a
  // longer line is broken or hostile.
  std::size_t max_text = 64u << 20;
  // The largest literal accepted. Its bytes are only kept as they arrive,
  // never allocated up front from the announced size.
  std::uint64_t max_literal = std::uint64_t{4} << 30;
};

// Cuts the bytes received from the server into whole responses.
class Framer {
public:
  Framer() = default;
  explicit Framer(FramerLimits limits) : m_limits(limits) {}

  // Appends bytes received from the server.
  void feed(std::string_view bytes);

  // The next complete response, or nullopt when more bytes are needed.
  // Fails with `protocol` when a limit is exceeded or a literal size is not
  // a number; the connection cannot be used after that.
  core::Result<std::optional<RawResponse>> next();

  // Bytes received and not yet part of a returned response (e.g. data that
  // followed the OK to STARTTLS, which must not exist).
  std::size_t pending() const;

private:
  void compact();

  FramerLimits m_limits;
  std::string m_buffer;
  std::size_t m_pos = 0;  // first byte of m_buffer not consumed
  std::size_t m_scan = 0; // where the search for the next LF resumes
  RawResponse m_current;
  bool m_started = false; // m_current holds part of a response
  bool m_in_literal = false;
  std::uint64_t m_literal_left = 0;
};

// A parsed data item: an atom (numbers and flags too), a string (quoted or
// literal), NIL, or a parenthesised list.
struct Value {
  enum class Type { atom, string, nil, list };
  Type type = Type::atom;
  std::string text;         // atom or string contents
  std::vector<Value> items; // list elements
  bool literal = false;     // a string that came as a literal

  bool is_atom(std::string_view upper) const; // ASCII case-insensitive
  // The value of an atom made of digits only.
  std::optional<std::uint64_t> number() const;
};

enum class Status { ok, no, bad, bye, preauth };
const char *to_string(Status status);

struct Response {
  enum class Type { tagged, untagged, continuation };
  Type type = Type::untagged;
  std::string tag; // tagged responses only
  // OK / NO / BAD / BYE / PREAUTH, tagged or untagged.
  std::optional<Status> status;
  // The response code without its brackets ("UIDVALIDITY 1795341570",
  // "READ-ONLY", "CAPABILITY IMAP4rev1 ..."), "" when none.
  std::string code;
  // The human-readable text (after the code); for a continuation, all that
  // follows "+ ".
  std::string text;
  // Data responses: "* 3 EXISTS" -> number 3, name "EXISTS";
  // "* SEARCH 2 7" -> name "SEARCH", values [2, 7]; "* 4 FETCH (...)" ->
  // number 4, name "FETCH", values [(...)]. Names are upper case.
  std::optional<std::uint64_t> number;
  std::string name;
  std::vector<Value> values;
  std::string trace; // the response text, for --trace
  std::uint64_t wire_bytes = 0;
};

// Parses one framed response. Fails with `protocol` when it is not IMAP.
core::Result<Response> parse_response(RawResponse raw);

// Parses `text` as a sequence of values (the tail of a data response),
// taking the bytes of each `{n}` marker from `literals` in order.
core::Result<std::vector<Value>> parse_values(std::string_view text,
                                              std::vector<std::string> &literals);

// What a FETCH response carries (RFC 3501 §7.4.2), by item name in upper
// case: "UID", "RFC822.SIZE", "BODY[]", "BODY[HEADER.FIELDS (X-RICEVUTA)]".
struct FetchData {
  std::optional<std::uint64_t> uid;
  std::optional<std::uint64_t> size;
  std::vector<std::pair<std::string, Value>> items;

  // The first BODY[...] item whose section starts with `section_prefix`
  // ("BODY[]", "BODY[HEADER.FIELDS"); nullptr when absent.
  const Value *body(std::string_view section_prefix) const;
};

// The items of a "* n FETCH (...)" response; fails with `protocol` when it
// is not one or its list is malformed.
core::Result<FetchData> fetch_data(Response &response);

// An astring for a command: the atom itself when it is a safe atom, else a
// quoted string; nullopt when only a literal can carry it (CR, LF, NUL or
// bytes above 0x7F).
std::optional<std::string> quote_astring(std::string_view text);

// A mailbox name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): ASCII stays,
// other characters are base64'd UTF-16 between '&' and '-'; '&' is "&-".
// Fails with `config` on invalid UTF-8.
core::Result<std::string> encode_mailbox_name(std::string_view utf8);

// A compact UID set ("1:5,7,9:12") of ascending, distinct `uids`.
std::string uid_set(const std::vector<std::uint64_t> &uids);

// How many UIDs a set from the server names ("3:5,9" -> 4; a range may be
// written high to low); nullopt when it is not a set of numbers ("*" is
// not allowed here). Counted, never expanded: a hostile "1:4294967295"
// costs nothing.
std::optional<std::uint64_t> uid_set_size(std::string_view set);

// The source UID set of a COPYUID response code (RFC 4315 §3:
// "COPYUID <uidvalidity> <source set> <destination set>"), counted as
// uid_set_size() does; nullopt when `code` is not a well-formed COPYUID.
std::optional<std::uint64_t> copyuid_count(std::string_view code);

} // namespace pecbatch::receipts::imap

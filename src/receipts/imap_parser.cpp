#include "imap_parser.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

namespace pecbatch::receipts::imap {

namespace {

using core::ErrorKind;
using core::make_error;

core::Error protocol(std::string message) {
  return make_error(ErrorKind::protocol, "IMAP: " + std::move(message));
}

char upper(char c) {
  return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
}

std::string to_upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), upper);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return upper(x) == upper(y); });
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  if (text.empty() || text.size() > 20) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// When `line` ends with a literal marker "{n}" (also "{n+}" and "~{n}"),
// the position of its '{'.
std::optional<std::size_t> literal_marker(std::string_view line) {
  if (line.size() < 3 || line.back() != '}') {
    return std::nullopt;
  }
  const std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') {
    digits.remove_suffix(1);
  }
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(),
                                     [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return open;
}

// The size announced by the marker at `open` of `line`.
core::Result<std::uint64_t> literal_size(std::string_view line, std::size_t open) {
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') {
    digits.remove_suffix(1);
  }
  const auto n = parse_number(digits);
  if (!n) {
    return protocol("literal size " + std::string(digits) + " is not a number");
  }
  return *n;
}

} // namespace

// -- Framer -------------------------------------------------------------------

void Framer::feed(std::string_view bytes) {
  // Inside a literal with nothing buffered, the bytes go straight to it.
  if (m_in_literal && m_pos == m_buffer.size() && !bytes.empty()) {
    const auto take =
        static_cast<std::size_t>(std::min<std::uint64_t>(m_literal_left, bytes.size()));
    m_current.literals.back().append(bytes.data(), take);
    m_current.wire_bytes += take;
    m_literal_left -= take;
    bytes.remove_prefix(take);
    if (m_literal_left == 0) {
      m_in_literal = false;
    }
  }
  if (!bytes.empty()) {
    m_buffer.append(bytes.data(), bytes.size());
  }
}

std::size_t Framer::pending() const {
  return m_buffer.size() - m_pos + (m_started ? 1 : 0);
}

void Framer::compact() {
  if (m_pos == m_buffer.size()) {
    m_buffer.clear();
    m_scan = 0;
    m_pos = 0;
  } else if (m_pos > (64u << 10) && m_pos > m_buffer.size() / 2) {
    m_buffer.erase(0, m_pos);
    m_scan -= std::min(m_scan, m_pos);
    m_pos = 0;
  }
}

core::Result<std::optional<RawResponse>> Framer::next() {
  for (;;) {
    if (m_in_literal) {
      const auto available = m_buffer.size() - m_pos;
      const auto take =
          static_cast<std::size_t>(std::min<std::uint64_t>(m_literal_left, available));
      m_current.literals.back().append(m_buffer, m_pos, take);
      m_current.wire_bytes += take;
      m_literal_left -= take;
      m_pos += take;
      m_scan = m_pos;
      if (m_literal_left > 0) {
        compact();
        return std::optional<RawResponse>();
      }
      m_in_literal = false;
    }
    const std::size_t from = std::max(m_scan, m_pos);
    const std::size_t lf = m_buffer.find('\n', from);
    if (lf == std::string::npos) {
      m_scan = m_buffer.size();
      if (m_current.text.size() + (m_buffer.size() - m_pos) > m_limits.max_text) {
        return protocol("a response longer than " + std::to_string(m_limits.max_text) +
                        " bytes");
      }
      compact();
      return std::optional<RawResponse>();
    }
    std::string_view line(m_buffer.data() + m_pos, lf - m_pos);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    m_started = true;
    m_current.wire_bytes += lf + 1 - m_pos;
    // Only this piece can announce a literal: after one, an empty piece
    // leaves the previous "{n}" at the end of the text.
    const auto open = literal_marker(line);
    std::optional<std::uint64_t> announced;
    if (open) {
      PB_TRY_ASSIGN(announced, literal_size(line, *open));
    }
    m_current.text.append(line);
    m_pos = lf + 1;
    m_scan = m_pos;
    if (m_current.text.size() > m_limits.max_text) {
      return protocol("a response longer than " + std::to_string(m_limits.max_text) +
                      " bytes");
    }
    if (announced) {
      const std::uint64_t size = *announced;
      if (size > m_limits.max_literal) {
        return protocol("a literal of " + std::to_string(size) + " bytes (more than " +
                        std::to_string(m_limits.max_literal) + ")");
      }
      m_current.literals.emplace_back();
      // Grown as the bytes arrive: never trust the announced size for memory.
      m_current.literals.back().reserve(
          static_cast<std::size_t>(std::min<std::uint64_t>(size, 1u << 20)));
      m_literal_left = size;
      m_in_literal = size > 0;
      continue;
    }
    RawResponse done = std::move(m_current);
    m_current = RawResponse{};
    m_started = false;
    compact();
    return std::optional<RawResponse>(std::move(done));
  }
}

// -- Values ---------------------------------------------------------------------

bool Value::is_atom(std::string_view upper_text) const {
  return type == Type::atom && iequals(text, upper_text);
}

std::optional<std::uint64_t> Value::number() const {
  if (type != Type::atom) {
    return std::nullopt;
  }
  return parse_number(text);
}

namespace {

constexpr int k_max_depth = 32;

class ValueParser {
public:
  ValueParser(std::string_view text, std::vector<std::string> &literals)
      : m_text(text), m_literals(literals) {}

  core::Result<std::vector<Value>> parse_all() {
    std::vector<Value> out;
    PB_TRY(parse_sequence(out, 0, false));
    if (m_next_literal != m_literals.size()) {
      return protocol("literal outside a value");
    }
    return out;
  }

private:
  void skip_spaces() {
    while (m_pos < m_text.size() && m_text[m_pos] == ' ') {
      ++m_pos;
    }
  }

  core::Status parse_sequence(std::vector<Value> &out, int depth, bool in_list) {
    if (depth > k_max_depth) {
      return protocol("lists nested too deep");
    }
    for (;;) {
      skip_spaces();
      if (m_pos >= m_text.size()) {
        if (in_list) {
          return protocol("unterminated list");
        }
        return core::Ok{};
      }
      const char c = m_text[m_pos];
      if (c == ')') {
        if (!in_list) {
          return protocol("unbalanced ')'");
        }
        ++m_pos;
        return core::Ok{};
      }
      Value value;
      if (c == '(') {
        ++m_pos;
        value.type = Value::Type::list;
        PB_TRY(parse_sequence(value.items, depth + 1, true));
      } else if (c == '"') {
        PB_TRY(parse_quoted(value));
      } else if (c == '{' ||
                 (c == '~' && m_pos + 1 < m_text.size() && m_text[m_pos + 1] == '{')) {
        PB_TRY(parse_literal(value));
      } else {
        parse_atom(value);
      }
      out.push_back(std::move(value));
    }
  }

  core::Status parse_quoted(Value &value) {
    value.type = Value::Type::string;
    ++m_pos;
    while (m_pos < m_text.size()) {
      const char c = m_text[m_pos++];
      if (c == '"') {
        return core::Ok{};
      }
      if (c == '\\' && m_pos < m_text.size()) {
        value.text.push_back(m_text[m_pos++]);
      } else {
        value.text.push_back(c);
      }
    }
    return protocol("unterminated quoted string");
  }

  core::Status parse_literal(Value &value) {
    if (m_text[m_pos] == '~') {
      ++m_pos;
    }
    const std::size_t close = m_text.find('}', m_pos);
    if (close == std::string_view::npos) {
      return protocol("malformed literal marker");
    }
    m_pos = close + 1;
    if (m_next_literal >= m_literals.size()) {
      return protocol("literal marker without its bytes");
    }
    value.type = Value::Type::string;
    value.literal = true;
    value.text = std::move(m_literals[m_next_literal++]);
    return core::Ok{};
  }

  // An atom, a number, NIL, or a fetch item name such as
  // BODY[HEADER.FIELDS (A B)]<0> (brackets may hold spaces and parens).
  void parse_atom(Value &value) {
    const std::size_t start = m_pos;
    while (m_pos < m_text.size()) {
      const char c = m_text[m_pos];
      if (c == '[') {
        const std::size_t close = m_text.find(']', m_pos);
        m_pos = close == std::string_view::npos ? m_text.size() : close + 1;
        continue;
      }
      if (c == ' ' || c == '(' || c == ')' || c == '"') {
        break;
      }
      ++m_pos;
    }
    value.text.assign(m_text.substr(start, m_pos - start));
    value.type = iequals(value.text, "NIL") ? Value::Type::nil : Value::Type::atom;
    if (value.type == Value::Type::nil) {
      value.text.clear();
    }
  }

  std::string_view m_text;
  std::vector<std::string> &m_literals;
  std::size_t m_pos = 0;
  std::size_t m_next_literal = 0;
};

std::optional<Status> parse_status(std::string_view word) {
  if (iequals(word, "OK")) {
    return Status::ok;
  }
  if (iequals(word, "NO")) {
    return Status::no;
  }
  if (iequals(word, "BAD")) {
    return Status::bad;
  }
  if (iequals(word, "BYE")) {
    return Status::bye;
  }
  if (iequals(word, "PREAUTH")) {
    return Status::preauth;
  }
  return std::nullopt;
}

// Splits the first space-separated word off `rest`.
std::string_view take_word(std::string_view &rest) {
  const std::size_t space = rest.find(' ');
  const std::string_view word = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  return word;
}

// resp-text: an optional "[code]" then text.
void parse_resp_text(std::string_view rest, Response &out) {
  while (!rest.empty() && rest.front() == ' ') {
    rest.remove_prefix(1);
  }
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close != std::string_view::npos) {
      out.code.assign(rest.substr(1, close - 1));
      rest.remove_prefix(close + 1);
      while (!rest.empty() && rest.front() == ' ') {
        rest.remove_prefix(1);
      }
    }
  }
  out.text.assign(rest);
}

} // namespace

const char *to_string(Status status) {
  switch (status) {
  case Status::ok:
    return "OK";
  case Status::no:
    return "NO";
  case Status::bad:
    return "BAD";
  case Status::bye:
    return "BYE";
  case Status::preauth:
    return "PREAUTH";
  }
  return "?";
}

core::Result<std::vector<Value>> parse_values(std::string_view text,
                                              std::vector<std::string> &literals) {
  return ValueParser(text, literals).parse_all();
}

core::Result<Response> parse_response(RawResponse raw) {
  Response out;
  out.wire_bytes = raw.wire_bytes;
  out.trace = raw.text;
  std::string_view rest(raw.text);
  if (rest.starts_with('+')) {
    out.type = Response::Type::continuation;
    rest.remove_prefix(1);
    if (rest.starts_with(' ')) {
      rest.remove_prefix(1);
    }
    out.text.assign(rest);
    if (!raw.literals.empty()) {
      return protocol("a continuation request with a literal");
    }
    return out;
  }
  const std::string_view tag = take_word(rest);
  if (tag.empty()) {
    return protocol("an empty response line");
  }
  if (tag == "*") {
    out.type = Response::Type::untagged;
  } else {
    out.type = Response::Type::tagged;
    out.tag.assign(tag);
  }
  std::string_view word = take_word(rest);
  if (out.type == Response::Type::untagged) {
    if (const auto n = parse_number(word)) {
      out.number = *n;
      word = take_word(rest);
    }
  }
  if (word.empty()) {
    return protocol("a response without a name: " + raw.text.substr(0, 80));
  }
  out.status = out.number ? std::nullopt : parse_status(word);
  if (out.status) {
    if (!raw.literals.empty()) {
      return protocol("a status response with a literal");
    }
    out.name = to_string(*out.status);
    parse_resp_text(rest, out);
    return out;
  }
  if (out.type == Response::Type::tagged) {
    return protocol("a tagged response that is not OK, NO or BAD: " +
                    raw.text.substr(0, 80));
  }
  out.name = to_upper(word);
  PB_TRY_ASSIGN(out.values, parse_values(rest, raw.literals));
  return out;
}

const Value *FetchData::body(std::string_view section_prefix) const {
  for (const auto &[name, value] : items) {
    if (name.starts_with(section_prefix)) {
      return &value;
    }
  }
  return nullptr;
}

core::Result<FetchData> fetch_data(Response &response) {
  if (response.name != "FETCH" || !response.number || response.values.size() != 1 ||
      response.values[0].type != Value::Type::list) {
    return protocol("malformed FETCH response: " + response.trace.substr(0, 80));
  }
  auto &items = response.values[0].items;
  if (items.size() % 2 != 0) {
    return protocol("FETCH response with an odd number of items: " +
                    response.trace.substr(0, 80));
  }
  FetchData out;
  for (std::size_t i = 0; i < items.size(); i += 2) {
    if (items[i].type != Value::Type::atom) {
      return protocol("FETCH item name is not an atom: " + response.trace.substr(0, 80));
    }
    std::string name = to_upper(items[i].text);
    if (name == "UID") {
      out.uid = items[i + 1].number();
      if (!out.uid) {
        return protocol("FETCH UID is not a number");
      }
    } else if (name == "RFC822.SIZE") {
      out.size = items[i + 1].number();
    }
    out.items.emplace_back(std::move(name), std::move(items[i + 1]));
  }
  return out;
}

std::optional<std::string> quote_astring(std::string_view text) {
  bool atom = !text.empty();
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || u > 0x7f) {
      return std::nullopt;
    }
    // atom-specials (RFC 3501 §9) and '[' / ']' to stay simple.
    if (u <= 0x20 || u == 0x7f ||
        std::string_view("(){%*\"\\[]").find(c) != std::string_view::npos) {
      atom = false;
    }
  }
  if (atom) {
    return std::string(text);
  }
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

core::Result<std::string> encode_mailbox_name(std::string_view utf8) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
  std::string out;
  std::vector<std::uint16_t> pending; // UTF-16 units awaiting base64
  auto flush = [&] {
    if (pending.empty()) {
      return;
    }
    out.push_back('&');
    std::uint32_t bits = 0;
    int count = 0;
    for (const std::uint16_t unit : pending) {
      for (const int shift : {8, 0}) {
        bits = (bits << 8) | ((unit >> shift) & 0xffu);
        count += 8;
        while (count >= 6) {
          count -= 6;
          out.push_back(k_alphabet[(bits >> count) & 0x3fu]);
        }
      }
    }
    if (count > 0) {
      out.push_back(k_alphabet[(bits << (6 - count)) & 0x3fu]);
    }
    out.push_back('-');
    pending.clear();
  };
  const auto bad = [&] {
    return make_error(ErrorKind::config,
                      "IMAP folder name is not valid UTF-8: " + std::string(utf8));
  };
  for (std::size_t i = 0; i < utf8.size();) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c >= 0x20 && c <= 0x7e) {
      flush();
      out += c == '&' ? std::string("&-") : std::string(1, static_cast<char>(c));
      ++i;
      continue;
    }
    std::uint32_t cp = 0;
    std::size_t length = 0;
    if (c < 0x80) {
      cp = c; // a control character: encoded like any non-printable one
      length = 1;
    } else if ((c & 0xe0) == 0xc0) {
      cp = c & 0x1fu;
      length = 2;
    } else if ((c & 0xf0) == 0xe0) {
      cp = c & 0x0fu;
      length = 3;
    } else if ((c & 0xf8) == 0xf0) {
      cp = c & 0x07u;
      length = 4;
    } else {
      return bad();
    }
    if (i + length > utf8.size()) {
      return bad();
    }
    for (std::size_t k = 1; k < length; ++k) {
      const auto cc = static_cast<unsigned char>(utf8[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return bad();
      }
      cp = (cp << 6) | (cc & 0x3fu);
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (length == 2 && cp < 0x80) ||
        (length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000)) {
      return bad();
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      pending.push_back(static_cast<std::uint16_t>(0xd800 + (cp >> 10)));
      pending.push_back(static_cast<std::uint16_t>(0xdc00 + (cp & 0x3ffu)));
    } else {
      pending.push_back(static_cast<std::uint16_t>(cp));
    }
    i += length;
  }
  flush();
  return out;
}

std::string uid_set(const std::vector<std::uint64_t> &uids) {
  std::string out;
  for (std::size_t i = 0; i < uids.size();) {
    std::size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) {
      ++j;
    }
    if (!out.empty()) {
      out.push_back(',');
    }
    out += std::to_string(uids[i]);
    if (j > i) {
      out.push_back(':');
      out += std::to_string(uids[j]);
    }
    i = j + 1;
  }
  return out;
}

std::optional<std::uint64_t> uid_set_size(std::string_view set) {
  std::uint64_t total = 0;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t comma = std::min(set.find(',', pos), set.size());
    const std::string_view item = set.substr(pos, comma - pos);
    const std::size_t colon = item.find(':');
    const auto first = parse_number(item.substr(0, colon));
    if (!first || *first == 0) {
      return std::nullopt; // also an empty item: "", "1,", ",1"
    }
    std::uint64_t count = 1;
    if (colon != std::string_view::npos) {
      const auto last = parse_number(item.substr(colon + 1));
      if (!last || *last == 0) {
        return std::nullopt;
      }
      count = (*last > *first ? *last - *first : *first - *last) + 1;
    }
    if (total > std::numeric_limits<std::uint64_t>::max() - count) {
      return std::nullopt;
    }
    total += count;
    if (comma == set.size()) {
      return total;
    }
    pos = comma + 1;
  }
}

std::optional<std::uint64_t> copyuid_count(std::string_view code) {
  std::string_view rest = code;
  if (!iequals(take_word(rest), "COPYUID")) {
    return std::nullopt;
  }
  const auto validity = parse_number(take_word(rest));
  const std::string_view source = take_word(rest);
  const std::string_view destination = take_word(rest);
  if (!validity || source.empty() || destination.empty() || !rest.empty()) {
    return std::nullopt;
  }
  const auto count = uid_set_size(source);
  const auto copies = uid_set_size(destination);
  if (!count || !copies || *count != *copies) {
    return std::nullopt;
  }
  return count;
}

} // namespace pecbatch::receipts::imap

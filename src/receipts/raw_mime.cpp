#include "raw_mime.hpp"

namespace pecbatch::receipts::detail {

namespace {

// One line of `raw`: [begin, content_end) is its text without the line
// break, `next` the offset of the following line.
struct Line {
  std::size_t begin = 0;
  std::size_t content_end = 0;
  std::size_t next = 0;
};

Line line_at(std::string_view raw, std::size_t begin) {
  Line line;
  line.begin = begin;
  const auto lf = raw.find('\n', begin);
  if (lf == std::string_view::npos) {
    line.content_end = raw.size();
    line.next = raw.size();
    return line;
  }
  line.content_end = (lf > begin && raw[lf - 1] == '\r') ? lf - 1 : lf;
  line.next = lf + 1;
  return line;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// True when `text` is a delimiter line for `boundary`: "--boundary" or
// "--boundary--", then optional blanks (transport padding).
bool is_delimiter(std::string_view text, std::string_view boundary) {
  if (text.size() < boundary.size() + 2 || text.substr(0, 2) != "--" ||
      text.substr(2, boundary.size()) != boundary) {
    return false;
  }
  auto rest = text.substr(boundary.size() + 2);
  if (rest.substr(0, 2) == "--") {
    rest.remove_prefix(2);
  }
  for (const char c : rest) {
    if (!is_blank(c)) {
      return false;
    }
  }
  return true;
}

} // namespace

std::size_t body_offset(std::string_view raw) {
  std::size_t pos = 0;
  while (pos < raw.size()) {
    const auto line = line_at(raw, pos);
    if (line.content_end == line.begin) {
      return line.next;
    }
    pos = line.next;
  }
  return raw.size();
}

bool first_line_bare_lf(std::string_view raw) {
  const auto lf = raw.find('\n');
  return lf != std::string_view::npos && (lf == 0 || raw[lf - 1] != '\r');
}

bool starts_with_header_field(std::string_view raw) {
  const auto line = line_at(raw, 0);
  const auto text = raw.substr(0, line.content_end);
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return false;
  }
  // RFC 5322 field name: printable ASCII except colon, no blanks.
  for (std::size_t i = 0; i < colon; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c <= 32 || c >= 127) {
      return false;
    }
  }
  return true;
}

std::optional<ByteRange> first_body_part(std::string_view raw, std::size_t from,
                                         std::string_view boundary) {
  if (boundary.empty()) {
    return std::nullopt;
  }
  std::optional<std::size_t> start;
  std::size_t pos = from;
  while (pos < raw.size()) {
    const auto line = line_at(raw, pos);
    const auto text = raw.substr(line.begin, line.content_end - line.begin);
    if (is_delimiter(text, boundary)) {
      if (!start) {
        start = line.next;
      } else {
        // The line break before the delimiter belongs to the delimiter.
        std::size_t end = line.begin;
        if (end > *start && raw[end - 1] == '\n') {
          --end;
          if (end > *start && raw[end - 1] == '\r') {
            --end;
          }
        }
        return ByteRange{*start, end - *start};
      }
    }
    pos = line.next;
  }
  return std::nullopt;
}

std::string canonicalise_crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
      out.push_back('\r');
    }
    out.push_back(text[i]);
  }
  return out;
}

} // namespace pecbatch::receipts::detail

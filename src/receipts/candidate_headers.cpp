// parse_candidate_headers (include/pecbatch/receipts/mailbox.hpp): the few
// header fields the poller reads before deciding to fetch a message.

#include <pecbatch/core/strings.hpp>
#include <pecbatch/receipts/mailbox.hpp>

#include <string>

namespace pecbatch::receipts {

namespace {

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

std::string strip_brackets(std::string text) {
  if (text.size() >= 2 && text.front() == '<' && text.back() == '>') {
    return text.substr(1, text.size() - 2);
  }
  return text;
}

void set_once(std::optional<std::string> &field, std::string value) {
  if (!field) {
    field = std::move(value);
  }
}

} // namespace

CandidateHeaders parse_candidate_headers(std::string_view block) {
  CandidateHeaders out;
  std::string name;
  std::string value;
  auto flush = [&] {
    if (name.empty()) {
      return;
    }
    std::string v = trim(value);
    if (core::iequals_ascii(name, "X-Ricevuta")) {
      set_once(out.x_ricevuta, std::move(v));
    } else if (core::iequals_ascii(name, "X-Trasporto")) {
      set_once(out.x_trasporto, std::move(v));
    } else if (core::iequals_ascii(name, "X-Riferimento-Message-ID")) {
      set_once(out.x_riferimento_message_id, strip_brackets(std::move(v)));
    } else if (core::iequals_ascii(name, "Message-ID")) {
      set_once(out.message_id, strip_brackets(std::move(v)));
    } else if (core::iequals_ascii(name, "From")) {
      set_once(out.from, std::move(v));
    }
    name.clear();
    value.clear();
  };
  std::size_t pos = 0;
  while (pos < block.size()) {
    std::size_t end = block.find('\n', pos);
    if (end == std::string_view::npos) {
      end = block.size();
    }
    std::string_view line = block.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      break; // end of the header section
    }
    if (line.front() == ' ' || line.front() == '\t') {
      value += ' '; // a folded continuation
      value += trim(line);
      continue;
    }
    flush();
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue; // not a field: ignored
    }
    name = trim(line.substr(0, colon));
    value.assign(line.substr(colon + 1));
  }
  flush();
  return out;
}

} // namespace pecbatch::receipts

#include "smtp_dialogue.hpp"

#include <pecbatch/core/strings.hpp>

#include <array>
#include <utility>

namespace pecbatch::dispatch::detail {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Length of an RFC 3463 status code "c.sss.ddd" at the start of `text`
// (class 2, 4 or 5; subject and detail 1-3 digits), or 0 when there is none.
std::size_t enhanced_code_length(std::string_view text) {
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') ||
      text[1] != '.') {
    return 0;
  }
  std::size_t pos = 2;
  for (int part = 0; part < 2; ++part) {
    const std::size_t start = pos;
    while (pos < text.size() && is_digit(text[pos]) && pos - start < 4) {
      ++pos;
    }
    const std::size_t digits = pos - start;
    if (digits < 1 || digits > 3) {
      return 0;
    }
    if (part == 0) {
      if (pos >= text.size() || text[pos] != '.') {
        return 0;
      }
      ++pos;
    }
  }
  // Must end at a word boundary ("5.7.1 text", not "5.7.12x").
  if (pos < text.size() && text[pos] != ' ' && text[pos] != '\t') {
    return 0;
  }
  return pos;
}

// Splits `bytes` into lines (CRLF or LF); a last piece without a line end
// counts as a line too.
template <typename F> void for_each_line(std::string_view bytes, F&& f) {
  while (!bytes.empty()) {
    const auto nl = bytes.find('\n');
    std::string_view line = bytes.substr(0, nl);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    f(line);
    if (nl == std::string_view::npos) {
      break;
    }
    bytes.remove_prefix(nl + 1);
  }
}

// The first word of `line`, upper-cased.
std::string first_word_upper(std::string_view line) {
  const auto end = line.find(' ');
  std::string word(line.substr(0, end));
  for (auto& c : word) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return word;
}

std::string redacted(std::size_t n) {
  return "<redacted " + std::to_string(n) + " bytes>";
}

constexpr std::array<std::string_view, 12> k_plain_commands = {
    "EHLO", "HELO", "STARTTLS", "MAIL", "RCPT", "DATA",
    "QUIT", "RSET", "NOOP",     "BDAT", "VRFY", "HELP"};

constexpr std::size_t k_min_scrub_length = 6;

} // namespace

std::optional<ReplyLine> parse_reply_line(std::string_view line) {
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) {
    return std::nullopt;
  }
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-') {
    return std::nullopt;
  }
  ReplyLine reply;
  reply.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  reply.last = line.size() == 3 || line[3] == ' ';
  reply.text =
      std::string(core::trim(line.size() > 4 ? line.substr(4) : std::string_view{}));
  return reply;
}

SmtpReply make_reply(int code, std::string_view text) {
  SmtpReply reply;
  reply.code = code;
  text = core::trim(text);
  const std::size_t n = enhanced_code_length(text);
  if (n > 0) {
    reply.enhanced = std::string(text.substr(0, n));
    text = core::trim(text.substr(n));
  }
  reply.text = std::string(text);
  return reply;
}

std::string base64(std::string_view data) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8) |
                       static_cast<unsigned char>(data[i + 2]);
    out += k_alphabet[(v >> 18) & 63];
    out += k_alphabet[(v >> 12) & 63];
    out += k_alphabet[(v >> 6) & 63];
    out += k_alphabet[v & 63];
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const unsigned v = static_cast<unsigned char>(data[i]) << 16;
    out += k_alphabet[(v >> 18) & 63];
    out += k_alphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    const unsigned v = (static_cast<unsigned char>(data[i]) << 16) |
                       (static_cast<unsigned char>(data[i + 1]) << 8);
    out += k_alphabet[(v >> 18) & 63];
    out += k_alphabet[(v >> 12) & 63];
    out += k_alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::vector<std::string> secret_forms(const std::string& username,
                                      const std::string& password) {
  std::vector<std::string> forms;
  if (password.empty()) {
    return forms;
  }
  const std::string nul(1, '\0');
  forms.push_back(password);
  forms.push_back(base64(password));
  forms.push_back(base64(nul + username + nul + password));
  forms.push_back(base64(username + nul + username + nul + password));
  return forms;
}

SmtpDialogue::SmtpDialogue(Trace trace, std::vector<std::string> secrets)
    : m_trace(std::move(trace)) {
  for (auto& secret : secrets) {
    if (secret.size() >= k_min_scrub_length) {
      m_secrets.push_back(std::move(secret));
    }
  }
}

void SmtpDialogue::new_connection() {
  m_in_ehlo = false;
  m_auth_advertised = false;
  m_auth_sent = false;
  m_in_auth = false;
  m_authenticated = false;
  m_quitting = false;
}

void SmtpDialogue::begin_message() {
  m_data_started = false;
  m_data_complete = false;
  m_last_reply.reset();
  m_reply_after_data.reset();
}

void SmtpDialogue::server_bytes(std::string_view bytes) {
  for_each_line(bytes, [this](std::string_view line) { server_line(line); });
}

void SmtpDialogue::client_bytes(std::string_view bytes) {
  for_each_line(bytes, [this](std::string_view line) { client_line(line); });
}

void SmtpDialogue::server_line(std::string_view line) {
  const auto end = line.find_last_not_of(" \t");
  emit("S: " + std::string(line.substr(0, end == std::string_view::npos ? 0 : end + 1)));
  const auto parsed = parse_reply_line(line);
  if (!parsed || m_quitting) {
    // The answer to QUIT (libcurl sends it when it closes a connection
    // after a refused command) says nothing about the message.
    return;
  }
  if (m_in_ehlo && parsed->code == 250) {
    // "250-AUTH PLAIN LOGIN", or the old "250-AUTH=PLAIN".
    const std::string_view text = parsed->text;
    if (core::starts_with_icase(text, "AUTH") &&
        (text.size() == 4 || text[4] == ' ' || text[4] == '=')) {
      m_auth_advertised = true;
    }
  }
  if (!parsed->last) {
    return;
  }
  m_in_ehlo = false;
  if (m_in_auth && parsed->code != 334) {
    m_in_auth = false;
    if (parsed->code == 235 && m_auth_sent) {
      m_authenticated = true;
    }
  }
  SmtpReply reply = make_reply(parsed->code, parsed->text);
  if (m_data_complete && !m_reply_after_data) {
    m_reply_after_data = reply;
  }
  m_last_reply = std::move(reply);
}

void SmtpDialogue::client_line(std::string_view line) {
  if (m_in_auth) {
    // A SASL continuation (e.g. the base64 user name and password of
    // AUTH LOGIN, or the PLAIN response after an empty 334).
    emit("C: " + redacted(line.size()));
    return;
  }
  const std::string verb = first_word_upper(line);
  if (verb == "AUTH") {
    m_auth_sent = true;
    m_in_auth = true;
    // "AUTH <mechanism>[ <initial response>]": keep the mechanism only.
    std::string_view rest = line.substr(4);
    const auto mech_start = rest.find_first_not_of(' ');
    if (mech_start == std::string_view::npos) {
      emit("C: AUTH");
      return;
    }
    rest.remove_prefix(mech_start);
    const auto mech_end = rest.find(' ');
    const std::string mechanism(rest.substr(0, mech_end));
    if (mech_end == std::string_view::npos) {
      emit("C: AUTH " + mechanism);
    } else {
      emit("C: AUTH " + mechanism + " " + redacted(rest.size() - mech_end - 1));
    }
    return;
  }
  for (const auto command : k_plain_commands) {
    if (verb == command) {
      if (verb == "EHLO" || verb == "HELO") {
        m_in_ehlo = true;
        m_auth_advertised = false;
      } else if (verb == "QUIT") {
        m_quitting = true;
      }
      emit("C: " + std::string(line));
      return;
    }
  }
  // Not a command we know: it could be anything, so show only its size.
  emit("C: " + redacted(line.size()));
}

void SmtpDialogue::data_complete(std::size_t size) {
  m_data_complete = true;
  emit("C: <message: " + std::to_string(size) + " bytes>");
}

void SmtpDialogue::data_incomplete(std::size_t handed, std::size_t size) {
  emit("C: <message: " + std::to_string(handed) + " of " + std::to_string(size) +
       " bytes handed over before the failure>");
}

void SmtpDialogue::emit(std::string line) {
  if (!m_trace) {
    return;
  }
  for (const auto& secret : m_secrets) {
    std::size_t pos = 0;
    while ((pos = line.find(secret, pos)) != std::string::npos) {
      line.replace(pos, secret.size(), "<redacted>");
      pos += 10;
    }
  }
  m_trace(line);
}

} // namespace pecbatch::dispatch::detail

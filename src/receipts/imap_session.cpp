#include "imap_session.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

namespace pecbatch::receipts::imap {

namespace {

using core::ErrorKind;

constexpr std::size_t k_trace_max = 400;
constexpr std::size_t k_read_chunk = 64u << 10;

std::string to_upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  });
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char k_alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                   (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += {k_alphabet[(n >> 18) & 63], k_alphabet[(n >> 12) & 63],
            k_alphabet[(n >> 6) & 63], k_alphabet[n & 63]};
  }
  if (i + 1 == bytes.size()) {
    const auto n = static_cast<unsigned char>(bytes[i]) << 16;
    out += {k_alphabet[(n >> 18) & 63], k_alphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                   (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += {k_alphabet[(n >> 18) & 63], k_alphabet[(n >> 12) & 63],
            k_alphabet[(n >> 6) & 63], '='};
  }
  return out;
}

std::string shorten(std::string text) {
  if (text.size() > k_trace_max) {
    const auto total = text.size();
    text.resize(k_trace_max);
    text += "... (" + std::to_string(total) + " bytes)";
  }
  return text;
}

// A value for the trace: strings (message data) by their size only.
void trace_value(const Value &value, std::string &out) {
  switch (value.type) {
  case Value::Type::atom:
    out += value.text;
    break;
  case Value::Type::nil:
    out += "NIL";
    break;
  case Value::Type::string:
    // append, not a chain of +: GCC 12 -O3 warns falsely (-Wrestrict).
    out.append("<").append(std::to_string(value.text.size())).append(" bytes>");
    break;
  case Value::Type::list:
    out += "(";
    for (std::size_t i = 0; i < value.items.size(); ++i) {
      if (i > 0) {
        out += " ";
      }
      trace_value(value.items[i], out);
    }
    out += ")";
    break;
  }
}

std::string trace_of(const Response &response) {
  if (response.name != "FETCH") {
    return shorten(response.trace);
  }
  std::string out = "* " + std::to_string(response.number.value_or(0)) + " FETCH ";
  for (const auto &value : response.values) {
    trace_value(value, out);
  }
  return shorten(std::move(out));
}

} // namespace

std::set<std::string> parse_capabilities(std::string_view text) {
  std::set<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = std::min(text.find(' ', pos), text.size());
    if (end > pos) {
      out.insert(to_upper(text.substr(pos, end - pos)));
    }
    pos = end + 1;
  }
  return out;
}

Session::Session(Stream &stream, std::string label,
                 std::function<void(const std::string &)> trace)
    : m_stream(stream), m_label(std::move(label)), m_trace(std::move(trace)) {}

core::Error Session::error(ErrorKind kind, const std::string &what) const {
  return core::make_error(kind, m_label + ": " + what);
}

void Session::trace(const std::string &line) const {
  if (m_trace) {
    m_trace(line);
  }
}

void Session::note(const Response &response) {
  if (response.code.starts_with("CAPABILITY ") &&
      (response.status == Status::ok || response.status == Status::preauth)) {
    m_capabilities = parse_capabilities(std::string_view(response.code).substr(11));
  } else if (response.type == Response::Type::untagged && response.name == "CAPABILITY") {
    m_capabilities.clear();
    for (const auto &value : response.values) {
      if (value.type == Value::Type::atom) {
        m_capabilities.insert(to_upper(value.text));
      }
    }
  }
  if (response.type == Response::Type::untagged && response.status == Status::bye) {
    m_bye = response.text.empty() ? "BYE" : response.text;
  }
}

core::Result<std::optional<Response>> Session::buffered_response() {
  auto raw = m_framer.next();
  if (!raw.ok()) {
    return error(ErrorKind::protocol, raw.error().message);
  }
  if (!*raw) {
    return std::optional<Response>();
  }
  auto parsed = parse_response(std::move(**raw));
  if (!parsed.ok()) {
    return error(ErrorKind::protocol, parsed.error().message);
  }
  note(*parsed);
  if (m_trace) {
    trace("S: " + trace_of(*parsed));
  }
  if (m_observer && parsed->type == Response::Type::untagged) {
    m_observer(*parsed);
  }
  return std::optional<Response>(std::move(*parsed));
}

core::Status Session::receive() {
  if (m_read_buffer.empty()) {
    m_read_buffer.resize(k_read_chunk);
  }
  auto n = m_stream.read(m_read_buffer.data(), m_read_buffer.size());
  if (!n.ok()) {
    if (!m_bye.empty()) {
      return error(ErrorKind::transient, "the server closed the connection: " + m_bye);
    }
    return std::move(n).error();
  }
  m_bytes_received += *n;
  m_framer.feed(std::string_view(m_read_buffer.data(), *n));
  return core::Ok{};
}

core::Result<Response> Session::read_response() {
  for (;;) {
    PB_TRY_ASSIGN(auto response, buffered_response());
    if (response) {
      return std::move(*response);
    }
    PB_TRY(receive());
  }
}

core::Status Session::send(std::string_view bytes, const std::string &trace_text) {
  if (!trace_text.empty()) {
    trace("C: " + trace_text);
  }
  return m_stream.write(bytes);
}

core::Result<Response> Session::greeting() {
  PB_TRY_ASSIGN(Response response, read_response());
  if (response.type != Response::Type::untagged || !response.status) {
    return error(ErrorKind::protocol,
                 "not an IMAP server (greeting: " + shorten(response.trace) + ")");
  }
  if (*response.status == Status::bye) {
    return error(ErrorKind::transient,
                 "the server refused the connection: " + response.text);
  }
  if (*response.status != Status::ok && *response.status != Status::preauth) {
    return error(ErrorKind::protocol, "unexpected greeting: " + shorten(response.trace));
  }
  return response;
}

core::Result<Reply> Session::command(const std::vector<Part> &parts, bool secret) {
  char tag_buffer[16];
  std::snprintf(tag_buffer, sizeof tag_buffer, "A%04u", m_next_tag++);
  const std::string tag = tag_buffer;
  Reply reply;

  // The trace: the command as sent, except a secret one (its first word
  // and its size) and literal bytes (their size).
  std::string shown = tag + " ";
  if (secret) {
    std::size_t size = 0;
    for (const auto &part : parts) {
      size += part.text.size();
    }
    const std::string &first = parts.empty() ? std::string() : parts.front().text;
    const std::size_t words = first.find(' ');
    const std::size_t second =
        words == std::string::npos ? std::string::npos : first.find(' ', words + 1);
    // "AUTHENTICATE PLAIN" / "LOGIN": the mechanism stays visible.
    const std::string visible = first.starts_with("AUTHENTICATE ")
                                    ? first.substr(0, second)
                                    : first.substr(0, words);
    shown += visible + " <redacted " +
             std::to_string(size - std::min(size, visible.size())) + " bytes>";
  }

  // Waits for a "+" (literal or SASL continuation); the tagged reply
  // instead means the server refused the command.
  auto await_continuation = [&]() -> core::Result<bool> {
    for (;;) {
      PB_TRY_ASSIGN(Response response, read_response());
      if (response.type == Response::Type::continuation) {
        return true;
      }
      if (response.type == Response::Type::tagged) {
        if (response.tag != tag) {
          return error(ErrorKind::protocol,
                       "a response to an unknown tag: " + shorten(response.trace));
        }
        reply.tagged = std::move(response);
        return false;
      }
      reply.untagged.push_back(std::move(response));
    }
  };

  std::string wire = tag + " ";
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const Part &part = parts[i];
    if (part.kind == Part::Kind::text) {
      wire += part.text;
      if (!secret) {
        shown += part.text;
      }
      continue;
    }
    if (part.kind == Part::Kind::literal) {
      std::string marker = "{";
      marker.append(std::to_string(part.text.size())).append("}");
      wire += marker;
      if (!secret) {
        shown += marker;
      }
    }
    wire += "\r\n";
    PB_TRY(send(wire, shown));
    shown.clear();
    wire.clear();
    PB_TRY_ASSIGN(const bool go_on, await_continuation());
    if (!go_on) {
      return reply;
    }
    wire = part.text;
    if (!secret) {
      shown = part.kind == Part::Kind::literal
                  ? "<literal " + std::to_string(part.text.size()) + " bytes>"
                  : part.text;
    }
  }
  wire += "\r\n";
  PB_TRY(send(wire, shown));
  for (;;) {
    PB_TRY_ASSIGN(Response response, read_response());
    if (response.type == Response::Type::continuation) {
      return error(ErrorKind::protocol,
                   "an unexpected continuation request: " + shorten(response.trace));
    }
    if (response.type == Response::Type::tagged) {
      if (response.tag != tag) {
        return error(ErrorKind::protocol,
                     "a response to an unknown tag: " + shorten(response.trace));
      }
      reply.tagged = std::move(response);
      return reply;
    }
    reply.untagged.push_back(std::move(response));
  }
}

core::Result<Reply> Session::idle(const std::function<std::chrono::milliseconds()> &next_wait,
                                  const std::function<bool()> &wake) {
  char tag_buffer[16];
  std::snprintf(tag_buffer, sizeof tag_buffer, "A%04u", m_next_tag++);
  const std::string tag = tag_buffer;
  Reply reply;
  // A response that is neither ours nor untagged ends the session.
  auto keep = [&](Response response) -> core::Result<bool> {
    if (response.type == Response::Type::tagged) {
      if (response.tag != tag) {
        return error(ErrorKind::protocol,
                     "a response to an unknown tag: " + shorten(response.trace));
      }
      reply.tagged = std::move(response);
      return true;
    }
    reply.untagged.push_back(std::move(response));
    return false;
  };

  PB_TRY(send(tag + " IDLE\r\n", tag + " IDLE"));
  for (;;) {
    PB_TRY_ASSIGN(Response response, read_response());
    if (response.type == Response::Type::continuation) {
      break;
    }
    PB_TRY_ASSIGN(const bool refused, keep(std::move(response)));
    if (refused) {
      return reply; // NO/BAD: the server does not idle
    }
  }

  // Idling: whole responses already received first, then wait in slices.
  bool woken = false;
  while (!woken) {
    PB_TRY_ASSIGN(auto response, buffered_response());
    if (response) {
      if (response->type == Response::Type::continuation) {
        return error(ErrorKind::protocol,
                     "an unexpected continuation request: " + shorten(response->trace));
      }
      PB_TRY_ASSIGN(const bool ended, keep(std::move(*response)));
      if (ended) {
        // The server ended IDLE itself (allowed: it must then be re-issued).
        return reply;
      }
      woken = wake();
      continue;
    }
    const auto wait = next_wait();
    if (wait.count() <= 0) {
      break;
    }
    PB_TRY_ASSIGN(const bool ready, m_stream.wait_readable(wait));
    if (ready) {
      PB_TRY(receive());
    }
  }

  PB_TRY(send("DONE\r\n", "DONE"));
  for (;;) {
    PB_TRY_ASSIGN(Response response, read_response());
    if (response.type == Response::Type::continuation) {
      return error(ErrorKind::protocol,
                   "an unexpected continuation request: " + shorten(response.trace));
    }
    PB_TRY_ASSIGN(const bool ended, keep(std::move(response)));
    if (ended) {
      return reply;
    }
  }
}

core::Result<std::set<std::string>> Session::refresh_capabilities() {
  PB_TRY_ASSIGN(const Reply reply, command("CAPABILITY"));
  if (reply.tagged.status != Status::ok) {
    return error(ErrorKind::protocol, "CAPABILITY refused: " + reply.tagged.text);
  }
  return m_capabilities;
}

core::Status Session::starttls() {
  if (m_capabilities.empty()) {
    PB_TRY(refresh_capabilities());
  }
  if (m_capabilities.count("STARTTLS") == 0) {
    return error(ErrorKind::tls,
                 "the server does not offer STARTTLS; refusing to log in "
                 "without TLS (use imap_security = \"tls\" and port 993 if it "
                 "speaks implicit TLS)");
  }
  PB_TRY_ASSIGN(const Reply reply, command("STARTTLS"));
  if (reply.tagged.status != Status::ok) {
    return error(ErrorKind::tls, "STARTTLS refused: " + reply.tagged.text);
  }
  if (m_framer.pending() != 0) {
    // Bytes sent before the handshake but read as if after it: an
    // injection attempt (or a broken server). Never process them.
    return error(ErrorKind::tls, "the server sent data after its OK to STARTTLS");
  }
  PB_TRY(m_stream.start_tls());
  // What the server said before TLS may have been forged.
  m_capabilities.clear();
  return core::Ok{};
}

core::Status Session::login(const std::string &username, const std::string &password) {
  if (m_capabilities.empty()) {
    PB_TRY(refresh_capabilities());
  }
  Reply reply;
  if (m_capabilities.count("AUTH=PLAIN") != 0) {
    std::string message;
    message.push_back('\0');
    message += username;
    message.push_back('\0');
    message += password;
    const std::string token = base64(message);
    if (m_capabilities.count("SASL-IR") != 0) {
      PB_TRY_ASSIGN(reply, command({Part{"AUTHENTICATE PLAIN " + token}}, true));
    } else {
      // The response goes on its own line after the server's "+".
      PB_TRY_ASSIGN(reply, command({Part{"AUTHENTICATE PLAIN"},
                                    Part{token, Part::Kind::after_continuation}},
                                   true));
    }
  } else if (m_capabilities.count("LOGINDISABLED") != 0) {
    return error(ErrorKind::config,
                 "the server allows no login here (LOGINDISABLED and no "
                 "AUTH=PLAIN)");
  } else {
    std::vector<Part> parts{Part{"LOGIN "}};
    auto add = [&parts](const std::string &text) {
      if (auto quoted = quote_astring(text)) {
        parts.back().text += *quoted;
      } else {
        parts.push_back(Part{text, Part::Kind::literal});
        parts.push_back(Part{""});
      }
    };
    add(username);
    parts.back().text += " ";
    add(password);
    PB_TRY_ASSIGN(reply, command(parts, true));
  }
  if (reply.tagged.status == Status::ok) {
    return core::Ok{};
  }
  if (reply.tagged.status == Status::no) {
    return error(
        ErrorKind::auth,
        "login refused: " +
            (reply.tagged.code.empty() ? std::string() : "[" + reply.tagged.code + "] ") +
            reply.tagged.text);
  }
  return error(ErrorKind::protocol,
               "login: " + std::string(to_string(*reply.tagged.status)) + " " +
                   reply.tagged.text);
}

} // namespace pecbatch::receipts::imap

#pragma once

// The IMAP command/response engine of the OpenSSL mailbox, over any byte
// stream: tags, untagged responses, continuation requests for literals,
// the login (AUTHENTICATE PLAIN or LOGIN), the redacted trace and the byte
// count. The TLS socket is in openssl_imap_mailbox.cpp; tests drive a
// Session over a scripted stream (tests/unit/receipts/test_imap_session.cpp).

#include <pecbatch/core/result.hpp>

#include "imap_parser.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pecbatch::receipts::imap {

// A connection to the server. Errors: `transient` (closed, timeout,
// network), `tls` (handshake or certificate).
class Stream {
public:
  virtual ~Stream() = default;
  // Writes every byte of `bytes`.
  virtual core::Status write(std::string_view bytes) = 0;
  // Reads some bytes (at least one) into `buffer`; returns how many. A
  // connection closed by the server is an error.
  virtual core::Result<std::size_t> read(char *buffer, std::size_t size) = 0;
  // Starts TLS on the connection (after the server's OK to STARTTLS) and
  // verifies the server's certificate and name.
  virtual core::Status start_tls() = 0;
  // Waits at most `timeout` for bytes to read: true when read() would
  // return data at once (or report a closed connection), false when the
  // time passed first (or a signal interrupted the wait). Used while
  // idling, when the server may stay silent for minutes.
  virtual core::Result<bool> wait_readable(std::chrono::milliseconds timeout) = 0;
};

// One piece of a command: text sent as it is; a synchronising literal
// (`{n}` CRLF, wait for "+", then the bytes); or a line sent after the
// server's "+" to what precedes it (a SASL response).
struct Part {
  enum class Kind { text, literal, after_continuation };
  std::string text;
  Kind kind = Kind::text;
};

// The responses to one command.
struct Reply {
  Response tagged;
  std::vector<Response> untagged;
};

class Session {
public:
  // `label` ("IMAP host:port") starts every error message; `trace`, when
  // set, receives "C: ..." and "S: ..." lines (secrets and message bytes
  // never).
  Session(Stream &stream, std::string label,
          std::function<void(const std::string &)> trace);

  // Reads the server greeting (the first response). Fails with `transient`
  // on BYE.
  core::Result<Response> greeting();

  // Sends a command (the tag is added) and returns every response up to
  // its tagged one. A NO or BAD is returned, not failed: the caller
  // decides. `secret` replaces the command in the trace by its first word
  // and the number of bytes.
  core::Result<Reply> command(const std::vector<Part> &parts, bool secret = false);
  core::Result<Reply> command(std::string text) {
    return command({Part{std::move(text)}});
  }

  // The capabilities (upper case) from a CAPABILITY response or a
  // [CAPABILITY ...] code; replaced by each new one seen.
  const std::set<std::string> &capabilities() const { return m_capabilities; }
  void forget_capabilities() { m_capabilities.clear(); }
  // Sends CAPABILITY and returns the fresh set.
  core::Result<std::set<std::string>> refresh_capabilities();

  // Logs in: AUTHENTICATE PLAIN when offered (with SASL-IR when offered),
  // else LOGIN (quoted strings, or literals when needed). Fails with `auth`
  // when the server refuses the credentials, `config` when it allows no
  // login at all (LOGINDISABLED without AUTH=PLAIN).
  core::Status login(const std::string &username, const std::string &password);

  // STARTTLS: requires the capability (else `tls`: never a plaintext
  // login), sends it, checks that nothing followed the server's OK (an
  // injection), starts TLS and forgets the capabilities learnt before it.
  core::Status starttls();

  // IDLE (RFC 2177): sends IDLE and, after the server's "+", reads the
  // untagged responses it pushes. Before each wait for the server,
  // `next_wait()` says how long to wait at most (zero: stop idling now);
  // after each untagged response `wake()` is asked (true: stop idling).
  // Then sends DONE and reads up to the tagged reply. Returns every
  // response (the untagged ones also went to the observer). A server that
  // answers IDLE with NO or BAD instead of "+" gets no DONE: its reply is
  // returned as is.
  core::Result<Reply> idle(const std::function<std::chrono::milliseconds()> &next_wait,
                           const std::function<bool()> &wake);

  // Called with every untagged response as it is read (EXISTS, EXPUNGE,
  // ... within any command's reply or while idling).
  void set_observer(std::function<void(const Response &)> observer) {
    m_observer = std::move(observer);
  }

  // Bytes received from the server so far (after TLS decryption).
  std::uint64_t bytes_received() const { return m_bytes_received; }

  std::string_view label() const { return m_label; }
  core::Error error(core::ErrorKind kind, const std::string &what) const;

private:
  core::Result<Response> read_response();
  // The next response already received, if a whole one is.
  core::Result<std::optional<Response>> buffered_response();
  // Reads what the stream has (at least one byte) into the framer.
  core::Status receive();
  core::Status send(std::string_view bytes, const std::string &trace_text);
  void note(const Response &response);
  void trace(const std::string &line) const;

  Stream &m_stream;
  std::string m_label;
  std::function<void(const std::string &)> m_trace;
  std::function<void(const Response &)> m_observer;
  Framer m_framer;
  std::string m_read_buffer;
  std::set<std::string> m_capabilities;
  std::uint64_t m_bytes_received = 0;
  unsigned m_next_tag = 1;
  std::string m_bye; // the text of an untagged BYE, if one came
};

// The capability set from the atoms of a CAPABILITY response or code text.
std::set<std::string> parse_capabilities(std::string_view text);

} // namespace pecbatch::receipts::imap

#pragma once

// Internals of the dispatch module, shared by the libcurl transport and the
// unit tests: SMTP reply parsing and the dialogue tracker that turns the
// lines libcurl reports (CURLOPT_DEBUGFUNCTION) into a redacted trace and
// into the facts the transport classifies on.

#include <pecbatch/dispatch/transport.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pecbatch::dispatch::detail {

// One server reply line: "250-SIZE 1000" (code 250, continued) or
// "250 2.0.0 Ok" (code 250, last line of the reply).
struct ReplyLine {
  int code = 0;
  bool last = true; // false for "NNN-" continuation lines
  std::string text; // after "NNN " / "NNN-", trimmed
};

// Parses `line` (without CRLF). Returns nullopt when it does not start
// with three digits followed by ' ', '-' or the end of the line.
std::optional<ReplyLine> parse_reply_line(std::string_view line);

// Builds a reply from `code` and the `text` after it, splitting off a
// leading RFC 3463 enhanced status code ("4.7.1 text" -> "4.7.1", "text")
// when its class digit is 2, 4 or 5.
SmtpReply make_reply(int code, std::string_view text);

// Standard base64 (with padding) of `data`.
std::string base64(std::string_view data);

// The secrets a trace must never show: `password` and the base64 forms a
// client sends (LOGIN password, PLAIN "\0user\0password" and
// "user\0user\0password"). Empty strings are left out.
std::vector<std::string> secret_forms(const std::string& username,
                                      const std::string& password);

// Follows one SMTP client dialogue as libcurl reports it and
//  * writes the trace ("C: ..."/"S: ..."), with AUTH arguments and every
//    client line of an AUTH exchange replaced by "<redacted N bytes>",
//    client lines that are not a known SMTP command redacted too, and any
//    of `secrets` scrubbed from every line as a last line of defence;
//  * tracks, per connection, whether EHLO advertised AUTH and whether the
//    server answered 235 to our AUTH;
//  * tracks, per message, the last complete server reply (replies to QUIT
//    excluded), whether all the message data was handed over, and the
//    first reply after that (the final reply to the end of data).
// The message bytes themselves never reach it (only their count).
class SmtpDialogue {
public:
  using Trace = std::function<void(const std::string& line)>;

  // `trace` may be empty (no trace). Secrets shorter than 6 bytes are
  // only kept out by the AUTH redaction, not scrubbed (they would blank
  // out unrelated text).
  SmtpDialogue(Trace trace, std::vector<std::string> secrets);

  // A new connection (socket) starts: forget everything learnt about the
  // previous one.
  void new_connection();
  // A new message starts on the current (or a new) connection.
  void begin_message();

  // Bytes libcurl received as protocol lines (CURLINFO_HEADER_IN); may hold
  // several CRLF-terminated lines.
  void server_bytes(std::string_view bytes);
  // Bytes libcurl sent as protocol lines (CURLINFO_HEADER_OUT).
  void client_bytes(std::string_view bytes);

  // The read callback was called for the first time (after 354).
  void data_started() { m_data_started = true; }
  // The read callback handed over the last of the `size` message bytes:
  // traces "C: <message: N bytes>"; every server line from now on belongs
  // to the final reply.
  void data_complete(std::size_t size);
  // The transfer failed after `handed` of `size` message bytes were handed
  // to libcurl (traced as a summary).
  void data_incomplete(std::size_t handed, std::size_t size);

  bool auth_advertised() const { return m_auth_advertised; }
  bool authenticated() const { return m_authenticated; }
  bool data_was_started() const { return m_data_started; }
  bool all_data_handed_over() const { return m_data_complete; }
  // The last complete server reply of this message (any command).
  const std::optional<SmtpReply>& last_reply() const { return m_last_reply; }
  // The first complete reply after all data was handed over.
  const std::optional<SmtpReply>& reply_after_data() const { return m_reply_after_data; }

private:
  void server_line(std::string_view line);
  void client_line(std::string_view line);
  void emit(std::string line);

  Trace m_trace;
  std::vector<std::string> m_secrets;

  // Per connection.
  bool m_in_ehlo = false;
  bool m_auth_advertised = false;
  bool m_auth_sent = false;
  bool m_in_auth = false; // between "AUTH ..." and its final (non-334) reply
  bool m_authenticated = false;
  bool m_quitting = false; // QUIT sent: later replies are not about the message

  // Per message.
  bool m_data_started = false;
  bool m_data_complete = false;
  std::optional<SmtpReply> m_last_reply;
  std::optional<SmtpReply> m_reply_after_data;
};

} // namespace pecbatch::dispatch::detail

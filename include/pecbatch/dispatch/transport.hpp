#pragma once

#include <pecbatch/core/result.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace pecbatch::dispatch {

// How the connection is secured; plaintext is never an option.
enum class Security { tls, starttls };

struct SmtpSettings {
  std::string host;
  std::uint16_t port = 465;
  Security security = Security::tls;
  std::string username;
  std::string password;  // never logged, never traced
  std::optional<std::filesystem::path> ca_file;  // trusted in addition to the system CAs
  std::string helo_name = "pecbatch.invalid";   // EHLO argument
  std::chrono::milliseconds connect_timeout{30'000};
  std::chrono::milliseconds transfer_timeout{300'000};
  // Messages sent over one connection before it is closed and reopened.
  unsigned max_messages_per_connection = 100;
  // Receives the SMTP dialogue, one line per call ("C: ..." / "S: ..."),
  // with AUTH payloads replaced by "<redacted N bytes>". Optional.
  std::function<void(const std::string& line)> trace;
};

// One message for one recipient.
struct Envelope {
  std::string mail_from;
  std::string rcpt_to;
  std::string message_id;     // for logs
  const std::string* data = nullptr;  // the exact bytes, CRLF line ends
};

// The server's last reply, as far as it was seen.
struct SmtpReply {
  int code = 0;               // 0 when no reply was received
  std::string enhanced;       // RFC 3463 "4.7.0", empty if none
  std::string text;           // the reply text (one line, trimmed)
};

enum class Outcome {
  accepted,   // 250 after the end of data: the provider has the message
  transient,  // 4xx, timeout or connection lost before the end of data: retry later
  throttled,  // transient, and the reply says we are too fast (421/450/451
              // with a rate text, 550 "Too much traffic"): slow down, retry
  permanent,  // 5xx on MAIL, RCPT or DATA: this row failed
  unknown,    // all the data was sent but no final reply was seen: the
              // provider may have accepted it. Never resend blindly.
  auth,       // authentication refused, or the server offered no AUTH:
              // stop the whole run at once
  tls,        // TLS handshake or certificate failure: stop the whole run
};
const char* to_string(Outcome outcome);

struct SendResult {
  Outcome outcome = Outcome::transient;
  SmtpReply reply;
  std::string detail;  // human explanation (curl error text, ...)
};

// Sends messages over SMTP, reusing its connection between calls.
// Not thread-safe: one Transport per worker.
class Transport {
public:
  virtual ~Transport() = default;

  // Sends one message. `before_data` is called exactly once, after the
  // server accepted the envelope (MAIL, RCPT) and before the first byte of
  // the message leaves; if it fails, nothing of the message is sent and
  // the result is `transient` with its error in `detail`. The caller uses
  // it to make the "submitting" record durable before DATA.
  virtual SendResult send(const Envelope& envelope,
                          const std::function<core::Status()>& before_data) = 0;

  // Closes the connection (QUIT) if one is open.
  virtual void close() = 0;
};

// The libcurl implementation: implicit TLS or STARTTLS (required, never a
// fallback to plaintext), certificate and host-name verification always
// on, and a check that authentication really happened (libcurl 7.88
// silently skips AUTH when the server does not advertise it).
std::unique_ptr<Transport> make_curl_transport(const SmtpSettings& settings);

// Classifies a reply (code, enhanced code, text) as transient, throttled,
// permanent or auth. 2xx is `accepted`.
Outcome classify_reply(const SmtpReply& reply);

} // namespace pecbatch::dispatch

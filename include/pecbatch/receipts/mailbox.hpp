#pragma once

#include <pecbatch/core/result.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The sender's PEC mailbox, where the provider puts receipts: examined
// read-only, searched by UID and by header, read headers first and then
// as exact bytes. An interface so that the poller can be tested with
// tests/fakes/fake_mailbox.hpp. Nothing here ever changes the mailbox: no
// flag is set (BODY.PEEK), nothing is stored, moved or expunged.
namespace pecbatch::receipts {

// What EXAMINE says about a folder.
struct MailboxStatus {
  std::uint64_t uidvalidity = 0; // a change means every UID may now name another message
  std::uint64_t uidnext = 0;     // the UID the next message will get (0 = not reported)
  std::uint64_t exists = 0;      // messages in the folder
};

// The header fields fetch_headers() asks for: enough to tell a receipt or
// an anomaly that references one of our messages from everything else.
inline constexpr std::string_view k_candidate_header_fields[] = {
    "X-Ricevuta", "X-Trasporto", "X-Riferimento-Message-ID", "Message-ID", "From"};

// The candidate header fields of one message, as the server sent them.
struct HeaderBlock {
  std::uint64_t uid = 0;
  std::string headers;    // raw header lines (only the fields above), CRLF, blank line
  std::uint64_t size = 0; // RFC822.SIZE: the size of the whole message
};

class Mailbox {
public:
  virtual ~Mailbox() = default;

  // Opens `folder` read-only (IMAP EXAMINE), connecting and logging in
  // when needed; later calls work on it. Fails with `auth` (login
  // refused), `tls` (TLS, certificate, no STARTTLS), `transient` (network,
  // timeouts, server busy), `config` (no such folder) or `protocol`.
  virtual core::Result<MailboxStatus> select(const std::string &folder) = 0;

  // The UIDs greater than `last_uid`, ascending. (IMAP `UID SEARCH UID n:*`
  // always includes the highest UID even when it is below n: filtered.)
  virtual core::Result<std::vector<std::uint64_t>> uids_since(std::uint64_t last_uid) = 0;

  // The candidate header fields and size of each of `uids` (ascending),
  // without touching any flag. UIDs that no longer exist are absent from
  // the result.
  virtual core::Result<std::vector<HeaderBlock>>
  fetch_headers(const std::vector<std::uint64_t> &uids) = 0;

  // The exact bytes of message `uid` (never converted, any size, \Seen
  // not set). A UID that no longer exists fails with `permanent`.
  virtual core::Result<std::string> fetch(std::uint64_t uid) = 0;

  // The UIDs, ascending, of the messages of the folder whose header
  // `name` contains `value` (IMAP `UID SEARCH HEADER`: a substring match,
  // case-insensitive; callers check the exact value afterwards).
  virtual core::Result<std::vector<std::uint64_t>>
  search_header(const std::string &name, const std::string &value) = 0;

  // Bytes received from the server since this object was made, over all
  // its connections (protocol and message bytes, after TLS).
  virtual std::uint64_t bytes_received() const = 0;
};

// The fields of a HeaderBlock (or any header section), unfolded and
// trimmed; names matched case-insensitively, the first occurrence wins.
struct CandidateHeaders {
  std::optional<std::string> x_ricevuta;
  std::optional<std::string> x_trasporto;
  // X-Riferimento-Message-ID and Message-ID without their angle brackets.
  std::optional<std::string> x_riferimento_message_id;
  std::optional<std::string> message_id;
  std::optional<std::string> from;

  // A receipt (X-Ricevuta) or a transport/anomaly envelope (X-Trasporto):
  // what the provider writes, as opposed to ordinary mail.
  bool from_provider() const { return x_ricevuta.has_value() || x_trasporto.has_value(); }
};
CandidateHeaders parse_candidate_headers(std::string_view header_block);

// How the IMAP connection is secured; plaintext is never an option.
enum class ImapSecurity { tls, starttls };

struct ImapSettings {
  std::string host;
  std::uint16_t port = 993;
  ImapSecurity security = ImapSecurity::tls;
  std::string username;
  std::string password;                         // never logged, never traced
  std::optional<std::filesystem::path> ca_file; // trusted in addition to the system CAs
  // TCP connection plus TLS handshake.
  std::chrono::milliseconds connect_timeout{30'000};
  // The longest wait for the server during a command (no byte received or
  // sent for this long): the command fails with `transient`.
  std::chrono::milliseconds transfer_timeout{300'000};
  // Receives the IMAP commands and responses ("C: ..." / "S: ..."), the
  // login redacted, message bytes never (literals show as their size).
  std::function<void(const std::string &line)> trace;
};

// The OpenSSL implementation: own socket, implicit TLS (993) or STARTTLS
// (143, required: refused when not offered, never a plaintext login),
// certificate verified against the system CAs plus `ca_file`, host name
// (or IP address) verified, SNI. One connection, opened at the first
// select() and reused; after a failure the next call reconnects. See
// docs/ARCHITECTURE.md for why this is not libcurl or libetpan.
std::unique_ptr<Mailbox> make_openssl_mailbox(ImapSettings settings);

} // namespace pecbatch::receipts

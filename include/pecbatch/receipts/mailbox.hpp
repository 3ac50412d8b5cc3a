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
// as exact bytes, watched for new mail (IDLE). An interface so that the
// poller can be tested with tests/fakes/fake_mailbox.hpp. Only move()
// changes the mailbox (the opt-in poll.archive_folder); everything else
// only reads: no flag is set (BODY.PEEK), nothing is stored or expunged.
namespace pecbatch::receipts {

// What EXAMINE (or SELECT) says about a folder.
struct MailboxStatus {
  std::uint64_t uidvalidity = 0; // a change means every UID may now name another message
  std::uint64_t uidnext = 0;     // the UID the next message will get (0 = not reported)
  std::uint64_t exists = 0;      // messages in the folder
  bool writable = false;         // opened read-write ([READ-WRITE] to a SELECT)
};

// How move() took messages out of their folder.
enum class MoveMethod {
  none,         // not moved: the server offers neither MOVE nor UIDPLUS
  move,         // UID MOVE (RFC 6851)
  copy_expunge, // UID COPY, UID STORE +FLAGS.SILENT (\Deleted), UID EXPUNGE (RFC 4315)
};
const char *to_string(MoveMethod method);

struct MoveResult {
  MoveMethod method = MoveMethod::none;
  // Messages moved: as the server counted them (COPYUID), else as asked.
  std::uint64_t moved = 0;
  bool created = false; // the target folder did not exist and was created
};

// What wait_for_mail() saw.
enum class WaitResult {
  new_mail,    // the folder grew (IMAP EXISTS)
  timed_out,   // nothing new within the wait
  stopped,     // stop() said so
  unsupported, // the server offers no IDLE, or no folder is open: not waited
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

  // Moves messages `uids` (ascending) of `folder` into folder `target`:
  // the only call that changes the mailbox (docs/polling.md,
  // poll.archive_folder). Decides first: UID MOVE when the server offers
  // MOVE, else UID COPY + UID STORE +FLAGS.SILENT (\Deleted) + UID EXPUNGE
  // of exactly these UIDs when it offers UIDPLUS, else nothing (method
  // `none`, the mailbox untouched: a plain EXPUNGE would also remove other
  // messages a user marked deleted). Only then reopens `folder` read-write
  // (SELECT), checks that its UIDVALIDITY is still `uidvalidity` (else
  // `permanent`: the UIDs may now name other messages; nothing moved), and
  // moves the UIDs a few hundred per command; UIDs that no longer exist
  // are ignored. A missing `target` ([TRYCREATE]) is created (and
  // subscribed). The folder stays selected (read-write) afterwards.
  // Fails with `config` when `target` cannot be created or `folder` is
  // read-only, `transient`/`protocol` as the other calls.
  virtual core::Result<MoveResult> move(const std::string &folder, std::uint64_t uidvalidity,
                                        const std::vector<std::uint64_t> &uids,
                                        const std::string &target) = 0;

  // Waits for new mail in the folder opened last, with IMAP IDLE (RFC
  // 2177): `new_mail` as soon as the server reports that the folder grew
  // (or it already did since the last uids_since()), `timed_out` after
  // `max_wait`, `stopped` soon (a fraction of a second) after `stop()`
  // returns true; IDLE is always ended (DONE) before returning.
  // `unsupported` at once, without waiting, when the server does not
  // offer IDLE or no folder is open. Errors as the other calls.
  virtual core::Result<WaitResult> wait_for_mail(std::chrono::milliseconds max_wait,
                                                 const std::function<bool()> &stop) = 0;

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

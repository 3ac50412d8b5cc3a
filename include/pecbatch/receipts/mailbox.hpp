#pragma once

#include <pecbatch/core/result.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

// The sender's PEC mailbox, where the provider puts receipts: selected,
// searched by UID and fetched as exact bytes. An interface so that the
// poller can be tested with tests/fakes/fake_mailbox.hpp.
namespace pecbatch::receipts {

// What SELECT INBOX says about the mailbox.
struct MailboxStatus {
  std::uint64_t uidvalidity = 0;  // a change means every UID may now name another message
  std::uint64_t uidnext = 0;      // the UID the next message will get (0 = not reported)
};

class Mailbox {
public:
  virtual ~Mailbox() = default;

  // Selects INBOX (connecting and logging in when needed). Fails with
  // `auth` (login refused), `tls`, `transient` (network, timeouts) or
  // `protocol`.
  virtual core::Result<MailboxStatus> select() = 0;

  // The UIDs greater than `last_uid`, ascending. (IMAP `UID SEARCH UID n:*`
  // always includes the highest UID even when it is below n: filtered.)
  virtual core::Result<std::vector<std::uint64_t>> uids_since(std::uint64_t last_uid) = 0;

  // The exact bytes of message `uid` (never converted). A UID that no
  // longer exists fails with `permanent`.
  virtual core::Result<std::string> fetch(std::uint64_t uid) = 0;
};

// How the IMAP connection is secured; plaintext is never an option.
enum class ImapSecurity { tls, starttls };

struct ImapSettings {
  std::string host;
  std::uint16_t port = 993;
  ImapSecurity security = ImapSecurity::tls;
  std::string username;
  std::string password;                          // never logged, never traced
  std::optional<std::filesystem::path> ca_file;  // trusted in addition to the system CAs
  std::chrono::milliseconds connect_timeout{30'000};
  std::chrono::milliseconds transfer_timeout{300'000};
  // Receives the IMAP commands and status lines ("C: ..." / "S: ..."),
  // login redacted, message bytes omitted. Optional.
  std::function<void(const std::string& line)> trace;
};

// The libcurl implementation (imaps://, or imap:// with STARTTLS required;
// certificate and host name always verified). One connection, reused.
// Messages are fetched with `INBOX;UID=n` (literal-safe; it sets \Seen).
std::unique_ptr<Mailbox> make_curl_mailbox(ImapSettings settings);

} // namespace pecbatch::receipts

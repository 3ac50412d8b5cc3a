// The IMAP mailbox over OpenSSL and an own socket (make_openssl_mailbox in
// include/pecbatch/receipts/mailbox.hpp). The protocol engine is in
// imap_session.cpp, the response reader in imap_parser.cpp; this file has
// the TCP connection, TLS (implicit or STARTTLS) with certificate and
// host-name verification, and the Mailbox commands.
//
// Read-only unless asked: the commands sent are CAPABILITY, STARTTLS,
// AUTHENTICATE/LOGIN, EXAMINE, UID SEARCH, UID FETCH with BODY.PEEK, IDLE
// and LOGOUT. Only move() (poll.archive_folder, opt-in) sends SELECT, UID
// MOVE or UID COPY + UID STORE + UID EXPUNGE of the UIDs it is given, and
// CREATE/SUBSCRIBE of its target.

#include <pecbatch/receipts/mailbox.hpp>

#include "imap_commands.hpp"
#include "imap_parser.hpp"
#include "imap_session.hpp"

#include <climits>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <map>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <utility>

namespace pecbatch::receipts {

namespace {

using core::ErrorKind;
using Clock = std::chrono::steady_clock;

// UIDs per UID FETCH of header fields: keeps command lines short.
constexpr std::size_t k_header_batch = 500;
// The wait for the server's answer to LOGOUT when closing.
constexpr auto k_logout_timeout = std::chrono::milliseconds(2'000);
// While idling, how often stop() is asked.
constexpr auto k_idle_slice = std::chrono::milliseconds(200);

std::string openssl_errors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) {
      out += "; ";
    }
    out += buffer;
  }
  return out;
}

// Blocks SIGPIPE in this thread while OpenSSL writes to the socket (it uses
// write(), not send() with MSG_NOSIGNAL), and swallows a SIGPIPE raised
// meanwhile: a server that hangs up is an error, not the end of pecbatch.
class SigpipeGuard {
public:
  SigpipeGuard() {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    m_was_pending = sigismember(&pending, SIGPIPE) == 1;
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    m_active = pthread_sigmask(SIG_BLOCK, &pipe, &m_old) == 0;
  }
  ~SigpipeGuard() {
    if (!m_active) {
      return;
    }
    if (!m_was_pending) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        const timespec zero{};
        (void)sigtimedwait(&pipe, nullptr, &zero);
      }
    }
    pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
  }
  SigpipeGuard(const SigpipeGuard &) = delete;
  SigpipeGuard &operator=(const SigpipeGuard &) = delete;

private:
  sigset_t m_old{};
  bool m_was_pending = false;
  bool m_active = false;
};

struct SslCtxDeleter {
  void operator()(SSL_CTX *ctx) const { SSL_CTX_free(ctx); }
};
using SslCtx = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// The TLS context: TLS 1.2 or later, peer verification against the
// system CAs plus `ca_file`.
core::Result<SslCtx> make_context(const ImapSettings &settings,
                                  const std::string &label) {
  ERR_clear_error();
  SslCtx ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    return core::make_error(ErrorKind::internal,
                            label + ": SSL_CTX_new: " + openssl_errors());
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // The system store (Debian: /etc/ssl/certs); a missing one is not fatal
  // when ca_file names the anchor.
  if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    ERR_clear_error();
  }
  if (settings.ca_file) {
    if (SSL_CTX_load_verify_locations(ctx.get(), settings.ca_file->c_str(), nullptr) !=
        1) {
      return core::make_error(ErrorKind::config, "account.ca_file: cannot load " +
                                                     settings.ca_file->string() + ": " +
                                                     openssl_errors());
    }
  }
  return ctx;
}

// A TCP connection, plaintext until start_tls(). Non-blocking; every wait
// is a poll() bounded by the connect or the I/O timeout.
class TlsSocket final : public imap::Stream {
public:
  TlsSocket(const ImapSettings &settings, SSL_CTX *ctx, std::string label)
      : m_settings(settings), m_ctx(ctx), m_label(std::move(label)),
        m_io_timeout(settings.transfer_timeout) {}

  ~TlsSocket() override {
    if (m_ssl != nullptr) {
      SigpipeGuard guard;
      (void)SSL_shutdown(m_ssl); // best effort, non-blocking
      SSL_free(m_ssl);
    }
    if (m_fd >= 0) {
      ::close(m_fd);
    }
  }
  TlsSocket(const TlsSocket &) = delete;
  TlsSocket &operator=(const TlsSocket &) = delete;

  void set_io_timeout(std::chrono::milliseconds timeout) { m_io_timeout = timeout; }

  core::Status connect() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    addrinfo *found = nullptr;
    const std::string port = std::to_string(m_settings.port);
    const int rc = ::getaddrinfo(host().c_str(), port.c_str(), &hints, &found);
    if (rc != 0) {
      return error(ErrorKind::transient,
                   std::string("cannot resolve the host name: ") + ::gai_strerror(rc));
    }
    std::unique_ptr<addrinfo, void (*)(addrinfo *)> addresses(found, ::freeaddrinfo);
    const auto deadline = Clock::now() + m_settings.connect_timeout;
    std::string last = "no address";
    for (const addrinfo *ai = found; ai != nullptr; ai = ai->ai_next) {
      const int fd = ::socket(
          ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) {
        last = std::strerror(errno);
        continue;
      }
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        last = std::strerror(errno);
        ::close(fd);
        continue;
      }
      m_fd = fd;
      auto ready = wait(POLLOUT, deadline, "connecting");
      int so_error = 0;
      socklen_t length = sizeof so_error;
      if (ready.ok() && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length) == 0 &&
          so_error == 0) {
        const int one = 1;
        (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return core::Ok{};
      }
      last = ready.ok() ? std::strerror(so_error) : ready.error().message;
      ::close(fd);
      m_fd = -1;
      if (!ready.ok() && Clock::now() >= deadline) {
        return ready.error();
      }
    }
    return error(ErrorKind::transient, "cannot connect: " + last);
  }

  core::Status start_tls() override {
    ERR_clear_error();
    m_ssl = SSL_new(m_ctx);
    if (m_ssl == nullptr || SSL_set_fd(m_ssl, m_fd) != 1) {
      return error(ErrorKind::internal, "SSL_new: " + openssl_errors());
    }
    // The name the certificate must hold: an IP address (checked against
    // its IP SANs) or a DNS name (SNI and host-name check).
    const std::string name = host();
    in6_addr address{};
    const bool is_ip = ::inet_pton(AF_INET, name.c_str(), &address) == 1 ||
                       ::inet_pton(AF_INET6, name.c_str(), &address) == 1;
    if (is_ip) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(m_ssl), name.c_str()) != 1) {
        return error(ErrorKind::config, "cannot check the certificate against " + name);
      }
    } else {
      SSL_set_hostflags(m_ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(m_ssl, name.c_str()) != 1 ||
          SSL_set_tlsext_host_name(m_ssl, name.c_str()) != 1) {
        return error(ErrorKind::config, "cannot check the certificate against " + name);
      }
    }
    SSL_set_connect_state(m_ssl);
    const auto deadline = Clock::now() + m_settings.connect_timeout;
    SigpipeGuard guard;
    for (;;) {
      ERR_clear_error();
      const int rc = SSL_connect(m_ssl);
      if (rc == 1) {
        break;
      }
      const int ssl_error = SSL_get_error(m_ssl, rc);
      if (ssl_error == SSL_ERROR_WANT_READ) {
        PB_TRY(wait(POLLIN, deadline, "in the TLS handshake"));
        continue;
      }
      if (ssl_error == SSL_ERROR_WANT_WRITE) {
        PB_TRY(wait(POLLOUT, deadline, "in the TLS handshake"));
        continue;
      }
      const long verify = SSL_get_verify_result(m_ssl);
      if (verify != X509_V_OK) {
        return error(ErrorKind::tls, std::string("certificate verification failed: ") +
                                         X509_verify_cert_error_string(verify));
      }
      std::string detail = openssl_errors();
      if (detail.empty()) {
        detail = ssl_error == SSL_ERROR_SYSCALL && errno != 0
                     ? std::string(std::strerror(errno))
                     : std::string("the server closed the connection");
      }
      return error(ErrorKind::tls, "TLS handshake failed: " + detail);
    }
    // With SSL_VERIFY_PEER a failed verification stops the handshake; this
    // only guards against a future change of that default.
    if (SSL_get0_peer_certificate(m_ssl) == nullptr ||
        SSL_get_verify_result(m_ssl) != X509_V_OK) {
      return error(ErrorKind::tls, "the server's certificate was not verified");
    }
    return core::Ok{};
  }

  core::Status write(std::string_view bytes) override {
    const auto deadline = Clock::now() + m_io_timeout;
    while (!bytes.empty()) {
      if (m_ssl != nullptr) {
        SigpipeGuard guard;
        ERR_clear_error();
        const int n =
            SSL_write(m_ssl, bytes.data(),
                      static_cast<int>(std::min<std::size_t>(bytes.size(), INT_MAX)));
        if (n > 0) {
          bytes.remove_prefix(static_cast<std::size_t>(n));
          continue;
        }
        PB_TRY(on_ssl_error(SSL_get_error(m_ssl, n), deadline, "sending"));
        continue;
      }
      const ssize_t n = ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        PB_TRY(wait(POLLOUT, deadline, "sending"));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return error(ErrorKind::transient,
                     std::string("connection lost while sending: ") +
                         std::strerror(errno));
      }
    }
    return core::Ok{};
  }

  core::Result<std::size_t> read(char *buffer, std::size_t size) override {
    const auto deadline = Clock::now() + m_io_timeout;
    for (;;) {
      if (m_ssl != nullptr) {
        SigpipeGuard guard; // a TLS read may write (renegotiation, alerts)
        ERR_clear_error();
        const int n = SSL_read(m_ssl, buffer,
                               static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
        if (n > 0) {
          return static_cast<std::size_t>(n);
        }
        PB_TRY(on_ssl_error(SSL_get_error(m_ssl, n), deadline, "waiting for the server"));
        continue;
      }
      const ssize_t n = ::recv(m_fd, buffer, size, 0);
      if (n > 0) {
        return static_cast<std::size_t>(n);
      }
      if (n == 0) {
        return error(ErrorKind::transient, "the server closed the connection");
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        PB_TRY(wait(POLLIN, deadline, "waiting for the server"));
      } else if (errno != EINTR) {
        return error(ErrorKind::transient,
                     std::string("connection lost: ") + std::strerror(errno));
      }
    }
  }

  core::Result<bool> wait_readable(std::chrono::milliseconds timeout) override {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (m_ssl != nullptr && SSL_pending(m_ssl) > 0) {
        return true;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return false;
      }
      pollfd p{m_fd, POLLIN, 0};
      const int rc =
          ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
      if (rc < 0) {
        if (errno == EINTR) {
          return false; // a signal: let the caller look at its stop flag
        }
        return error(ErrorKind::transient, std::string("poll: ") + std::strerror(errno));
      }
      if (rc == 0) {
        return false;
      }
      if (m_ssl == nullptr) {
        return true;
      }
      // Readable bytes may be a TLS record without application data (a
      // session ticket, a key update): process it without blocking, and
      // say "ready" only when data (or the end) is there, so that the
      // read() that follows never waits for the I/O timeout.
      SigpipeGuard guard;
      ERR_clear_error();
      char byte = 0;
      const int n = SSL_peek(m_ssl, &byte, 1);
      if (n > 0) {
        return true;
      }
      const int ssl_error = SSL_get_error(m_ssl, n);
      if (ssl_error != SSL_ERROR_WANT_READ) {
        return true; // closed or failed: read() reports it
      }
    }
  }

private:
  std::string host() const {
    std::string name = m_settings.host;
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
      name = name.substr(1, name.size() - 2); // [::1]
    }
    return name;
  }

  core::Error error(ErrorKind kind, const std::string &what) const {
    return core::make_error(kind, m_label + ": " + what);
  }

  // After an SSL_read/SSL_write that made no progress: waits, or fails.
  core::Status on_ssl_error(int ssl_error, Clock::time_point deadline,
                            const char *doing) {
    switch (ssl_error) {
    case SSL_ERROR_WANT_READ:
      return wait(POLLIN, deadline, doing);
    case SSL_ERROR_WANT_WRITE:
      return wait(POLLOUT, deadline, doing);
    case SSL_ERROR_ZERO_RETURN:
      return error(ErrorKind::transient, "the server closed the connection");
    case SSL_ERROR_SYSCALL: {
      const std::string detail = openssl_errors();
      return error(ErrorKind::transient,
                   "connection lost " + std::string(doing) + ": " +
                       (!detail.empty() ? detail
                        : errno != 0    ? std::string(std::strerror(errno))
                                        : std::string("unexpected end of stream")));
    }
    default:
      return error(ErrorKind::transient,
                   "TLS failure " + std::string(doing) + ": " + openssl_errors());
    }
  }

  // Waits until the socket is ready for `events` or `deadline` passes.
  core::Status wait(short events, Clock::time_point deadline, const char *doing) {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return timed_out(doing);
      }
      pollfd p{m_fd, events, 0};
      const int rc =
          ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
      if (rc > 0) {
        return core::Ok{}; // ready, or an error the next call reports
      }
      if (rc == 0) {
        return timed_out(doing);
      }
      if (errno != EINTR) {
        return error(ErrorKind::transient, std::string("poll: ") + std::strerror(errno));
      }
    }
  }

  core::Error timed_out(const char *doing) const {
    return error(ErrorKind::transient, std::string("timed out ") + doing);
  }

  const ImapSettings &m_settings;
  SSL_CTX *m_ctx;
  std::string m_label;
  std::chrono::milliseconds m_io_timeout;
  int m_fd = -1;
  SSL *m_ssl = nullptr;
};

class OpenSslMailbox final : public Mailbox {
public:
  explicit OpenSslMailbox(ImapSettings settings)
      : m_settings(std::move(settings)),
        m_label("IMAP " + m_settings.host + ":" + std::to_string(m_settings.port)) {}

  ~OpenSslMailbox() override { disconnect(true); }
  OpenSslMailbox(const OpenSslMailbox &) = delete;
  OpenSslMailbox &operator=(const OpenSslMailbox &) = delete;

  core::Result<MailboxStatus> select(const std::string &folder) override {
    return guarded([&]() -> core::Result<MailboxStatus> {
      PB_TRY(ensure_connected());
      m_folder.reset();
      PB_TRY_ASSIGN(const MailboxStatus status, imap::open_folder(*m_session, folder, false));
      m_folder = folder;
      m_watch.opened(status.exists);
      return status;
    });
  }

  core::Result<std::vector<std::uint64_t>> uids_since(std::uint64_t last_uid) override {
    return guarded([&]() -> core::Result<std::vector<std::uint64_t>> {
      PB_TRY(require_folder());
      // New mail announced from now on is not in this search's answer.
      m_watch.mark();
      PB_TRY_ASSIGN(auto uids,
                    search("UID SEARCH UID " + std::to_string(last_uid + 1) + ":*"));
      // `n:*` always includes the highest UID, even below n.
      uids.erase(
          std::remove_if(uids.begin(), uids.end(),
                         [last_uid](std::uint64_t uid) { return uid <= last_uid; }),
          uids.end());
      return uids;
    });
  }

  core::Result<std::vector<HeaderBlock>>
  fetch_headers(const std::vector<std::uint64_t> &uids) override {
    return guarded([&]() -> core::Result<std::vector<HeaderBlock>> {
      PB_TRY(require_folder());
      std::string fields;
      for (const auto field : k_candidate_header_fields) {
        if (!fields.empty()) {
          fields += ' ';
        }
        fields += field;
      }
      std::vector<std::uint64_t> sorted = uids;
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      std::map<std::uint64_t, HeaderBlock> found;
      for (std::size_t i = 0; i < sorted.size(); i += k_header_batch) {
        const std::vector<std::uint64_t> batch(
            sorted.begin() + static_cast<std::ptrdiff_t>(i),
            sorted.begin() +
                static_cast<std::ptrdiff_t>(std::min(i + k_header_batch, sorted.size())));
        const std::set<std::uint64_t> wanted(batch.begin(), batch.end());
        PB_TRY_ASSIGN(imap::Reply reply,
                      m_session->command("UID FETCH " + imap::uid_set(batch) +
                                         " (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (" +
                                         fields + ")])"));
        // NO: some messages were expunged meanwhile; the others came.
        if (reply.tagged.status == imap::Status::bad) {
          return m_session->error(ErrorKind::protocol,
                                  "UID FETCH refused: " + reply.tagged.text);
        }
        PB_TRY(each_fetch(reply, [&](std::uint64_t uid, imap::FetchData &data) {
          if (wanted.count(uid) == 0) {
            return;
          }
          auto &block = found[uid];
          block.uid = uid;
          if (data.size) {
            block.size = *data.size;
          }
          if (const auto *body = data.body("BODY[HEADER.FIELDS")) {
            block.headers = body->text;
          }
        }));
      }
      std::vector<HeaderBlock> out;
      out.reserve(found.size());
      for (auto &[uid, block] : found) {
        out.push_back(std::move(block));
      }
      return out;
    });
  }

  core::Result<std::string> fetch(std::uint64_t uid) override {
    return guarded([&]() -> core::Result<std::string> {
      PB_TRY(require_folder());
      PB_TRY_ASSIGN(imap::Reply reply,
                    m_session->command("UID FETCH " + std::to_string(uid) +
                                       " (UID RFC822.SIZE BODY.PEEK[])"));
      if (reply.tagged.status == imap::Status::bad) {
        return m_session->error(ErrorKind::protocol,
                                "UID FETCH refused: " + reply.tagged.text);
      }
      std::optional<std::string> bytes;
      PB_TRY(each_fetch(reply, [&](std::uint64_t got, imap::FetchData &data) {
        if (got != uid || bytes) {
          return;
        }
        for (auto &[name, value] : data.items) {
          // BODY[] exactly: not BODY[HEADER...] of an unrelated response.
          if (name == "BODY[]" && value.type == imap::Value::Type::string) {
            bytes = std::move(value.text);
            return;
          }
        }
      }));
      if (!bytes) {
        return m_session->error(
            ErrorKind::permanent,
            "message UID " + std::to_string(uid) + " no longer exists" +
                (reply.tagged.status == imap::Status::no ? " (" + reply.tagged.text + ")"
                                                         : std::string()));
      }
      return std::move(*bytes);
    });
  }

  core::Result<std::vector<std::uint64_t>>
  search_header(const std::string &name, const std::string &value) override {
    return guarded([&]() -> core::Result<std::vector<std::uint64_t>> {
      PB_TRY(require_folder());
      const auto quoted_name = imap::quote_astring(name);
      if (!quoted_name) {
        return m_session->error(ErrorKind::internal, "bad header name " + name);
      }
      if (const auto quoted = imap::quote_astring(value)) {
        return search("UID SEARCH HEADER " + *quoted_name + " " + *quoted);
      }
      return search_parts(
          {imap::Part{"UID SEARCH CHARSET UTF-8 HEADER " + *quoted_name + " "},
           imap::Part{value, imap::Part::Kind::literal}});
    });
  }

  core::Result<MoveResult> move(const std::string &folder, std::uint64_t uidvalidity,
                                const std::vector<std::uint64_t> &uids,
                                const std::string &target) override {
    return guarded([&]() -> core::Result<MoveResult> {
      PB_TRY(ensure_connected());
      PB_TRY_ASSIGN(const MoveMethod method, imap::move_method(*m_session));
      if (method == MoveMethod::none || uids.empty()) {
        return MoveResult{method, 0, false};
      }
      // Read-write only now, and only for this.
      const bool reopened = m_folder == folder;
      m_folder.reset();
      PB_TRY_ASSIGN(const MailboxStatus status, imap::open_folder(*m_session, folder, true));
      m_folder = folder;
      if (!reopened) {
        m_watch.opened(status.exists);
      } // else the watch saw the EXISTS: mail that came since the search still counts
      if (status.uidvalidity != uidvalidity) {
        return m_session->error(ErrorKind::permanent,
                                "folder \"" + folder + "\": UIDVALIDITY is now " +
                                    std::to_string(status.uidvalidity) + ", not " +
                                    std::to_string(uidvalidity) +
                                    "; nothing moved (the UIDs may name other messages)");
      }
      if (!status.writable) {
        return m_session->error(ErrorKind::config,
                                "folder \"" + folder +
                                    "\" can only be read (SELECT answered READ-ONLY); "
                                    "nothing moved");
      }
      return imap::move_uids(*m_session, method, uids, target);
    });
  }

  core::Result<WaitResult> wait_for_mail(std::chrono::milliseconds max_wait,
                                         const std::function<bool()> &stop) override {
    return guarded([&]() -> core::Result<WaitResult> {
      if (!m_session || !m_folder || m_session->capabilities().count("IDLE") == 0) {
        return WaitResult::unsupported;
      }
      if (m_watch.grew()) {
        return WaitResult::new_mail;
      }
      const auto deadline = Clock::now() + max_wait;
      bool stopped = false;
      const auto next_wait = [&]() -> std::chrono::milliseconds {
        if (stop && stop()) {
          stopped = true;
          return std::chrono::milliseconds(0);
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        return std::max(std::chrono::milliseconds(0), std::min(left, k_idle_slice));
      };
      PB_TRY_ASSIGN(const imap::Reply reply,
                    m_session->idle(next_wait, [this] { return m_watch.grew(); }));
      if (reply.tagged.status != imap::Status::ok) {
        // Refused although offered: behave as if it were not.
        return WaitResult::unsupported;
      }
      if (m_watch.grew()) {
        return WaitResult::new_mail;
      }
      return stopped ? WaitResult::stopped : WaitResult::timed_out;
    });
  }

  std::uint64_t bytes_received() const override {
    return m_bytes_before + (m_session ? m_session->bytes_received() : 0);
  }

private:
  // Runs `body`; after a failure of the connection or the protocol it is
  // dropped (its state is unknown), so that the next call starts afresh.
  // A clean refusal (no such message, no such folder) keeps it.
  template <typename F> auto guarded(F &&body) -> decltype(body()) {
    auto result = body();
    if (!result.ok() && result.error().kind != ErrorKind::permanent &&
        result.error().kind != ErrorKind::config) {
      disconnect(false);
    }
    return result;
  }

  core::Status require_folder() {
    if (!m_session || !m_folder) {
      return core::make_error(ErrorKind::internal, m_label + ": no folder selected");
    }
    return core::Ok{};
  }

  core::Result<std::vector<std::uint64_t>> search(std::string command) {
    return search_parts({imap::Part{std::move(command)}});
  }

  core::Result<std::vector<std::uint64_t>>
  search_parts(const std::vector<imap::Part> &parts) {
    PB_TRY_ASSIGN(const imap::Reply reply, m_session->command(parts));
    if (reply.tagged.status != imap::Status::ok) {
      return m_session->error(
          ErrorKind::protocol,
          "SEARCH refused: " + std::string(imap::to_string(*reply.tagged.status)) + " " +
              reply.tagged.text);
    }
    std::vector<std::uint64_t> uids;
    for (const auto &response : reply.untagged) {
      if (response.name != "SEARCH") {
        continue;
      }
      for (const auto &value : response.values) {
        if (const auto uid = value.number()) {
          uids.push_back(*uid);
        }
      }
    }
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    return uids;
  }

  // Calls `visit(uid, data)` for every FETCH response of `reply`. A
  // response without UID (allowed when a server splits one message's items)
  // is tied to its UID by the sequence number seen with it.
  template <typename Visit> core::Status each_fetch(imap::Reply &reply, Visit &&visit) {
    std::map<std::uint64_t, std::uint64_t> uid_of_sequence;
    std::vector<std::pair<std::uint64_t, imap::FetchData>> all;
    for (auto &response : reply.untagged) {
      if (response.name != "FETCH") {
        continue;
      }
      PB_TRY_ASSIGN(auto data, imap::fetch_data(response));
      if (data.uid) {
        uid_of_sequence[*response.number] = *data.uid;
      }
      all.emplace_back(*response.number, std::move(data));
    }
    for (auto &[sequence, data] : all) {
      const auto it = uid_of_sequence.find(sequence);
      if (it == uid_of_sequence.end()) {
        continue; // an unsolicited flag update of another message
      }
      visit(it->second, data);
    }
    return core::Ok{};
  }

  core::Status ensure_connected() {
    if (m_session) {
      return core::Ok{};
    }
    if (!m_ctx) {
      PB_TRY_ASSIGN(m_ctx, make_context(m_settings, m_label));
    }
    m_socket = std::make_unique<TlsSocket>(m_settings, m_ctx.get(), m_label);
    m_session = std::make_unique<imap::Session>(*m_socket, m_label, m_settings.trace);
    m_session->set_observer([this](const imap::Response &r) { m_watch.observe(r); });
    auto opened = open_session();
    if (!opened.ok()) {
      disconnect(false);
      return opened;
    }
    return core::Ok{};
  }

  core::Status open_session() {
    PB_TRY(m_socket->connect());
    if (m_settings.security == ImapSecurity::tls) {
      PB_TRY(m_socket->start_tls());
    }
    PB_TRY_ASSIGN(const imap::Response greeting, m_session->greeting());
    if (m_settings.security == ImapSecurity::starttls) {
      if (greeting.status == imap::Status::preauth) {
        return m_session->error(ErrorKind::tls,
                                "the server greeted with PREAUTH before TLS; "
                                "refusing an unencrypted session");
      }
      PB_TRY(m_session->starttls());
    }
    if (greeting.status != imap::Status::preauth) {
      PB_TRY(m_session->refresh_capabilities());
      PB_TRY(m_session->login(m_settings.username, m_settings.password));
    }
    return core::Ok{};
  }

  void disconnect(bool polite) {
    if (m_session && polite) {
      m_socket->set_io_timeout(k_logout_timeout);
      (void)m_session->command("LOGOUT");
    }
    if (m_session) {
      m_bytes_before += m_session->bytes_received();
    }
    m_session.reset();
    m_socket.reset();
    m_folder.reset();
  }

  ImapSettings m_settings;
  std::string m_label;
  SslCtx m_ctx;
  std::unique_ptr<TlsSocket> m_socket;
  std::unique_ptr<imap::Session> m_session;
  std::optional<std::string> m_folder;
  imap::FolderWatch m_watch; // the size of m_folder, for IDLE
  std::uint64_t m_bytes_before = 0;
};

} // namespace

std::unique_ptr<Mailbox> make_openssl_mailbox(ImapSettings settings) {
  return std::make_unique<OpenSslMailbox>(std::move(settings));
}

} // namespace pecbatch::receipts

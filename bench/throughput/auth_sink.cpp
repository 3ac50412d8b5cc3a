// auth_sink: a small, fast plain-TCP SMTP sink that completes AUTH.
//
// Postfix's smtp-sink cannot complete SMTP AUTH (it answers AUTH with 250;
// with -a it stops advertising AUTH), and pecbatch refuses to send over a
// connection that did not really authenticate (235). This sink accepts any
// credentials and discards every message, so that the sender, not the
// receiver, is what a throughput benchmark measures. Put stunnel4 in front
// of it for SMTPS (bench/throughput/run.sh does).
//
//   auth_sink [--listen 127.0.0.1:PORT] [--stats FILE]
//
// PORT 0 (the default) picks a free port. Prints "READY <port>" on stdout
// once it accepts connections. SIGUSR1 writes the counters to the stats file
// (or stderr); SIGTERM/SIGINT write them and exit 0. The counters line is
//   messages=N bytes=B connections=C auths=A
// where bytes counts the DATA payload as received (dot-stuffed, without the
// final ".").
//
// One thread per connection; replies to pipelined commands are batched and
// flushed when the input is drained; DATA is read in 256 KiB chunks and
// scanned with memmem for CRLF.CRLF. Benchmark tool only: it trusts its
// loopback clients and never stores anything.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

namespace {

std::atomic<unsigned long long> g_messages{0};
std::atomic<unsigned long long> g_bytes{0};
std::atomic<unsigned long long> g_connections{0};
std::atomic<unsigned long long> g_auths{0};

constexpr std::size_t k_chunk = 256 * 1024;
constexpr std::size_t k_max_line = 64 * 1024;
constexpr std::string_view k_end_of_data = "\r\n.\r\n";

bool iequals_prefix(std::string_view line, std::string_view verb) {
  if (line.size() < verb.size()) {
    return false;
  }
  for (std::size_t i = 0; i < verb.size(); ++i) {
    char c = line[i];
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
    if (c != verb[i]) {
      return false;
    }
  }
  return line.size() == verb.size() || line[verb.size()] == ' ';
}

// Writes all of `out`; false when the peer is gone.
bool write_all(int fd, std::string& out) {
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::send(fd, out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  out.clear();
  return true;
}

class Session {
 public:
  explicit Session(int fd) : m_fd(fd) { m_in.reserve(1024); }

  void run() {
    m_out = "220 localhost ESMTP auth_sink\r\n";
    if (!write_all(m_fd, m_out)) {
      return;
    }
    std::string buffer(k_chunk, '\0');
    while (!m_closing) {
      ssize_t n = ::recv(m_fd, buffer.data(), buffer.size(), 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return;
      }
      feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
      if (!m_out.empty() && !write_all(m_fd, m_out)) {
        return;
      }
    }
  }

 private:
  enum class State { command, auth_plain, auth_login_user, auth_login_password, data };

  void feed(std::string_view chunk) {
    while (!chunk.empty() && !m_closing) {
      if (m_state == State::data) {
        chunk = consume_data(chunk);
        continue;
      }
      std::size_t nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        m_in.append(chunk);
        if (m_in.size() > k_max_line) {
          m_out += "500 5.5.0 Line too long\r\n";
          m_closing = true;
        }
        return;
      }
      m_in.append(chunk.substr(0, nl + 1));
      chunk.remove_prefix(nl + 1);
      std::string_view line(m_in);
      line.remove_suffix(1);
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      command(line);
      m_in.clear();
    }
  }

  // Discards DATA until CRLF.CRLF; returns what follows it.
  std::string_view consume_data(std::string_view chunk) {
    // A terminator split across reads: m_tail holds the last (up to 4)
    // bytes seen, and starts as "\r\n" so that an empty message (".\r\n"
    // right after 354) ends too.
    std::string joined = m_tail;
    joined.append(chunk.substr(0, std::min<std::size_t>(chunk.size(), 4)));
    std::size_t pos = joined.find(k_end_of_data);
    std::size_t after = std::string_view::npos; // offset in chunk after the terminator
    if (pos != std::string::npos) {
      after = pos + k_end_of_data.size() - m_tail.size();
    } else if (chunk.size() >= k_end_of_data.size()) {
      const void* hit =
          memmem(chunk.data(), chunk.size(), k_end_of_data.data(), k_end_of_data.size());
      if (hit != nullptr) {
        after = static_cast<std::size_t>(static_cast<const char*>(hit) - chunk.data()) +
                k_end_of_data.size();
      }
    }
    if (after == std::string_view::npos) {
      m_data_bytes += chunk.size();
      if (chunk.size() >= 4) {
        m_tail.assign(chunk.substr(chunk.size() - 4));
      } else {
        m_tail.append(chunk);
        if (m_tail.size() > 4) {
          m_tail.erase(0, m_tail.size() - 4);
        }
      }
      return {};
    }
    // Payload bytes: everything before the final ".\r\n".
    std::size_t payload = after >= 3 ? after - 3 : 0;
    m_data_bytes += payload;
    g_messages.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(m_data_bytes, std::memory_order_relaxed);
    ++m_queued;
    m_out += "250 2.0.0 Ok: queued as ";
    m_out += std::to_string(m_queued);
    m_out += "\r\n";
    m_state = State::command;
    return chunk.substr(after);
  }

  void command(std::string_view line) {
    switch (m_state) {
      case State::auth_plain:
      case State::auth_login_password:
        authenticated(line);
        return;
      case State::auth_login_user:
        if (line == "*") {
          cancel_auth();
        } else {
          m_out += "334 UGFzc3dvcmQ6\r\n";
          m_state = State::auth_login_password;
        }
        return;
      case State::data:
      case State::command:
        break;
    }
    if (iequals_prefix(line, "EHLO")) {
      m_out +=
          "250-localhost\r\n"
          "250-PIPELINING\r\n"
          "250-8BITMIME\r\n"
          "250-SIZE 1073741824\r\n"
          "250-ENHANCEDSTATUSCODES\r\n"
          "250 AUTH PLAIN LOGIN\r\n";
    } else if (iequals_prefix(line, "HELO")) {
      m_out += "250 localhost\r\n";
    } else if (iequals_prefix(line, "AUTH")) {
      auth(line.substr(std::min<std::size_t>(line.size(), 5)));
    } else if (iequals_prefix(line, "MAIL") || iequals_prefix(line, "RCPT") ||
               iequals_prefix(line, "RSET") || iequals_prefix(line, "NOOP")) {
      m_out += "250 2.0.0 Ok\r\n";
    } else if (iequals_prefix(line, "DATA")) {
      m_out += "354 End data with <CR><LF>.<CR><LF>\r\n";
      m_state = State::data;
      m_tail = "\r\n";
      m_data_bytes = 0;
    } else if (iequals_prefix(line, "QUIT")) {
      m_out += "221 2.0.0 Bye\r\n";
      m_closing = true;
    } else if (iequals_prefix(line, "VRFY")) {
      m_out += "252 2.0.0 Ok\r\n";
    } else {
      m_out += "502 5.5.2 Command not implemented\r\n";
    }
  }

  void auth(std::string_view args) {
    std::size_t space = args.find(' ');
    std::string_view mechanism = args.substr(0, space);
    std::string_view initial =
        space == std::string_view::npos ? std::string_view{} : args.substr(space + 1);
    if (iequals_prefix(mechanism, "PLAIN")) {
      if (initial.empty()) {
        m_out += "334 \r\n";
        m_state = State::auth_plain;
      } else {
        authenticated(initial);
      }
    } else if (iequals_prefix(mechanism, "LOGIN")) {
      if (initial.empty()) {
        m_out += "334 VXNlcm5hbWU6\r\n";
        m_state = State::auth_login_user;
      } else {
        m_out += "334 UGFzc3dvcmQ6\r\n";
        m_state = State::auth_login_password;
      }
    } else {
      m_out += "504 5.5.4 Unrecognized authentication type\r\n";
    }
  }

  void authenticated(std::string_view response) {
    if (response == "*") {
      cancel_auth();
      return;
    }
    g_auths.fetch_add(1, std::memory_order_relaxed);
    m_out += "235 2.7.0 Authentication successful\r\n";
    m_state = State::command;
  }

  void cancel_auth() {
    m_out += "501 5.7.0 Authentication cancelled\r\n";
    m_state = State::command;
  }

  int m_fd;
  State m_state = State::command;
  bool m_closing = false;
  std::string m_in;
  std::string m_out;
  std::string m_tail;
  unsigned long long m_data_bytes = 0;
  unsigned long long m_queued = 0;
};

void serve(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  g_connections.fetch_add(1, std::memory_order_relaxed);
  Session(fd).run();
  ::close(fd);
}

void write_stats(const char* path) {
  char line[256];
  int n = std::snprintf(line, sizeof line,
                        "messages=%llu bytes=%llu connections=%llu auths=%llu\n",
                        g_messages.load(), g_bytes.load(), g_connections.load(),
                        g_auths.load());
  if (path == nullptr) {
    std::fputs(line, stderr);
    return;
  }
  // Written whole, then renamed, so a reader never sees half a line.
  std::string tmp = std::string(path) + ".tmp";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) {
    std::fwrite(line, 1, static_cast<std::size_t>(n), f);
    std::fclose(f);
    std::rename(tmp.c_str(), path);
  }
}

int usage() {
  std::fputs("usage: auth_sink [--listen 127.0.0.1:PORT] [--stats FILE]\n", stderr);
  return 64;
}

} // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  unsigned port = 0;
  const char* stats = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--listen" && i + 1 < argc) {
      std::string_view value = argv[++i];
      std::size_t colon = value.rfind(':');
      if (colon == std::string_view::npos) {
        return usage();
      }
      host.assign(value.substr(0, colon));
      port = static_cast<unsigned>(std::strtoul(argv[i] + colon + 1, nullptr, 10));
    } else if (arg == "--stats" && i + 1 < argc) {
      stats = argv[++i];
    } else {
      return usage();
    }
  }

  // Every thread blocks the signals; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return usage();
  }
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 128) != 0) {
    std::fprintf(stderr, "auth_sink: cannot listen on %s:%u: %s\n", host.c_str(), port,
                 std::strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

  std::thread acceptor([listener] {
    for (;;) {
      int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE) {
          continue;
        }
        return;
      }
      std::thread(serve, fd).detach();
    }
  });
  acceptor.detach();

  std::printf("READY %u\n", static_cast<unsigned>(ntohs(addr.sin_port)));
  std::fflush(stdout);

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) {
      continue;
    }
    write_stats(stats);
    if (sig != SIGUSR1) {
      std::fflush(nullptr);
      std::_Exit(0);
    }
  }
}

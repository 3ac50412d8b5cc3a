#pragma once

// A scripted IMAP server for the receipts module's unit tests: plays the
// server's side from a script written in advance (the tags the session
// uses are predictable: A0001, A0002, ...), a few bytes at a time, and
// records what the client wrote. `k_pause` in the script is a moment of
// silence: wait_readable() reports no data once there (and the script goes
// on after it), so IDLE and other waits can be driven without a clock.

#include "imap_session.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace pecbatch::test {

inline constexpr std::string_view k_pause = "\x01pause\x01";

class ScriptedStream final : public receipts::imap::Stream {
public:
  explicit ScriptedStream(std::string server, std::size_t chunk = 7)
      : m_server(std::move(server)), m_chunk(chunk) {}

  core::Status write(std::string_view bytes) override {
    written.append(bytes);
    ++writes;
    return core::Ok{};
  }
  core::Result<std::size_t> read(char *buffer, std::size_t size) override {
    // A read that blocks through a silence: the bytes after it.
    while (at_pause()) {
      m_pos += k_pause.size();
    }
    if (m_pos >= m_server.size()) {
      return core::make_error(core::ErrorKind::transient, "closed by the script");
    }
    const std::size_t next_pause = std::min(m_server.find(k_pause, m_pos), m_server.size());
    const std::size_t n = std::min({size, m_chunk, next_pause - m_pos});
    std::memcpy(buffer, m_server.data() + m_pos, n);
    m_pos += n;
    return n;
  }
  core::Status start_tls() override {
    tls = true;
    return core::Ok{};
  }
  core::Result<bool> wait_readable(std::chrono::milliseconds timeout) override {
    waits.push_back(timeout);
    if (at_pause()) {
      m_pos += k_pause.size();
      written_at_pause.push_back(written.size());
      return false;
    }
    return true; // data, or the end of the script (read() reports it)
  }

  std::string written;
  unsigned writes = 0;
  bool tls = false;
  std::vector<std::chrono::milliseconds> waits; // every wait_readable()
  // How much the client had written at each silence that passed.
  std::vector<std::size_t> written_at_pause;

private:
  bool at_pause() const { return m_server.compare(m_pos, k_pause.size(), k_pause) == 0; }

  std::string m_server;
  std::size_t m_chunk;
  std::size_t m_pos = 0;
};

} // namespace pecbatch::test

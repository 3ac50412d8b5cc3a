#pragma once

#include <pecbatch/receipts/mailbox.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pecbatch::test {

// An in-memory mailbox: folders of messages by UID, a settable UIDVALIDITY
// per folder, scripted failures, and a record of what was asked (which
// UIDs were fetched whole, which only by their header fields, which
// searches, which moves, which waits for new mail). Moves and IDLE follow
// the server's capabilities as set in the state. Share the state between
// the test and the Mailbox objects the poller creates (make()).
class FakeMailbox {
public:
  struct Folder {
    std::uint64_t uidvalidity = 1;
    std::uint64_t next_uid = 1;
    std::map<std::uint64_t, std::string> messages;
  };
  // One call of Mailbox::move().
  struct Move {
    std::string folder;
    std::uint64_t uidvalidity = 0;
    std::vector<std::uint64_t> uids;
    std::string target;
  };
  struct State {
    std::map<std::string, Folder> folders{{"INBOX", Folder{}}};
    // How the server can move messages (none: neither MOVE nor UIDPLUS).
    receipts::MoveMethod move_method = receipts::MoveMethod::move;
    std::optional<core::Error> move_error;  // consumed on use
    std::vector<Move> moves;                // every call, in order (also method none)
    unsigned read_write_selects = 0;        // folders opened read-write (by move())
    // Called at each move, before the messages move (e.g. to check what is
    // archived and recorded at that moment).
    std::function<void(State &, const Move &)> on_move;
    // Whether the server offers IDLE; each wait_for_mail() is recorded and
    // answered by on_wait (default: nothing new within the wait).
    bool idle = false;
    std::vector<std::chrono::milliseconds> waits;
    std::optional<core::Error> wait_error; // consumed on use
    std::function<receipts::WaitResult(State &, std::chrono::milliseconds)> on_wait;
    std::map<std::uint64_t, core::Error> fetch_errors; // consumed on use
    std::optional<core::Error> select_error;
    std::vector<std::uint64_t> fetched;        // whole messages, in order
    std::vector<std::uint64_t> header_fetched; // header fields only
    std::vector<std::string> searches;         // "name: value"
    std::vector<std::string> selected;         // folders examined, in order
    unsigned selects = 0;
    std::uint64_t bytes = 0; // what a server would have sent, all connections
    // Called at each select (e.g. to deliver mail between passes).
    std::function<void(State &)> on_select;

    Folder &inbox() { return folders["INBOX"]; }
  };

  // Adds a message to `folder`; returns its UID.
  std::uint64_t add(std::string bytes, const std::string &folder = "INBOX") {
    auto &f = m_state->folders[folder];
    const auto uid = f.next_uid++;
    f.messages[uid] = std::move(bytes);
    return uid;
  }
  // A new UIDVALIDITY: every message gets a new UID (renumbered from 1).
  void renumber(std::uint64_t uidvalidity, const std::string &folder = "INBOX") {
    auto &f = m_state->folders[folder];
    std::map<std::uint64_t, std::string> renumbered;
    std::uint64_t uid = 1;
    for (auto &[old, bytes] : f.messages) {
      renumbered[uid++] = std::move(bytes);
    }
    f.messages = std::move(renumbered);
    f.next_uid = uid;
    f.uidvalidity = uidvalidity;
  }
  State &state() { return *m_state; }

  std::unique_ptr<receipts::Mailbox> make() { return std::make_unique<Impl>(m_state); }

  // The header section of `message` (up to the blank line), unfolded lines
  // kept as they are.
  static std::string_view header_section(std::string_view message) {
    for (const std::string_view end :
         {std::string_view("\r\n\r\n"), std::string_view("\n\n")}) {
      const auto at = message.find(end);
      if (at != std::string_view::npos) {
        return message.substr(0, at + end.size() / 2);
      }
    }
    return message;
  }

  // The fields of `message` named in receipts::k_candidate_header_fields,
  // with their continuation lines, then a blank line: what an IMAP server
  // returns for BODY.PEEK[HEADER.FIELDS (...)].
  static std::string candidate_fields(std::string_view message) {
    const std::string_view headers = header_section(message);
    std::string out;
    bool keep = false;
    std::size_t pos = 0;
    while (pos < headers.size()) {
      std::size_t end = headers.find('\n', pos);
      end = end == std::string_view::npos ? headers.size() : end + 1;
      const std::string_view line = headers.substr(pos, end - pos);
      pos = end;
      if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
        if (keep) {
          out += line;
        }
        continue;
      }
      const auto colon = line.find(':');
      keep = false;
      if (colon != std::string_view::npos) {
        for (const auto field : receipts::k_candidate_header_fields) {
          keep = keep || iequals(line.substr(0, colon), field);
        }
      }
      if (keep) {
        out += line;
      }
    }
    out += "\r\n";
    return out;
  }

private:
  static bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  }
  static std::string lower(std::string_view text) {
    std::string out(text);
    for (char &c : out) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  }

  class Impl final : public receipts::Mailbox {
  public:
    explicit Impl(std::shared_ptr<State> state) : m_state(std::move(state)) {}
    core::Result<receipts::MailboxStatus> select(const std::string &folder) override {
      ++m_state->selects;
      m_state->selected.push_back(folder);
      if (m_state->on_select) {
        m_state->on_select(*m_state);
      }
      if (m_state->select_error) {
        return *m_state->select_error;
      }
      const auto it = m_state->folders.find(folder);
      if (it == m_state->folders.end()) {
        return core::make_error(core::ErrorKind::config, "no folder " + folder);
      }
      m_folder = &it->second;
      m_folder_name = folder;
      count(100);
      return receipts::MailboxStatus{m_folder->uidvalidity, m_folder->next_uid,
                                     m_folder->messages.size()};
    }
    core::Result<std::vector<std::uint64_t>> uids_since(std::uint64_t last_uid) override {
      std::vector<std::uint64_t> out;
      for (const auto &[uid, bytes] : m_folder->messages) {
        if (uid > last_uid) {
          out.push_back(uid);
        }
      }
      count(20 + 6 * out.size());
      return out;
    }
    core::Result<std::vector<receipts::HeaderBlock>>
    fetch_headers(const std::vector<std::uint64_t> &uids) override {
      std::vector<receipts::HeaderBlock> out;
      for (const auto uid : uids) {
        const auto it = m_folder->messages.find(uid);
        if (it == m_folder->messages.end()) {
          continue;
        }
        m_state->header_fetched.push_back(uid);
        receipts::HeaderBlock block{uid, candidate_fields(it->second), it->second.size()};
        count(60 + block.headers.size());
        out.push_back(std::move(block));
      }
      return out;
    }
    core::Result<std::string> fetch(std::uint64_t uid) override {
      auto error = m_state->fetch_errors.find(uid);
      if (error != m_state->fetch_errors.end()) {
        auto e = error->second;
        m_state->fetch_errors.erase(error);
        return e;
      }
      auto it = m_folder->messages.find(uid);
      if (it == m_folder->messages.end()) {
        return core::make_error(core::ErrorKind::permanent, "no such message");
      }
      m_state->fetched.push_back(uid);
      count(60 + it->second.size());
      return it->second;
    }
    core::Result<std::vector<std::uint64_t>>
    search_header(const std::string &name, const std::string &value) override {
      m_state->searches.push_back(name + ": " + value);
      std::vector<std::uint64_t> out;
      for (const auto &[uid, bytes] : m_folder->messages) {
        const std::string headers = lower(header_section(bytes));
        const std::string needle = lower(name) + ":";
        for (std::size_t at = headers.find(needle); at != std::string::npos;
             at = headers.find(needle, at + 1)) {
          if (at != 0 && headers[at - 1] != '\n') {
            continue;
          }
          const auto end = headers.find('\n', at);
          if (headers.substr(at, end - at).find(lower(value)) != std::string::npos) {
            out.push_back(uid);
            break;
          }
        }
      }
      count(20 + 6 * out.size());
      return out;
    }
    core::Result<receipts::MoveResult> move(const std::string &folder,
                                            std::uint64_t uidvalidity,
                                            const std::vector<std::uint64_t> &uids,
                                            const std::string &target) override {
      const Move call{folder, uidvalidity, uids, target};
      m_state->moves.push_back(call);
      receipts::MoveResult result;
      result.method = m_state->move_method;
      if (result.method == receipts::MoveMethod::none) {
        return result;
      }
      ++m_state->read_write_selects;
      if (m_state->move_error) {
        auto e = *m_state->move_error;
        m_state->move_error.reset();
        return e;
      }
      auto source = m_state->folders.find(folder);
      if (source == m_state->folders.end()) {
        return core::make_error(core::ErrorKind::config, "no folder " + folder);
      }
      if (source->second.uidvalidity != uidvalidity) {
        return core::make_error(core::ErrorKind::permanent, "UIDVALIDITY changed");
      }
      if (m_state->on_move) {
        m_state->on_move(*m_state, call);
      }
      result.created = m_state->folders.count(target) == 0;
      auto &to = m_state->folders[target];
      auto &from = m_state->folders[folder];
      for (const auto uid : uids) {
        const auto it = from.messages.find(uid);
        if (it == from.messages.end()) {
          continue;
        }
        to.messages[to.next_uid++] = std::move(it->second);
        from.messages.erase(it);
        ++result.moved;
      }
      m_folder = &m_state->folders[m_folder_name];
      count(40);
      return result;
    }
    core::Result<receipts::WaitResult> wait_for_mail(std::chrono::milliseconds max_wait,
                                                     const std::function<bool()> &stop) override {
      if (!m_state->idle || m_folder == nullptr) {
        return receipts::WaitResult::unsupported;
      }
      m_state->waits.push_back(max_wait);
      if (m_state->wait_error) {
        auto e = *m_state->wait_error;
        m_state->wait_error.reset();
        return e;
      }
      if (stop && stop()) {
        return receipts::WaitResult::stopped;
      }
      count(30);
      return m_state->on_wait ? m_state->on_wait(*m_state, max_wait)
                              : receipts::WaitResult::timed_out;
    }
    std::uint64_t bytes_received() const override { return m_bytes; }

  private:
    void count(std::uint64_t n) {
      m_bytes += n;
      m_state->bytes += n;
    }

    std::shared_ptr<State> m_state;
    std::uint64_t m_bytes = 0;
    Folder *m_folder = nullptr;
    std::string m_folder_name;
  };

  std::shared_ptr<State> m_state = std::make_shared<State>();
};

} // namespace pecbatch::test

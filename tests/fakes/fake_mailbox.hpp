#pragma once

#include <pecbatch/receipts/mailbox.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pecbatch::test {

// An in-memory mailbox: folders of messages by UID, a settable UIDVALIDITY
// per folder, scripted failures, and a record of what was asked (which
// UIDs were fetched whole, which only by their header fields, which
// searches). Share the state between the test and the Mailbox objects the
// poller creates (make()).
class FakeMailbox {
public:
  struct Folder {
    std::uint64_t uidvalidity = 1;
    std::uint64_t next_uid = 1;
    std::map<std::uint64_t, std::string> messages;
  };
  struct State {
    std::map<std::string, Folder> folders{{"INBOX", Folder{}}};
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
    std::uint64_t bytes_received() const override { return m_bytes; }

  private:
    void count(std::uint64_t n) {
      m_bytes += n;
      m_state->bytes += n;
    }

    std::shared_ptr<State> m_state;
    std::uint64_t m_bytes = 0;
    Folder *m_folder = nullptr;
  };

  std::shared_ptr<State> m_state = std::make_shared<State>();
};

} // namespace pecbatch::test

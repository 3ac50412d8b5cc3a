#pragma once

#include <pecbatch/receipts/mailbox.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pecbatch::test {

// An in-memory mailbox: messages by UID, a settable UIDVALIDITY, scripted
// failures, and a record of what was asked. Share the state between the
// test and the Mailbox objects the poller creates (make()).
class FakeMailbox {
public:
  struct State {
    std::uint64_t uidvalidity = 1;
    std::uint64_t next_uid = 1;
    std::map<std::uint64_t, std::string> messages;
    std::map<std::uint64_t, core::Error> fetch_errors;  // consumed on use
    std::optional<core::Error> select_error;
    std::vector<std::uint64_t> fetched;
    unsigned selects = 0;
    // Called at each select (e.g. to deliver mail between passes).
    std::function<void(State&)> on_select;
  };

  // Adds a message; returns its UID.
  std::uint64_t add(std::string bytes) {
    const auto uid = m_state->next_uid++;
    m_state->messages[uid] = std::move(bytes);
    return uid;
  }
  // A new UIDVALIDITY: every message gets a new UID (renumbered from 1).
  void renumber(std::uint64_t uidvalidity) {
    std::map<std::uint64_t, std::string> renumbered;
    std::uint64_t uid = 1;
    for (auto& [old, bytes] : m_state->messages) {
      renumbered[uid++] = std::move(bytes);
    }
    m_state->messages = std::move(renumbered);
    m_state->next_uid = uid;
    m_state->uidvalidity = uidvalidity;
  }
  State& state() { return *m_state; }

  std::unique_ptr<receipts::Mailbox> make() { return std::make_unique<Impl>(m_state); }

private:
  class Impl final : public receipts::Mailbox {
  public:
    explicit Impl(std::shared_ptr<State> state) : m_state(std::move(state)) {}
    core::Result<receipts::MailboxStatus> select() override {
      ++m_state->selects;
      if (m_state->on_select) {
        m_state->on_select(*m_state);
      }
      if (m_state->select_error) {
        return *m_state->select_error;
      }
      return receipts::MailboxStatus{m_state->uidvalidity, m_state->next_uid};
    }
    core::Result<std::vector<std::uint64_t>> uids_since(std::uint64_t last_uid) override {
      std::vector<std::uint64_t> out;
      for (const auto& [uid, bytes] : m_state->messages) {
        if (uid > last_uid) {
          out.push_back(uid);
        }
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
      auto it = m_state->messages.find(uid);
      if (it == m_state->messages.end()) {
        return core::make_error(core::ErrorKind::permanent, "no such message");
      }
      m_state->fetched.push_back(uid);
      return it->second;
    }

  private:
    std::shared_ptr<State> m_state;
  };

  std::shared_ptr<State> m_state = std::make_shared<State>();
};

} // namespace pecbatch::test

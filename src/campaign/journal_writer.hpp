#pragma once

#include <pecbatch/journal/journal.hpp>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace pecbatch::campaign {

// Commits the send workers' transitions on a thread of its own, in the
// order they were submitted, grouping whatever arrives while a commit is
// under way into the next transaction (group commit): one fsync covers the
// `submitting` records of several workers, and a message's outcome rides in
// the same transaction as the next message's record. A worker submits its
// `submitting` record before MAIL FROM and waits for it only before the
// first byte of DATA, so the disk's sync overlaps the envelope's round
// trips (docs/sending.md, "Journal writes").
//
// The journal is used under `journal_mutex`, which other threads of the
// run hold for their own reads.
class JournalWriter {
public:
  using Ticket = std::uint64_t;

  // `on_error` is called once, on the writer's thread, with the first
  // failure; every later ticket fails with it too.
  JournalWriter(journal::Journal& journal, std::mutex& journal_mutex,
                std::function<void(const core::Error&)> on_error);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Queues a transition; returns its ticket.
  Ticket submit(journal::Change change);

  // Blocks until the transition of `ticket` (and every one before it) is
  // committed, durably if it was durable; the writer's error otherwise.
  core::Status wait(Ticket ticket);

  // Commits what is queued, stops the thread, returns the first error.
  core::Status finish();

  // Number of commits made so far (for tests and the debug log).
  std::uint64_t commits() const;

private:
  void loop();

  journal::Journal& m_journal;
  std::mutex& m_journal_mutex;
  std::function<void(const core::Error&)> m_on_error;

  mutable std::mutex m_mutex;
  std::condition_variable m_work;
  std::condition_variable m_done;
  std::vector<journal::Change> m_pending;
  Ticket m_submitted = 0;  // ticket of the last submitted change
  Ticket m_committed = 0;  // every ticket up to this one is committed
  std::uint64_t m_commits = 0;
  std::optional<core::Error> m_error;
  bool m_stop = false;
  std::thread m_thread;
};

} // namespace pecbatch::campaign

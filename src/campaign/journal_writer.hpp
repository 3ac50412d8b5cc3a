#pragma once

#include <pecbatch/journal/journal.hpp>

#include <chrono>
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
// trips (docs/sending.md, "Journal writes"). What is not durable (new
// rows, outcomes) waits up to `linger` for a durable record to share its
// transaction, so that a message's outcome and the next message's record
// make one commit; a wait() for it ends the linger at once.
//
// New rows enter the same way (add): the composing thread gives them their
// ids itself (Journal::next_row_id), so it hands their messages to the
// workers without waiting; the rows are inserted before any transition
// submitted after them, in the same commit or an earlier one.
//
// The journal is used under `journal_mutex`, which other threads of the
// run hold for their own reads.
class JournalWriter {
public:
  using Ticket = std::uint64_t;

  // `on_error` is called once, on the writer's thread, with the first
  // failure; every later ticket fails with it too.
  JournalWriter(journal::Journal& journal, std::mutex& journal_mutex,
                std::function<void(const core::Error&)> on_error,
                std::chrono::milliseconds linger = std::chrono::milliseconds(50));
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Queues a transition; returns its ticket.
  Ticket submit(journal::Change change);

  // Queues new rows (with their ids set, or not), entered at `at`; not
  // durable by themselves. Returns the ticket of the insert.
  Ticket add(std::vector<journal::NewRow> rows, core::TimePoint at);

  // Blocks until the transition of `ticket` (and every one before it) is
  // committed, durably if it was durable; the writer's error otherwise.
  // The writer commits at once what is queued while someone waits.
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
  std::chrono::milliseconds m_linger;

  mutable std::mutex m_mutex;
  std::condition_variable m_work;
  std::condition_variable m_done;
  std::vector<journal::Change> m_pending;
  std::vector<journal::NewRow> m_pending_rows;
  core::TimePoint m_rows_at{};  // when the first of m_pending_rows was added
  bool m_pending_durable = false;  // some change in m_pending is durable
  Ticket m_submitted = 0;  // ticket of the last submitted change
  Ticket m_committed = 0;  // every ticket up to this one is committed
  std::uint64_t m_commits = 0;
  std::optional<core::Error> m_error;
  bool m_stop = false;
  unsigned m_waiters = 0;  // threads in wait() for an uncommitted ticket
  std::thread m_thread;
};

} // namespace pecbatch::campaign

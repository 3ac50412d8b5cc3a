#include "journal_writer.hpp"

#include <iterator>
#include <utility>

namespace pecbatch::campaign {

JournalWriter::JournalWriter(journal::Journal& journal, std::mutex& journal_mutex,
                             std::function<void(const core::Error&)> on_error,
                             std::chrono::milliseconds linger)
    : m_journal(journal), m_journal_mutex(journal_mutex), m_on_error(std::move(on_error)),
      m_linger(linger), m_thread([this] { loop(); }) {}

JournalWriter::~JournalWriter() { (void)finish(); }

JournalWriter::Ticket JournalWriter::submit(journal::Change change) {
  std::lock_guard lock(m_mutex);
  // Wake the writer only when it has something new to do: work after an
  // empty queue, or a durable change that ends its linger. An outcome
  // added while it lingers would only wake it for nothing.
  const bool wake = (m_pending.empty() && m_pending_rows.empty()) ||
                    (change.info.durable && !m_pending_durable);
  m_pending_durable = m_pending_durable || change.info.durable;
  m_pending.push_back(std::move(change));
  if (wake) {
    m_work.notify_one();
  }
  return ++m_submitted;
}

JournalWriter::Ticket JournalWriter::add(std::vector<journal::NewRow> rows,
                                         core::TimePoint at) {
  std::lock_guard lock(m_mutex);
  const bool wake = m_pending.empty() && m_pending_rows.empty();
  if (m_pending_rows.empty()) {
    m_rows_at = at;
  }
  m_pending_rows.insert(m_pending_rows.end(), std::make_move_iterator(rows.begin()),
                        std::make_move_iterator(rows.end()));
  if (wake) {
    m_work.notify_one();
  }
  return ++m_submitted;
}

core::Status JournalWriter::wait(Ticket ticket) {
  std::unique_lock lock(m_mutex);
  if (m_committed < ticket && !m_error) {
    // Someone needs it now: no linger.
    ++m_waiters;
    m_work.notify_one();
    m_done.wait(lock, [&] { return m_committed >= ticket || m_error.has_value(); });
    --m_waiters;
  }
  if (m_committed >= ticket) {
    return core::Ok{};
  }
  return *m_error;
}

core::Status JournalWriter::finish() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
    m_work.notify_one();
  }
  if (m_thread.joinable()) {
    m_thread.join();
  }
  std::lock_guard lock(m_mutex);
  if (m_error) {
    return *m_error;
  }
  return core::Ok{};
}

std::uint64_t JournalWriter::commits() const {
  std::lock_guard lock(m_mutex);
  return m_commits;
}

void JournalWriter::loop() {
  std::vector<journal::Change> batch;
  std::vector<journal::NewRow> rows;
  core::TimePoint rows_at{};
  while (true) {
    Ticket last = 0;
    {
      std::unique_lock lock(m_mutex);
      m_work.wait(lock,
                  [&] { return !m_pending.empty() || !m_pending_rows.empty() || m_stop; });
      // Nothing durable and nobody waiting (new rows, say): give the next
      // record a moment to join them, one commit instead of two.
      m_work.wait_for(lock, m_linger, [&] {
        return m_pending_durable || m_waiters > 0 || m_stop || m_error.has_value();
      });
      if ((m_pending.empty() && m_pending_rows.empty()) || m_error) {
        // Stopping with nothing left, or failed: what is still queued is
        // never committed (its tickets fail with the error).
        m_pending.clear();
        m_pending_rows.clear();
        m_pending_durable = false;
        if (m_stop) {
          return;
        }
        continue;
      }
      batch.clear();
      batch.swap(m_pending);
      rows.clear();
      rows.swap(m_pending_rows);
      rows_at = m_rows_at;
      m_pending_durable = false;
      last = m_submitted;
    }
    core::Status status = core::Ok{};
    {
      std::lock_guard journal_lock(m_journal_mutex);
      status = m_journal.apply(rows, rows_at, batch);
    }
    std::optional<core::Error> failed;
    {
      std::lock_guard lock(m_mutex);
      if (status.ok()) {
        m_committed = last;
        ++m_commits;
      } else {
        m_error = status.error();
        failed = m_error;
      }
      m_done.notify_all();
    }
    if (failed && m_on_error) {
      m_on_error(*failed);
    }
  }
}

} // namespace pecbatch::campaign

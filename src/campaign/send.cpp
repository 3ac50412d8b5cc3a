#include <pecbatch/campaign/send.hpp>

#include "journal_writer.hpp"

#include <pecbatch/campaign/lock.hpp>
#include <pecbatch/campaign/messages.hpp>
#include <pecbatch/campaign/retry.hpp>
#include <pecbatch/core/address.hpp>
#include <pecbatch/core/file.hpp>
#include <pecbatch/core/hash.hpp>
#include <pecbatch/dispatch/throttle.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

namespace pecbatch::campaign {

using core::ErrorKind;
using core::make_error;
using journal::State;

namespace {

constexpr std::size_t k_plan_preview = 10;
constexpr std::size_t k_insert_batch = 500;
constexpr auto k_poll_interval = std::chrono::milliseconds(200);

bool is_pending(State state) { return state == State::queued || state == State::deferred; }

// The inputs whose change since the first send must be confirmed:
// (name shown to the user, SHA-256).
core::Result<std::vector<std::pair<std::string, std::string>>>
input_hashes(const config::Campaign& campaign) {
  std::vector<std::pair<std::string, std::string>> out;
  auto add_file = [&](const std::string& name,
                      const std::filesystem::path& path) -> core::Status {
    PB_TRY_ASSIGN(auto hash, core::sha256_file_hex(path));
    out.emplace_back(name, hash);
    return core::Ok{};
  };
  PB_TRY(add_file("contacts file " + campaign.contacts.file.string(), campaign.contacts.file));
  out.emplace_back("subject template", core::sha256_hex(campaign.message.subject));
  PB_TRY(add_file("text template " + campaign.message.text_template.string(),
                  campaign.message.text_template));
  if (campaign.message.html_template) {
    PB_TRY(add_file("HTML template " + campaign.message.html_template->string(),
                    *campaign.message.html_template));
  }
  for (const auto& path : campaign.message.attachments) {
    PB_TRY(add_file("shared attachment " + path.string(), path));
  }
  out.emplace_back("receipt type", compose::to_string(campaign.message.receipt));
  return out;
}

// Compares the inputs with those recorded at the first send. Returns the
// human list of differences (empty: unchanged, or nothing recorded yet).
core::Result<std::vector<std::string>>
changed_inputs(journal::Journal& journal,
               const std::vector<std::pair<std::string, std::string>>& now) {
  PB_TRY_ASSIGN(auto recorded, journal.meta_with_prefix("input:"));
  std::vector<std::string> changes;
  if (recorded.empty()) {
    return changes;
  }
  for (const auto& [name, hash] : now) {
    auto it = recorded.find("input:" + name);
    if (it == recorded.end()) {
      changes.push_back(name + " is new");
    } else if (it->second != hash) {
      changes.push_back(name + " changed");
    }
  }
  for (const auto& [key, hash] : recorded) {
    const std::string name = key.substr(6);
    const bool present = std::any_of(now.begin(), now.end(),
                                     [&](const auto& entry) { return entry.first == name; });
    if (!present) {
      changes.push_back(name + " is no longer used");
    }
  }
  return changes;
}

core::Status record_inputs(journal::Journal& journal,
                           const std::vector<std::pair<std::string, std::string>>& now) {
  PB_TRY_ASSIGN(auto recorded, journal.meta_with_prefix("input:"));
  for (const auto& [key, hash] : recorded) {
    PB_TRY(journal.set_meta(key, ""));
  }
  for (const auto& [name, hash] : now) {
    PB_TRY(journal.set_meta("input:" + name, hash));
  }
  return core::Ok{};
}

// A message ready to go, handed from the composing thread to a worker.
struct Job {
  journal::RowRecord record;
  compose::MessageSpec spec;
  std::string bytes;
  std::string sent_sha256;  // of `bytes`, computed by the composing thread
};

// The next job a worker takes as the current message's attempt starts, and,
// when the throttle allowed it, the ticket of its `submitting` record
// already on its way to the disk (docs/sending.md, "Journal writes").
struct Ahead {
  Job job;
  std::optional<std::uint64_t> ticket;
  core::TimePoint slot{};  // when its throttle slot was taken (with the ticket)
};

// Everything the workers share. The journal is written by the journal
// writer's thread; reads and the throttle are serialised by their own
// mutexes.
class Run {
public:
  Run(const config::Campaign& campaign, const SendDeps& deps, journal::Journal& journal,
      dispatch::Throttle& throttle, std::uint64_t total)
      : m_campaign(campaign), m_deps(deps), m_journal(journal), m_throttle(throttle),
        m_retry{campaign.send.max_attempts,
                std::chrono::seconds(campaign.send.retry_base_seconds),
                std::chrono::seconds(campaign.send.retry_max_seconds)},
        m_rng(std::random_device{}()) {
    m_progress.total = total;
    m_progress.remaining = total;
    m_started = deps.clock->now();
  }

  bool stopping() const {
    return m_fatal_stop.load() || (m_deps.stop != nullptr && m_deps.stop->load());
  }

  // Queue of composed messages between the composing thread and workers.
  // It holds two of the composer's batches (below), so that the composer
  // writes and flushes the next batch while the workers send this one.
  void set_queue_capacity(std::size_t jobs, std::uint64_t bytes) {
    m_queue_jobs = jobs;
    m_queue_max_bytes = bytes;
  }
  void push(Job job) {
    std::unique_lock lock(m_queue_mutex);
    // A signal sets the stop flag without notifying: poll as well.
    while (!m_queue_space.wait_for(lock, k_poll_interval, [&] {
      return m_queue.empty() ||
             (m_queue.size() < m_queue_jobs && m_queue_bytes < m_queue_max_bytes) ||
             stopping();
    })) {
    }
    if (stopping()) {
      return;
    }
    m_queue_bytes += job.bytes.size();
    m_queue.push_back(std::move(job));
    m_queue_ready.notify_one();
  }
  void close_queue() {
    std::lock_guard lock(m_queue_mutex);
    m_closed = true;
    m_queue_ready.notify_all();
  }
  void wake_all() {
    std::lock_guard lock(m_queue_mutex);
    m_queue_ready.notify_all();
    m_queue_space.notify_all();
  }

  void worker() {
    auto transport = m_deps.transport();
    std::optional<Ahead> ahead;
    while (true) {
      if (ahead) {
        Ahead next = std::move(*ahead);
        ahead.reset();
        process(*transport, next.job, next.ticket, next.slot, ahead);
        continue;
      }
      std::optional<Job> job;
      {
        std::unique_lock lock(m_queue_mutex);
        m_queue_ready.wait_for(lock, k_poll_interval,
                               [&] { return !m_queue.empty() || m_closed || stopping(); });
        if (stopping()) {
          break;
        }
        if (m_queue.empty()) {
          if (m_closed) {
            break;
          }
          continue;
        }
        job = take_front(lock);
      }
      process(*transport, *job, std::nullopt, {}, ahead);
    }
    transport->close();
  }

  // The latest attempt of the contacts row whose first Message-ID is
  // `message_id` (a retried row is sent under its newest one).
  core::Result<std::optional<journal::RowRecord>> find(const std::string& message_id) {
    std::lock_guard lock(m_journal_mutex);
    return m_journal.find_current(message_id);
  }

  // New rows, their ids set (Journal::next_row_id): inserted by the journal
  // writer before any transition submitted after this call, so their jobs
  // can go to the workers at once.
  void add_rows(std::vector<journal::NewRow> rows) {
    m_writer.add(std::move(rows), m_deps.clock->now());
  }
  core::Status update_pending_row(std::int64_t id, std::uint64_t row,
                                  const std::string& content) {
    std::lock_guard lock(m_journal_mutex);
    return m_journal.update_pending_row(id, row, content);
  }

  SendProgress progress() {
    std::lock_guard lock(m_progress_mutex);
    return m_progress;
  }
  std::optional<core::Error> fatal() {
    std::lock_guard lock(m_progress_mutex);
    return m_fatal;
  }
  // After the workers: commits what they queued and stops the writer.
  core::Status finish_journal() { return m_writer.finish(); }

  std::optional<core::Error> journal_error() {
    std::lock_guard lock(m_progress_mutex);
    return m_journal_error;
  }

private:
  // Waits `duration`, waking early when the run is stopping.
  void nap(std::chrono::milliseconds duration) {
    const auto until = m_deps.clock->now() + duration;
    while (!stopping()) {
      const auto now = m_deps.clock->now();
      if (now >= until) {
        return;
      }
      m_deps.clock->sleep_for(std::min<std::chrono::milliseconds>(
          k_poll_interval,
          std::chrono::duration_cast<std::chrono::milliseconds>(until - now)));
    }
  }

  // The first queued job (the queue's mutex held).
  Job take_front(std::unique_lock<std::mutex>&) {
    Job job = std::move(m_queue.front());
    m_queue.pop_front();
    m_queue_bytes -= job.bytes.size();
    // The composer refills in bulk: woken once half the queue is free, not
    // for every job taken (a wake-up per message costs both threads).
    if (m_queue.size() <= m_queue_jobs / 2 && m_queue_bytes <= m_queue_max_bytes / 2) {
      m_queue_space.notify_one();
    }
    return job;
  }

  std::optional<Job> try_pop() {
    std::unique_lock lock(m_queue_mutex);
    if (m_queue.empty() || stopping()) {
      return std::nullopt;
    }
    return take_front(lock);
  }

  // A slot from the throttle if one is free now, without waiting: the time
  // it was recorded at.
  std::optional<core::TimePoint> try_take_slot() {
    std::lock_guard lock(m_throttle_mutex);
    const auto slot = m_throttle.next_slot();
    const auto now = m_deps.clock->now();
    if (slot > now) {
      return std::nullopt;
    }
    m_throttle.record(now);
    return now;
  }

  // A slot taken ahead (at `taken`) now that its message really starts:
  // the provider counts it from now, and so must the throttle, or a slow
  // exchange before it would let the next minute hold one too many.
  core::TimePoint slot_starts_now(core::TimePoint taken) {
    std::lock_guard lock(m_throttle_mutex);
    const auto now = m_deps.clock->now();
    m_throttle.retime(taken, now);
    return now;
  }

  // The `submitting` record of an attempt: made before MAIL FROM (or while
  // the previous message's data goes out) and committed durably while the
  // envelope is on its way; the first byte of DATA waits for it.
  JournalWriter::Ticket start_attempt(const Job& job, unsigned attempt) {
    journal::Transition start;
    start.new_attempt = true;
    start.sent_sha256 = job.sent_sha256;
    start.detail = "attempt " + std::to_string(attempt);
    return move(job.record.id, State::submitting, std::move(start));
  }

  // As one message's attempt starts, takes the next job and, if the
  // throttle has a slot free now, starts its `submitting` commit, so that
  // the disk's sync has this whole message's exchange to finish before
  // that next message's DATA comes.
  void look_ahead(std::optional<Ahead>& ahead) {
    if (ahead) {
      return;
    }
    auto job = try_pop();
    if (!job) {
      return;
    }
    ahead.emplace(Ahead{std::move(*job), std::nullopt, {}});
    if (const auto slot = try_take_slot()) {
      ahead->slot = *slot;
      ahead->ticket = start_attempt(ahead->job, ahead->job.record.attempts + 1);
    }
  }

  // Gives back a look-ahead record whose message will not follow at once
  // (the current one failed, or the run stops): nothing of it was sent.
  void withdraw(std::optional<Ahead>& ahead, const char* why) {
    if (!ahead || !ahead->ticket) {
      return;
    }
    journal::Transition back;
    back.durable = false;
    back.before_data = true;
    back.detail = why;
    move(ahead->job.record.id, State::queued, std::move(back));
    ++ahead->job.record.attempts;  // the journal counted that attempt
    ahead->ticket.reset();
  }

  // Takes a slot from the throttle, waiting for it; false if stopping.
  bool take_slot() {
    while (!stopping()) {
      std::chrono::milliseconds wait{0};
      {
        std::lock_guard lock(m_throttle_mutex);
        // next_slot() reads the clock itself: read `now` after it.
        const auto slot = m_throttle.next_slot();
        const auto now = m_deps.clock->now();
        if (slot <= now) {
          m_throttle.record(now);
          return true;
        }
        wait = std::chrono::duration_cast<std::chrono::milliseconds>(slot - now) +
               std::chrono::milliseconds(1);
      }
      nap(std::min<std::chrono::milliseconds>(wait, k_poll_interval));
    }
    return false;
  }

  // Queues a transition for the journal writer; durable ones are waited
  // for with m_writer.wait(ticket) where it matters.
  JournalWriter::Ticket move(std::int64_t id, State to, journal::Transition info) {
    info.at = m_deps.clock->now();
    return m_writer.submit(journal::Change{id, to, std::move(info)});
  }

  // A journal failure makes it unsafe to go on: stop everything.
  void journal_failed(const core::Error& error) {
    std::lock_guard lock(m_progress_mutex);
    if (!m_journal_error) {
      m_journal_error = error;
    }
    m_fatal_stop = true;
  }

  void finish_row(std::uint64_t SendProgress::*counter) {
    SendProgress snapshot;
    {
      std::lock_guard lock(m_progress_mutex);
      ++(m_progress.*counter);
      --m_progress.remaining;
      {
        std::lock_guard throttle_lock(m_throttle_mutex);
        m_progress.rate_per_minute = m_throttle.effective_per_minute();
      }
      // The observed rate: rows finished in the last minute, over that
      // minute or over the time since the run started if shorter.
      const auto now = m_deps.clock->now();
      m_finished.push_back(now);
      while (now - m_finished.front() > std::chrono::minutes(1)) {
        m_finished.pop_front();
      }
      const auto span = std::min<core::Duration>(
          std::chrono::duration_cast<core::Duration>(now - m_started), std::chrono::minutes(1));
      if (span >= std::chrono::seconds(1)) {
        m_progress.observed_per_minute =
            static_cast<double>(m_finished.size()) * 60'000.0 / static_cast<double>(span.count());
      }
      config::Limits limits = m_campaign.limits;
      limits.rate_per_minute = m_progress.rate_per_minute;
      m_progress.eta = estimate_duration(m_progress.remaining + 1, limits);
      if (m_progress.observed_per_minute > 0) {
        const auto observed = std::chrono::seconds(static_cast<std::int64_t>(
            60.0 * static_cast<double>(m_progress.remaining) / m_progress.observed_per_minute +
            0.5));
        m_progress.eta = std::max(m_progress.eta, observed);
      }
      snapshot = m_progress;
    }
    if (m_deps.observer) {
      m_deps.observer->on_progress(snapshot);
    }
  }

  void notice(const std::string& text) {
    if (m_deps.observer) {
      m_deps.observer->on_notice(text);
    }
  }

  // Sends one job, retrying transient failures. `committed` is the ticket
  // of its `submitting` record when the look-ahead already made it (the
  // throttle slot taken then, at `slot_taken`). May leave the next job in
  // `ahead`.
  void process(dispatch::Transport& transport, Job& job,
               std::optional<JournalWriter::Ticket> committed, core::TimePoint slot_taken,
               std::optional<Ahead>& ahead) {
    const auto& record = job.record;
    unsigned attempt_in_run = 0;

    while (!stopping()) {
      JournalWriter::Ticket ticket = 0;
      // For a record made ahead: when its message really starts (the
      // journal's submission time is corrected with the outcome).
      std::optional<core::TimePoint> started_at;
      if (committed) {
        ticket = *committed;
        committed.reset();
        started_at = slot_starts_now(slot_taken);
        ++attempt_in_run;
      } else {
        if (!take_slot()) {
          break;
        }
        ++attempt_in_run;
        // Outcomes are queued without waiting: each shares the commit of the
        // next record (up to 50 ms later), survives a killed process once
        // committed and a power loss from the next durable commit on.
        // Losing one is safe: the row stays `submitting`, hence
        // `uncertain`, never re-sent. Waiting for it before the next message
        // cost 15-30% of the rate at concurrency 1 (docs/journal.md, "Group
        // commit").
        ticket = start_attempt(job, record.attempts + attempt_in_run);
      }
      const unsigned attempt = record.attempts + attempt_in_run;

      bool data_started = false;
      auto before_data = [&]() -> core::Status {
        // The exact bytes are already on disk (staged and flushed by the
        // composing thread before the job was queued); the row is durably
        // `submitting` before the first byte leaves.
        PB_TRY(m_writer.wait(ticket));
        data_started = true;
        return core::Ok{};
      };

      dispatch::Envelope envelope;
      envelope.mail_from = m_campaign.account.address;
      envelope.rcpt_to = record.address;
      envelope.message_id = record.message_id;
      envelope.data = &job.bytes;
      // Until this message's DATA, a crash leaves both rows `uncertain`
      // with nothing of the next one sent (docs/sending.md).
      look_ahead(ahead);
      const auto started = std::chrono::steady_clock::now();
      const auto result = transport.send(envelope, before_data);
      const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - started);

      if (m_deps.observer) {
        m_deps.observer->on_attempt(AttemptRecord{record.row, record.address,
                                                  record.message_id, attempt,
                                                  result.outcome, result.reply,
                                                  result.detail, elapsed});
      }

      journal::Transition info;
      info.durable = false;
      info.before_data = !data_started;
      if (data_started) {
        info.started_at = started_at;
      }
      info.smtp_code = result.reply.code;
      info.enhanced = result.reply.enhanced;
      info.text = result.reply.text;
      info.detail = std::string(dispatch::to_string(result.outcome)) +
                    (result.detail.empty() ? "" : ": " + result.detail);

      using dispatch::Outcome;
      switch (result.outcome) {
      case Outcome::accepted:
        move(record.id, State::submitted, std::move(info));
        finish_row(&SendProgress::submitted);
        return;
      case Outcome::permanent:
        move(record.id, State::failed, std::move(info));
        finish_row(&SendProgress::failed);
        return;
      case Outcome::unknown:
        if (!data_started) {
          // Nothing of the message left: not uncertain after all.
          break;
        }
        withdraw(ahead, "not sent: the connection failed before it");
        move(record.id, State::uncertain, std::move(info));
        finish_row(&SendProgress::uncertain);
        return;
      case Outcome::auth:
      case Outcome::tls: {
        // Stop everything at once: retrying locks PEC accounts.
        withdraw(ahead, "not sent: the run stopped");
        move(record.id, data_started ? State::deferred : State::queued, std::move(info));
        std::lock_guard lock(m_progress_mutex);
        if (!m_fatal) {
          m_fatal = make_error(result.outcome == Outcome::auth ? ErrorKind::auth
                                                               : ErrorKind::tls,
                               result.reply.code != 0
                                   ? std::to_string(result.reply.code) + " " +
                                         result.reply.text
                                   : result.detail);
          m_fatal->smtp_code = result.reply.code;
          m_fatal->enhanced_code = result.reply.enhanced;
        }
        m_fatal_stop = true;
        return;
      }
      case Outcome::throttled: {
        unsigned rate = 0;
        {
          std::lock_guard lock(m_throttle_mutex);
          m_throttle.slow_down();
          rate = m_throttle.effective_per_minute();
        }
        notice("provider throttling (" + std::to_string(result.reply.code) + " " +
               result.reply.text + "): rate lowered to " + std::to_string(rate) +
               "/min");
        break;
      }
      case Outcome::transient:
        break;
      }

      // Transient: the provider does not have the message. The next job
      // waits for this one's retries.
      withdraw(ahead, "not sent: the message before it is being retried");
      const bool exhausted = attempt_in_run >= m_retry.max_attempts;
      move(record.id, exhausted ? State::deferred : State::queued, std::move(info));
      if (exhausted) {
        finish_row(&SendProgress::deferred);
        return;
      }
      double r = 0;
      {
        std::lock_guard lock(m_progress_mutex);
        r = std::uniform_real_distribution<double>(0.0, 1.0)(m_rng);
      }
      nap(m_retry.delay_after(attempt_in_run, r));
    }
    if (committed) {
      // The run stops before this job's turn: its record, made by the
      // look-ahead, goes back, nothing of it was sent.
      journal::Transition back;
      back.durable = false;
      back.before_data = true;
      back.detail = "not sent: the run stopped";
      move(record.id, State::queued, std::move(back));
    }
  }

  const config::Campaign& m_campaign;
  const SendDeps& m_deps;
  journal::Journal& m_journal;
  dispatch::Throttle& m_throttle;
  dispatch::RetryPolicy m_retry;
  std::mt19937_64 m_rng;

  std::mutex m_journal_mutex;
  std::mutex m_throttle_mutex;
  std::mutex m_progress_mutex;
  SendProgress m_progress;
  core::TimePoint m_started{};               // for the observed rate
  std::deque<core::TimePoint> m_finished;    // rows finished in the last minute
  std::optional<core::Error> m_fatal;
  std::optional<core::Error> m_journal_error;
  std::atomic<bool> m_fatal_stop{false};

  std::mutex m_queue_mutex;
  std::condition_variable m_queue_ready;
  std::condition_variable m_queue_space;
  std::deque<Job> m_queue;
  std::size_t m_queue_jobs = 2;
  std::uint64_t m_queue_max_bytes = 0;
  std::uint64_t m_queue_bytes = 0;
  bool m_closed = false;

  // Last: its thread calls journal_failed, which uses the members above.
  JournalWriter m_writer{m_journal, m_journal_mutex,
                         [this](const core::Error& error) { journal_failed(error); }};
};

} // namespace

std::filesystem::path journal_path(const config::Campaign& campaign) {
  return campaign.output_dir / "journal.sqlite";
}

std::filesystem::path evidence_dir(const config::Campaign& campaign,
                                   const std::string& message_id) {
  return campaign.output_dir / "evidence" / message_id;
}

dispatch::SmtpSettings smtp_settings(const config::Campaign& campaign,
                                     std::string password) {
  dispatch::SmtpSettings settings;
  const auto& account = campaign.account;
  settings.host = account.smtp_host;
  settings.port = account.smtp_port;
  settings.security = account.smtp_security == config::Security::starttls
                          ? dispatch::Security::starttls
                          : dispatch::Security::tls;
  settings.username = account.username;
  settings.password = std::move(password);
  settings.ca_file = account.ca_file;
  settings.helo_name = campaign.send.helo_name;
  settings.connect_timeout = std::chrono::seconds(campaign.send.connect_timeout_seconds);
  settings.transfer_timeout = std::chrono::seconds(campaign.send.timeout_seconds);
  settings.max_messages_per_connection = campaign.send.messages_per_connection;
  return settings;
}

std::string content_sha256(const compose::MessageSpec& spec) {
  return compose::content_digest(spec);
}

core::Result<bool> same_content(const std::string& recorded,
                                const compose::MessageSpec& spec) {
  if (recorded.starts_with("spec-sha256:")) {
    return recorded == content_sha256(spec);
  }
  PB_TRY_ASSIGN(const auto bytes, compose::compose_message(spec));
  return recorded == legacy_content_sha256(bytes);
}

std::string legacy_content_sha256(const std::string& bytes) {
  // The Date header is the only part that changes from run to run.
  core::Sha256 hasher;
  std::size_t start = 0;
  const auto header_end = bytes.find("\r\n\r\n");
  std::size_t pos = bytes.rfind("\r\nDate: ", header_end);
  if (bytes.compare(0, 6, "Date: ") == 0) {
    pos = 0;
  } else if (pos != std::string::npos) {
    pos += 2;
  }
  if (pos != std::string::npos && pos < header_end) {
    const auto line_end = bytes.find("\r\n", pos);
    hasher.update(std::string_view(bytes).substr(start, pos));
    hasher.update(std::string_view(bytes).substr(line_end + 2));
  } else {
    hasher.update(bytes);
  }
  return hasher.finish_hex();
}

core::Result<SendReport> send_campaign(const config::Campaign& campaign,
                                       const SendOptions& options,
                                       const SendDeps& deps) {
  SendReport report;
  const std::time_t date = options.date != 0 ? options.date : std::time(nullptr);
  const bool writing = options.execute && !options.dry_run;

  // 1. One run at a time; pick up after an interrupted one. A journal that
  // does not exist yet is created only once the campaign proved valid.
  std::optional<CampaignLock> lock;
  std::optional<journal::Journal> journal;
  const auto journal_file = journal_path(campaign);
  auto open_journal = [&]() -> core::Status {
    if (writing) {
      PB_TRY_ASSIGN(auto taken, CampaignLock::acquire(campaign.output_dir));
      lock.emplace(std::move(taken));
      PB_TRY_ASSIGN(auto opened, journal::Journal::open(journal_file, campaign.id));
      journal.emplace(std::move(opened));
      PB_TRY_ASSIGN(report.recovery, journal->recover(deps.clock->now()));
    } else {
      PB_TRY_ASSIGN(auto opened, journal::Journal::open(journal_file, campaign.id));
      journal.emplace(std::move(opened));
    }
    return core::Ok{};
  };
  const bool journal_existed = std::filesystem::exists(journal_file);
  if (journal_existed) {
    PB_TRY(open_journal());
  }

  // 2. Validate every row and plan in the same pass (each message is
  // checked and measured here, its bytes made only when it is sent): which
  // rows are pending, which unsent messages changed since they were
  // planned. Nothing is written here; new rows enter the journal as
  // `queued`, with their Message-ID, in the send pass, before their
  // message is handed to a worker.
  std::uint64_t changed_rows = 0;
  std::uint64_t selected = 0;
  std::uint64_t planned_new = 0;  // rows the journal does not know yet
  auto plan_sink = [&](const contacts::Contact& contact, const compose::MessageSpec& spec,
                       const std::string&) -> core::Status {
    // `spec` carries the first generation's Message-ID; a row sent again
    // (pecbatch retry / resolve) is planned as its latest attempt, under
    // that attempt's Message-ID (docs/sending.md, "Sending a row again").
    std::optional<journal::RowRecord> record;
    if (journal) {
      PB_TRY_ASSIGN(record, journal->find_current(spec.message_id));
    }
    if (record && !is_pending(record->state)) {
      return core::Ok{};  // submitted or settled: never sent again
    }
    if (!record) {
      ++planned_new;
    }
    // A retry's message is the row's under the attempt's Message-ID.
    std::optional<compose::MessageSpec> retried;
    if (record && record->message_id != spec.message_id) {
      retried = spec;
      retried->message_id = record->message_id;
    }
    const compose::MessageSpec& planned = retried ? *retried : spec;
    // An empty content hash: not planned yet (a retry, or a row entered by a
    // run that stopped before reaching it); its first plan fixes it.
    if (record && !record->content_sha256.empty()) {
      PB_TRY_ASSIGN(const bool same, same_content(record->content_sha256, planned));
      if (!same) {
        ++changed_rows;
      }
    }
    if (options.limit && selected >= *options.limit) {
      return core::Ok{};
    }
    ++selected;
    if (report.first_pending.size() < k_plan_preview) {
      PB_TRY_ASSIGN(const auto size, compose::composed_size(planned));
      report.first_pending.push_back(
          {contact.row, contact.address, planned.message_id, size});
    }
    return core::Ok{};
  };
  ValidateOptions plan;
  plan.date = date;
  plan.rows = options.rows;
  plan.sink = plan_sink;
  plan.bytes = false;  // checked and measured: the send pass makes the bytes
  PB_TRY_ASSIGN(report.validation, validate_campaign(campaign, plan));
  if (!report.validation.errors.empty()) {
    return report;
  }
  // True when the journal held no row when this run took the lock: every
  // row is then new, and the send pass need not look any up.
  bool empty_journal = false;
  if (writing && !journal_existed) {
    PB_TRY(open_journal());
    PB_TRY_ASSIGN(const auto rows_now, journal->counts());
    empty_journal = rows_now.empty();
    if (!rows_now.empty()) {
      // Another run created the journal between our check and our lock:
      // plan again, now under the lock.
      changed_rows = 0;
      selected = 0;
      planned_new = 0;
      report.first_pending.clear();
      PB_TRY(validate_campaign(campaign, plan));
    }
  }
  if (journal) {
    PB_TRY_ASSIGN(report.states_before, journal->counts());
  }

  // 3. Inputs changed since the first send?
  PB_TRY_ASSIGN(const auto inputs, input_hashes(campaign));
  if (journal) {
    PB_TRY_ASSIGN(report.changes, changed_inputs(*journal, inputs));
  }
  report.pending = selected;
  report.estimated = estimate_duration(selected, campaign.limits);
  if (changed_rows > 0) {
    report.changes.push_back(std::to_string(changed_rows) +
                             " unsent messages differ from the ones planned at the "
                             "first send (fields, templates or attachments)");
  }
  if (!report.changes.empty() && !options.accept_changes) {
    report.refused_changes = true;
    return report;
  }
  if (!writing) {
    return report;
  }
  PB_TRY_ASSIGN(auto recorded, journal->meta_with_prefix("input:"));
  if (recorded.empty() || !report.changes.empty()) {
    PB_TRY(record_inputs(*journal, inputs));
  }

  // 5. Send: one thread composes (in contacts order), workers send.
  const auto now = deps.clock->now();
  PB_TRY_ASSIGN(auto history, journal->submissions_since(now - std::chrono::hours(24)));
  dispatch::Throttle throttle(
      dispatch::Rates{campaign.limits.rate_per_minute, campaign.limits.rate_per_hour,
                      campaign.limits.rate_per_day},
      *deps.clock, std::chrono::seconds(campaign.send.quiet_period_seconds));
  throttle.seed(history);

  // Ids for the rows this run enters: only this process writes the journal
  // (the lock is held), so the ones after the largest are free.
  PB_TRY_ASSIGN(std::int64_t next_id, journal->next_row_id());

  Run run(campaign, deps, *journal, throttle, selected);
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < campaign.send.concurrency; ++i) {
    workers.emplace_back([&run] { run.worker(); });
  }
  std::uint64_t handed_out = 0;
  // The exact bytes of each message are written to its evidence directory
  // before a worker gets it, in batches made durable by one flush of the
  // file system: the disk wait stays off the SMTP path, and no byte leaves
  // before its sent.eml survives a power loss. Rows new to the journal are
  // entered (`queued`) by the journal writer before any record of theirs,
  // under ids this thread gives them, so their batch is handed out without
  // waiting; they are durable with the first `submitting` record after
  // them.
  std::vector<Job> staged;
  std::vector<journal::NewRow> new_rows;
  std::uint64_t added = 0;
  std::uint64_t staged_bytes = 0;
  // Each flush makes the disk busy for a while (about 1 ms for 16 messages
  // of 20 KB here), and the journal's sync made meanwhile waits for it:
  // fewer, larger batches stall the workers less often (docs/performance.md).
  const std::size_t batch_jobs = std::max<std::size_t>(64, 4 * campaign.send.concurrency);
  constexpr std::uint64_t k_batch_bytes = 16u << 20;
  run.set_queue_capacity(2 * batch_jobs, 2 * k_batch_bytes);
  auto flush_staged = [&]() -> core::Status {
    if (!new_rows.empty()) {
      added += new_rows.size();
      run.add_rows(std::move(new_rows));
      new_rows.clear();
    }
    if (staged.empty()) {
      return core::Ok{};
    }
    PB_TRY(core::sync_filesystem(campaign.output_dir));
    for (auto& job : staged) {
      run.push(std::move(job));
    }
    staged.clear();
    staged_bytes = 0;
    return core::Ok{};
  };
  auto stage = [&](Job job) -> core::Status {
    const auto evidence = evidence_dir(campaign, job.record.message_id);
    std::error_code ec;
    std::filesystem::create_directories(evidence, ec);
    if (ec) {
      return make_error(ErrorKind::io, evidence.string() + ": " + ec.message());
    }
    // Written once, read back only by `evidence` and reports: large ones
    // bypass the page cache (docs/performance.md, "2 MB").
    PB_TRY(core::write_file_atomic(evidence / "sent.eml", job.bytes,
                                   core::Flush::later_uncached));
    job.sent_sha256 = core::sha256_hex(job.bytes);
    staged_bytes += job.bytes.size();
    staged.push_back(std::move(job));
    if (staged.size() >= batch_jobs || staged_bytes >= k_batch_bytes) {
      PB_TRY(flush_staged());
    }
    return core::Ok{};
  };
  const auto limit_reached = [&] { return options.limit && handed_out >= *options.limit; };
  ValidateOptions send_pass;
  send_pass.date = date;
  send_pass.rows = options.rows;
  send_pass.keep_going = [&] {
    // Past --limit the pass goes on only to enter the remaining new rows.
    return !run.stopping() &&
           !(limit_reached() && added + new_rows.size() >= planned_new);
  };
  send_pass.sink = [&](const contacts::Contact& contact, compose::MessageSpec& spec,
                       std::string& bytes) -> core::Status {
    // A first run (the lock held, the journal empty when taken) only meets
    // rows it enters itself, once each: nothing to look up.
    std::optional<journal::RowRecord> record;
    if (!empty_journal) {
      PB_TRY_ASSIGN(record, run.find(spec.message_id));
    }
    if (!record) {
      new_rows.push_back(
          {contact.row, contact.address, spec.message_id, content_sha256(spec), next_id++});
      if (limit_reached()) {
        return new_rows.size() >= k_insert_batch ? flush_staged() : core::Ok{};
      }
      ++handed_out;
      journal::RowRecord fresh;  // as the journal writer will enter it
      fresh.id = new_rows.back().id;
      fresh.row = contact.row;
      fresh.address = contact.address;
      fresh.message_id = spec.message_id;
      return stage(Job{std::move(fresh), std::move(spec), std::move(bytes), {}});
    }
    if (!is_pending(record->state)) {
      return core::Ok{};
    }
    std::optional<AttemptMessage> retried;
    if (record->message_id != spec.message_id) {
      // A retry: its own bytes, under its own Message-ID.
      PB_TRY_ASSIGN(retried, compose_attempt(spec, record->message_id));
    }
    const bool first_plan = record->content_sha256.empty();
    if (first_plan || options.accept_changes) {
      // A row's message is fixed at its first plan (a retry's, or a row
      // entered unplanned by a stopped run); accepted changes replace the
      // planned content (and a legacy hash by a spec digest).
      const std::string content = content_sha256(retried ? retried->spec : spec);
      if (first_plan || content != record->content_sha256) {
        PB_TRY(run.update_pending_row(record->id, contact.row, content));
      }
    }
    if (limit_reached()) {
      return core::Ok{};
    }
    ++handed_out;
    if (retried) {
      return stage(
          Job{std::move(*record), std::move(retried->spec), std::move(retried->bytes), {}});
    }
    return stage(Job{std::move(*record), std::move(spec), std::move(bytes), {}});
  };
  auto composed = validate_campaign(campaign, send_pass);
  if (composed.ok()) {
    if (auto flushed = flush_staged(); !flushed.ok()) {
      composed = std::move(flushed).error();
    }
  }
  run.close_queue();
  for (auto& worker : workers) {
    worker.join();
  }
  (void)run.finish_journal();  // a failure is in run.journal_error()
  // A run stopped early (signal, authentication or TLS failure) still
  // enters the selected rows it did not reach, unplanned (no content hash
  // yet, nothing composed): `status` and reports show the whole campaign,
  // and the next run plans and sends them.
  if (composed.ok() && !run.journal_error() && added < planned_new) {
    const std::string domain(core::mailbox_domain(campaign.account.address));
    std::vector<journal::NewRow> rest;
    ValidateOptions enter;
    enter.rows = options.rows;
    enter.compose = false;
    enter.row_sink = [&](const contacts::Contact& contact) -> core::Status {
      rest.push_back({contact.row, contact.address,
                      compose::make_message_id(campaign.id, contact.address, domain), ""});
      if (rest.size() >= k_insert_batch) {
        PB_TRY(journal->add_rows(rest, deps.clock->now()));
        rest.clear();
      }
      return core::Ok{};
    };
    auto entered = validate_campaign(campaign, enter);
    if (entered.ok() && !rest.empty()) {
      if (auto added_rest = journal->add_rows(rest, deps.clock->now()); !added_rest.ok()) {
        entered = std::move(added_rest).error();
      }
    }
    if (!entered.ok()) {
      composed = std::move(entered).error();
    }
  }
  // Makes the last outcomes durable too, not only the `submitting` records.
  const auto synced = journal->sync();
  if (auto error = run.journal_error()) {
    return *error;
  }
  if (!composed.ok()) {
    return std::move(composed).error();
  }
  PB_TRY(synced);
  report.progress = run.progress();
  report.stopped = run.fatal();
  report.interrupted = deps.stop != nullptr && deps.stop->load();
  PB_TRY_ASSIGN(report.states_after, journal->counts());
  return report;
}

} // namespace pecbatch::campaign

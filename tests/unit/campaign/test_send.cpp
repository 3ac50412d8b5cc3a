// The send run (src/campaign/send.cpp) against a FakeTransport and the real
// journal: the look-ahead (while one message's data goes out, the worker
// makes the next row's `submitting` record, and gives it back, queued and
// unsent, when that row will not follow at once), and the content hashes
// that make a later run refuse unsent messages that changed.

#include <pecbatch/campaign/send.hpp>

#include "fakes/fake_clock.hpp"
#include "fakes/fake_transport.hpp"
#include "support/send_campaign.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

using namespace pecbatch;
using journal::State;
using pecbatch::test::FakeClock;
using pecbatch::test::FakeTransport;

namespace {

// Stops the run (as SIGINT does) right after the attempt of one address.
class StopAfter final : public campaign::SendObserver {
public:
  StopAfter(std::string address, std::atomic<bool>& stop)
      : m_address(std::move(address)), m_stop(stop) {}
  void on_attempt(const campaign::AttemptRecord& attempt) override {
    if (attempt.address == m_address) {
      m_stop = true;
    }
  }

private:
  std::string m_address;
  std::atomic<bool>& m_stop;
};

class SendLookAheadTest : public pecbatch::test::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    std::string contacts = "pec;nome\r\n";
    for (int i = 1; i <= k_rows; ++i) {
      contacts += address(i) + ";Nome " + std::to_string(i) + "\r\n";
    }
    write("contacts.csv", contacts);
    write("body.txt", "Gentile {{nome}}.\n");
    write("campaign.toml", pecbatch::test::send_test_campaign_toml(2));
    m_campaign = config::load_campaign(dir() / "campaign.toml").value_or_throw();
    m_deps.transport = [this] {
      return std::make_unique<pecbatch::test::SharedFakeTransport>(m_fake);
    };
    m_deps.clock = &m_clock;
  }

  // More than the composer can hold ahead of the workers (two batches of 64
  // queued and one being flushed), so that a stopped run cannot have
  // reached the last rows.
  static constexpr int k_rows = 240;
  static std::string address(int i) { return "dest" + std::to_string(i) + "@pec.test"; }

  campaign::SendReport send(std::optional<std::uint64_t> limit = std::nullopt,
                            bool accept_changes = false) {
    campaign::SendOptions options;
    options.execute = true;
    options.limit = limit;
    options.accept_changes = accept_changes;
    options.date = 1'795'000'000;
    auto report = campaign::send_campaign(m_campaign, options, m_deps);
    EXPECT_TRUE(report.ok()) << report.error().message;
    return std::move(report).value_or_throw();
  }

  journal::Journal journal() {
    return journal::Journal::open(campaign::journal_path(m_campaign), "c1").value_or_throw();
  }

  // How many times the fake saw each address.
  std::map<std::string, int> sends() const {
    std::map<std::string, int> out;
    for (const auto& call : m_fake.calls()) {
      ++out[call.rcpt_to];
    }
    return out;
  }

  config::Campaign m_campaign;
  FakeClock m_clock;
  FakeTransport m_fake;
  campaign::SendDeps m_deps;
};

// How many rows had their `submitting` record committed before the
// outcome of the row sent just before them (the look-ahead at work), from
// the order of the events table.
int look_aheads(const std::filesystem::path& journal_file) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(journal_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  // For each row (in contacts order): the event id of its `submitting` and
  // of its `submitted`.
  const char* sql =
      "SELECT r.row, "
      " (SELECT min(e.id) FROM events e WHERE e.row_id = r.id AND e.to_state = 'submitting'), "
      " (SELECT min(e.id) FROM events e WHERE e.row_id = r.id AND e.to_state = 'submitted') "
      "FROM rows r ORDER BY r.row";
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
  std::vector<std::pair<std::int64_t, std::int64_t>> rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    rows.emplace_back(sqlite3_column_int64(stmt, 1), sqlite3_column_int64(stmt, 2));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  int count = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].first < rows[i - 1].second) {
      ++count;
    }
  }
  return count;
}

TEST_F(SendLookAheadTest, EveryRowIsSentOnceAndEndsSubmittedWithOneAttempt) {
  const auto report = send();
  EXPECT_EQ(report.progress.submitted, static_cast<std::uint64_t>(k_rows));
  const auto seen = sends();
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(k_rows));
  for (const auto& [rcpt, n] : seen) {
    EXPECT_EQ(n, 1) << rcpt;
  }
  auto j = journal();
  ASSERT_TRUE(j.for_each({}, [&](const journal::RowRecord& row) {
                 EXPECT_EQ(row.state, State::submitted) << row.address;
                 EXPECT_EQ(row.attempts, 1u) << row.address;
                 const auto events = j.events(row.id).value();
                 // created, submitting, submitted: nothing given back.
                 EXPECT_EQ(events.size(), 3u) << row.address;
                 return true;
               }).ok());
  EXPECT_EQ(j.submissions_since(core::TimePoint{})->size(), static_cast<std::size_t>(k_rows));
  // The composer hands out 16 rows at a time and the first row waits for
  // a durable commit: the next rows are queued by the time its data goes.
  EXPECT_GT(look_aheads(campaign::journal_path(m_campaign)), 0);
}

TEST_F(SendLookAheadTest, ARetriedRowGivesBackTheRecordMadeAheadForTheNextOne) {
  // Row 2 gets 451 after its data (so the look-ahead already made row 3's
  // record), then 250 on the retry.
  int row2_calls = 0;
  m_fake.set_script([&](const dispatch::Envelope& envelope, std::size_t) {
    if (envelope.rcpt_to == address(2) && row2_calls++ == 0) {
      return FakeTransport::Step::after_data(FakeTransport::result(
          dispatch::Outcome::transient, 451, "4.3.0", "try again"));
    }
    return FakeTransport::Step(FakeTransport::result(dispatch::Outcome::accepted, 250));
  });
  const auto report = send();
  EXPECT_EQ(report.progress.submitted, static_cast<std::uint64_t>(k_rows));
  const auto seen = sends();
  EXPECT_EQ(seen.at(address(2)), 2);
  EXPECT_EQ(seen.at(address(3)), 1);

  auto j = journal();
  const auto row3 = j.find_current(compose::make_message_id("c1", address(3), "pec.test", 1))
                        .value()
                        .value();
  EXPECT_EQ(row3.state, State::submitted);
  const auto events = j.events(row3.id).value();
  // created, submitting (made ahead), queued (given back), submitting, submitted
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[1].to, State::submitting);
  EXPECT_EQ(events[2].to, State::queued);
  EXPECT_EQ(events[2].detail, "not sent: the message before it is being retried");
  EXPECT_EQ(events[3].to, State::submitting);
  EXPECT_EQ(events[4].to, State::submitted);
  // Counted as two attempts, one submission.
  EXPECT_EQ(row3.attempts, 2u);
  EXPECT_EQ(j.submissions_since(core::TimePoint{})->size(), static_cast<std::size_t>(k_rows));
}

TEST_F(SendLookAheadTest, AStoppedRunGivesBackTheRecordMadeAheadAndSendsNothingMore) {
  std::atomic<bool> stop{false};
  StopAfter observer(address(2), stop);
  m_deps.stop = &stop;
  m_deps.observer = &observer;
  const auto report = send();
  EXPECT_TRUE(report.interrupted);
  const auto seen = sends();
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.count(address(3)), 0u);

  auto j = journal();
  std::map<State, int> states;
  ASSERT_TRUE(j.for_each({}, [&](const journal::RowRecord& row) {
                 ++states[row.state];
                 return true;
               }).ok());
  // Nothing left `submitting` (it would become uncertain): row 3's record,
  // made while row 2's data went out, went back to queued.
  EXPECT_EQ(states.count(State::submitting), 0u);
  EXPECT_EQ(states[State::submitted], 2);
  // Every row is in the journal, also those the run never reached.
  EXPECT_EQ(states[State::queued], k_rows - 2);
  const auto row3 = j.find_current(compose::make_message_id("c1", address(3), "pec.test", 1))
                        .value()
                        .value();
  EXPECT_EQ(row3.state, State::queued);
  const auto events = j.events(row3.id).value();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].detail, "not sent: the run stopped");
  EXPECT_EQ(j.submissions_since(core::TimePoint{})->size(), 2u);
  const auto last = j.find_current(compose::make_message_id("c1", address(k_rows), "pec.test", 1))
                        .value()
                        .value();
  EXPECT_EQ(last.state, State::queued);
  EXPECT_EQ(last.content_sha256, "");  // entered unplanned: never composed

  // The next run plans the rest (no "changed" refusal for unplanned rows)
  // and sends each remaining row once.
  stop = false;
  m_deps.observer = nullptr;
  const auto second = send();
  EXPECT_TRUE(second.changes.empty());
  EXPECT_EQ(second.progress.submitted, static_cast<std::uint64_t>(k_rows - 2));
  for (const auto& [rcpt, n] : sends()) {
    EXPECT_EQ(n, 1) << rcpt;
  }
  EXPECT_EQ(sends().size(), static_cast<std::size_t>(k_rows));
  auto again = journal();
  ASSERT_TRUE(again.for_each({}, [&](const journal::RowRecord& row) {
                     EXPECT_EQ(row.state, State::submitted) << row.address;
                     EXPECT_FALSE(row.content_sha256.empty()) << row.address;
                     return true;
                   }).ok());
}

// --- content of unsent rows --------------------------------------------------

using SendContentTest = SendLookAheadTest;

// Sets a row's recorded content hash behind the run's back.
void set_content_hash(const std::filesystem::path& journal_file, const std::string& address,
                      const std::string& hash) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(journal_file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE rows SET content_sha256 = ?1 WHERE address = ?2",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(stmt, 1, hash.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, address.c_str(), -1, SQLITE_TRANSIENT);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
  EXPECT_EQ(sqlite3_changes(db), 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(SendContentTest, AnUnsentMessageThatChangedIsRefusedUntilTheChangeIsAccepted) {
  EXPECT_EQ(send(2).progress.submitted, 2u);
  const auto before = pecbatch::test::planned_specs(m_campaign);
  ASSERT_EQ(before.size(), static_cast<std::size_t>(k_rows));
  {
    // Every row entered carries the digest of the message planned for it.
    auto j = journal();
    int rows = 0;
    ASSERT_TRUE(j.for_each({}, [&](const journal::RowRecord& row) {
                   EXPECT_EQ(row.content_sha256, campaign::content_sha256(before.at(row.address)))
                       << row.address;
                   ++rows;
                   return true;
                 }).ok());
    EXPECT_EQ(rows, k_rows);
  }

  // A change no input file shows: the sender's address (same domain, so the
  // same Message-IDs) is in every message.
  m_campaign.account.address = "altro@pec.test";
  const auto refused = send();
  EXPECT_TRUE(refused.refused_changes);
  ASSERT_EQ(refused.changes.size(), 1u);
  EXPECT_EQ(refused.changes[0],
            std::to_string(k_rows - 2) +
                " unsent messages differ from the ones planned at the first send (fields, "
                "templates or attachments)");
  EXPECT_EQ(m_fake.calls().size(), 2u);

  const auto accepted = send(std::nullopt, true);
  EXPECT_FALSE(accepted.refused_changes);
  EXPECT_EQ(accepted.progress.submitted, static_cast<std::uint64_t>(k_rows - 2));
  ASSERT_EQ(m_fake.calls().size(), static_cast<std::size_t>(k_rows));
  EXPECT_NE(m_fake.calls().back().data.find("From: altro@pec.test"), std::string::npos);
  const auto after = pecbatch::test::planned_specs(m_campaign);
  auto j = journal();
  ASSERT_TRUE(j.for_each({}, [&](const journal::RowRecord& row) {
                 // The rows sent before keep what they were sent with.
                 const bool early = row.address == address(1) || row.address == address(2);
                 EXPECT_EQ(row.content_sha256,
                           campaign::content_sha256((early ? before : after).at(row.address)))
                     << row.address;
                 return true;
               }).ok());

  // Nothing left: no refusal, nothing sent again.
  const auto again = send();
  EXPECT_FALSE(again.refused_changes);
  EXPECT_EQ(m_fake.calls().size(), static_cast<std::size_t>(k_rows));
}

TEST_F(SendContentTest, AContentHashRecordedBeforeTheSpecDigestIsComparedWithTheBytes) {
  send(2);
  // A journal written before the spec digest recorded the SHA-256 of the
  // composed message without its Date.
  std::map<std::string, std::string> bytes;
  campaign::ValidateOptions compose_all;
  compose_all.date = 1'700'000'000;  // not the send's: the Date is left out
  compose_all.sink = [&](const contacts::Contact& contact, const compose::MessageSpec&,
                         const std::string& message) -> core::Status {
    bytes[contact.address] = message;
    return core::Ok{};
  };
  ASSERT_TRUE(campaign::validate_campaign(m_campaign, compose_all).ok());
  const auto file = campaign::journal_path(m_campaign);
  for (int i = 3; i <= 6; ++i) {
    const auto legacy = campaign::legacy_content_sha256(bytes.at(address(i)));
    ASSERT_EQ(legacy.size(), 64u);
    set_content_hash(file, address(i), legacy);
  }
  // Row 6's message was something else when it was planned.
  set_content_hash(file, address(6),
                   campaign::legacy_content_sha256(bytes.at(address(6)) + "altro\r\n"));
  const auto refused = send();
  EXPECT_TRUE(refused.refused_changes);
  ASSERT_EQ(refused.changes.size(), 1u);
  EXPECT_TRUE(refused.changes[0].starts_with("1 unsent messages differ")) << refused.changes[0];
  EXPECT_EQ(m_fake.calls().size(), 2u);

  // With row 6 as planned, rows 3-6 are unchanged: everything goes.
  set_content_hash(file, address(6), campaign::legacy_content_sha256(bytes.at(address(6))));
  const auto sent = send();
  EXPECT_FALSE(sent.refused_changes);
  EXPECT_EQ(sent.progress.submitted, static_cast<std::uint64_t>(k_rows - 2));
}

} // namespace

TEST_F(SendLookAheadTest, ASlotTakenAheadCountsFromWhenItsMessageReallyStarts) {
  // 2 a minute, and a provider that takes 30 s over the first message: the
  // second row's slot and record are taken ahead at t0, its message starts
  // at t0 + 30 s. Counted from t0, the slot would free itself at t0 + 61 s
  // and let the third and fourth messages both start then: three in the
  // provider's minute from t0 + 30 s.
  using namespace std::chrono_literals;
  m_campaign.limits.rate_per_minute = 2;
  std::vector<core::TimePoint> starts;
  m_fake.set_script([&](const dispatch::Envelope&, std::size_t index) {
    starts.push_back(m_clock.now());
    if (index == 0) {
      m_clock.advance(30s);
    }
    return FakeTransport::Step(FakeTransport::accepted());
  });
  const auto report = send(6);
  EXPECT_EQ(report.progress.submitted, 6u);
  ASSERT_EQ(starts.size(), 6u);
  EXPECT_EQ(starts[1] - starts[0], 30s);  // the look-ahead did take its slot
  for (std::size_t i = 0; i + 2 < starts.size(); ++i) {
    EXPECT_GE(starts[i + 2] - starts[i], 60s) << "three starts within a minute from #" << i;
  }
  // The journal, which seeds the next run's windows, has the real starts
  // too (whole seconds here: the fake clock moves in steps of them).
  auto j = journal();
  const auto recorded = j.submissions_since(core::TimePoint{}).value();
  ASSERT_EQ(recorded.size(), starts.size());
  for (std::size_t i = 0; i < starts.size(); ++i) {
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(recorded[i] - starts[i]),
              0ms)
        << "row " << i + 1;
  }
}

// Keeps every progress snapshot of a run.
class ProgressRecorder final : public campaign::SendObserver {
public:
  void on_progress(const campaign::SendProgress& progress) override {
    m_seen.push_back(progress);
  }
  const std::vector<campaign::SendProgress>& seen() const { return m_seen; }

private:
  std::vector<campaign::SendProgress> m_seen;
};

TEST_F(SendLookAheadTest, ProgressShowsTheObservedRateAndAnEtaWithoutALimit) {
  // No rate limit, and a provider taking 2 s per message: 30 a minute.
  using namespace std::chrono_literals;
  m_fake.set_script([&](const dispatch::Envelope&, std::size_t) {
    m_clock.advance(2s);
    return FakeTransport::Step(FakeTransport::accepted());
  });
  ProgressRecorder recorder;
  m_deps.observer = &recorder;
  const auto report = send(40);
  ASSERT_EQ(report.progress.submitted, 40u);
  const auto& seen = recorder.seen();
  ASSERT_EQ(seen.size(), 40u);
  EXPECT_EQ(seen[0].rate_per_minute, 0u);  // no limit in force
  // After a minute of sending the window is full: 30 rows in 60 s.
  const auto& later = seen[35];
  EXPECT_EQ(later.remaining, 4u);
  EXPECT_NEAR(later.observed_per_minute, 30.0, 1.0);
  EXPECT_NEAR(static_cast<double>(later.eta.count()), 8.0, 1.0);
  EXPECT_EQ(seen.back().remaining, 0u);
}

// campaign_status: counts in lifecycle order, send rate, time to finish,
// last receipt, rows needing a decision; and that it only reads (no lock,
// no write, not blocked by a writer, older schemas read through a copy).

#include <pecbatch/campaign/lock.hpp>
#include <pecbatch/campaign/send.hpp>
#include <pecbatch/campaign/status.hpp>

#include "support/temp_dir.hpp"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <string>

using namespace pecbatch;
using journal::State;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

// 2026-11-22T10:00:00Z
const core::TimePoint k_now = core::from_unix_ms(1'795'341'600'000);

// Runs SQL on the journal file with its own connection; returns the error
// text ("" on success).
std::string raw_exec(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(file.c_str(), &db);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  std::string out = rc == SQLITE_OK ? "" : (message != nullptr ? message : "error");
  sqlite3_free(message);
  sqlite3_close(db);
  return out;
}

class StatusTest : public pecbatch::test::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    ::setenv("TZ", "Europe/Rome", 1);
    ::tzset();
    m_campaign.id = "c1";
    m_campaign.name = "Fatture novembre";
    m_campaign.output_dir = dir() / "out";
    m_campaign.limits.rate_per_minute = 1;
    std::filesystem::create_directories(m_campaign.output_dir);
  }

  journal::Journal open() {
    return journal::Journal::open(campaign::journal_path(m_campaign), m_campaign.id).value();
  }

  // Adds row `row` and moves it along `path`, the n-th step at `at + n s`.
  std::int64_t add(journal::Journal& j, std::uint64_t row, const std::string& address,
                   const std::vector<State>& path, core::TimePoint at, int code = 0,
                   const std::string& enhanced = "", const std::string& text = "") {
    const std::string mid = "m" + std::to_string(row) + "@pec.test";
    EXPECT_EQ(j.add_rows({{row, address, mid, "x"}}, at).value(), 1u);
    const auto id = j.find_by_message_id(mid).value()->id;
    for (std::size_t n = 0; n < path.size(); ++n) {
      const State to = path[n];
      journal::Transition t;
      t.at = at + seconds(n + 1);
      t.new_attempt = to == State::sending;
      if (n + 1 == path.size() && code != 0) {
        t.smtp_code = code;
        t.enhanced = enhanced;
        t.text = text;
      }
      const auto status = j.transition(id, to, t);
      EXPECT_TRUE(status.ok()) << status.error().message;
    }
    return id;
  }

  config::Campaign m_campaign;
};

const std::vector<State> k_submitted = {State::sending, State::submitting, State::submitted};

} // namespace

TEST_F(StatusTest, CampaignWithoutJournalIsAConfigurationError) {
  const auto status = campaign::campaign_status(m_campaign, k_now);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, core::ErrorKind::config);
  EXPECT_NE(status.error().message.find("pecbatch send"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(campaign::journal_path(m_campaign)));
}

TEST_F(StatusTest, ListsEveryStateInLifecycleOrderWithPercentages) {
  {
    auto j = open();
    add(j, 2, "a@pec.test", {}, k_now - minutes(60));
    add(j, 3, "b@pec.test", {}, k_now - minutes(60));
    add(j, 4, "c@pec.test", k_submitted, k_now - minutes(30));
    auto delivered = k_submitted;
    delivered.push_back(State::accepted);
    delivered.push_back(State::delivered);
    add(j, 5, "d@pec.test", delivered, k_now - minutes(5));
  }
  const auto s = campaign::campaign_status(m_campaign, k_now).value();
  EXPECT_EQ(s.campaign_id, "c1");
  EXPECT_EQ(s.campaign_name, "Fatture novembre");
  EXPECT_EQ(s.total, 4u);
  ASSERT_EQ(s.states.size(), campaign::lifecycle_states().size());
  const auto& order = campaign::lifecycle_states();
  for (std::size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(s.states[i].state, order[i]) << i;
  }
  EXPECT_EQ(s.states.front().state, State::queued);
  EXPECT_EQ(s.states.front().count, 2u);
  EXPECT_DOUBLE_EQ(s.states.front().percent, 50.0);
  std::uint64_t sum = 0;
  for (const auto& c : s.states) {
    sum += c.count;
    if (c.state == State::delivered || c.state == State::submitted) {
      EXPECT_EQ(c.count, 1u);
      EXPECT_DOUBLE_EQ(c.percent, 25.0);
    }
  }
  EXPECT_EQ(sum, 4u);
  EXPECT_EQ(s.to_send, 2u);
  EXPECT_EQ(s.awaiting_receipts, 1u);
  EXPECT_EQ(s.succeeded, 1u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_TRUE(s.decisions.empty());
}

TEST_F(StatusTest, SendRateFromSubmissionTimesAndTimeLeftAtTheConfiguredRate) {
  {
    auto j = open();
    add(j, 2, "a@pec.test", k_submitted, k_now - minutes(31));  // DATA at -31 min + 2 s
    add(j, 3, "b@pec.test", k_submitted, k_now - minutes(6));
    add(j, 4, "c@pec.test", k_submitted, k_now - minutes(4));
    add(j, 5, "d@pec.test", k_submitted, k_now - minutes(2));
    add(j, 6, "e@pec.test", {}, k_now);
    add(j, 7, "f@pec.test", {}, k_now);
    add(j, 8, "g@pec.test", {}, k_now);
  }
  auto s = campaign::campaign_status(m_campaign, k_now).value();
  EXPECT_EQ(s.submissions, 4u);
  EXPECT_EQ(s.recent_submissions, 3u);  // within the last 10 minutes
  EXPECT_DOUBLE_EQ(s.recent_rate_per_minute, 0.3);
  ASSERT_TRUE(s.first_submission && s.last_submission);
  EXPECT_EQ(*s.first_submission, k_now - minutes(31) + seconds(2));
  EXPECT_EQ(*s.last_submission, k_now - minutes(2) + seconds(2));
  EXPECT_NEAR(s.average_rate_per_minute, 3.0 / 29.0, 1e-9);
  // 3 rows at 1 per minute: the first at once, the last 2 minutes later.
  EXPECT_EQ(s.to_send, 3u);
  ASSERT_TRUE(s.eta);
  EXPECT_EQ(*s.eta, seconds(120));
  EXPECT_EQ(s.eta_basis, "configured rate");

  // No configured rate: the recent rate (0.3/min) gives 10 minutes.
  m_campaign.limits.rate_per_minute = 0;
  s = campaign::campaign_status(m_campaign, k_now).value();
  ASSERT_TRUE(s.eta);
  EXPECT_EQ(*s.eta, seconds(600));
  EXPECT_EQ(s.eta_basis, "recent rate");

  // Nothing sent recently either: no estimate.
  s = campaign::campaign_status(m_campaign, k_now + minutes(60)).value();
  EXPECT_EQ(s.recent_submissions, 0u);
  EXPECT_FALSE(s.eta);
}

TEST_F(StatusTest, RowsNeedingADecisionWithTheirLastError) {
  {
    auto j = open();
    add(j, 2, "ok@pec.test", k_submitted, k_now);
    add(j, 3, "bad@pec.test", {State::sending, State::failed}, k_now, 550, "5.1.1",
        "mailbox unknown");
    add(j, 4, "later@pec.test", {State::sending, State::deferred}, k_now, 451, "4.3.0",
        "4.3.0 try again later");
    add(j, 5, "maybe@pec.test", {State::sending, State::submitting, State::uncertain}, k_now);
    add(j, 6, "gone@pec.test", {}, k_now);
    auto timeout = k_submitted;
    timeout.push_back(State::no_receipt);
    add(j, 7, "silent@pec.test", timeout, k_now);
  }
  const auto s = campaign::campaign_status(m_campaign, k_now).value();
  ASSERT_EQ(s.decisions.size(), 4u);
  EXPECT_EQ(s.decisions[0].row, 3u);
  EXPECT_EQ(s.decisions[0].state, State::failed);
  EXPECT_EQ(s.decisions[0].address, "bad@pec.test");
  EXPECT_EQ(s.decisions[0].error, "550 5.1.1 mailbox unknown");
  EXPECT_EQ(s.decisions[1].row, 4u);
  EXPECT_EQ(s.decisions[1].state, State::deferred);
  EXPECT_EQ(s.decisions[1].error, "451 4.3.0 try again later");  // 4.3.0 not repeated
  EXPECT_EQ(s.decisions[2].state, State::uncertain);
  EXPECT_EQ(s.decisions[2].error, "");
  EXPECT_EQ(s.decisions[3].state, State::no_receipt);
  EXPECT_NE(s.decisions[3].error.find("no final receipt"), std::string::npos);
  EXPECT_EQ(s.failed, 2u);  // failed, no_receipt
}

TEST_F(StatusTest, AnAttemptSentAgainNeitherCountsNorNeedsADecision) {
  {
    auto j = open();
    const auto id = add(j, 3, "bad@pec.test", {State::sending, State::failed}, k_now, 550,
                        "5.1.1", "mailbox unknown");
    journal::Resend resend;
    resend.id = id;
    resend.new_message_id = "m3.2@pec.test";
    resend.at = k_now;
    ASSERT_TRUE(j.retry_row(resend).ok());
  }
  const auto s = campaign::campaign_status(m_campaign, k_now).value();
  EXPECT_EQ(s.total, 1u);
  EXPECT_EQ(s.to_send, 1u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_TRUE(s.decisions.empty());
}

TEST_F(StatusTest, TimeOfTheLastReceiptRecorded) {
  {
    auto j = open();
    const auto id = add(j, 2, "ok@pec.test", k_submitted, k_now);
    EXPECT_FALSE(campaign::campaign_status(m_campaign, k_now).value().last_receipt);
    journal::ReceiptRecord r;
    r.uid = 7;
    r.uidvalidity = 1;
    r.message_id = "m2@pec.test";
    r.kind = "accettazione";
    r.signature = "valid";
    r.row_id = id;
    r.at = k_now - seconds(90);
    ASSERT_TRUE(j.record_receipt(r, std::nullopt).ok());
    r.uid = 8;
    r.at = k_now - seconds(30);
    ASSERT_TRUE(j.record_receipt(r, std::nullopt).ok());
  }
  const auto s = campaign::campaign_status(m_campaign, k_now).value();
  ASSERT_TRUE(s.last_receipt);
  EXPECT_EQ(*s.last_receipt, k_now - seconds(30));
}

TEST_F(StatusTest, ReadsWithoutTheLockWithoutWritingAndWhileAWriterHoldsTheJournal) {
  const auto file = campaign::journal_path(m_campaign);
  {
    auto j = open();
    add(j, 2, "a@pec.test", {}, k_now);
  }
  // Another run holds the campaign lock and a write transaction.
  auto lock = campaign::CampaignLock::acquire(m_campaign.output_dir);
  ASSERT_TRUE(lock.ok());
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer,
                         "BEGIN IMMEDIATE; UPDATE rows SET attempts = 9 WHERE row = 2", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  const auto started = std::chrono::steady_clock::now();
  const auto s = campaign::campaign_status(m_campaign, k_now);
  const auto took = std::chrono::steady_clock::now() - started;
  sqlite3_exec(writer, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(writer);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->total, 1u);
  EXPECT_LT(took, seconds(2));  // not waiting for the writer (busy timeout is 10 s)

  // A read-only journal refuses every write.
  auto ro = journal::Journal::open_read_only(file, "c1");
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  EXPECT_FALSE(ro->set_meta("x", "y").ok());
  EXPECT_FALSE(ro->add_rows({{3, "b@pec.test", "m3@pec.test", "x"}}, k_now).ok());
  auto j = open();
  EXPECT_EQ(j.counts().value().at(State::queued), 1u);
  EXPECT_FALSE(j.get_meta("x").value());
}

TEST_F(StatusTest, ReadOnlyOpenChecksTheJournalLikeOpen) {
  const auto file = campaign::journal_path(m_campaign);
  auto missing = journal::Journal::open_read_only(file, "c1");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, core::ErrorKind::no_input);
  EXPECT_FALSE(std::filesystem::exists(file));
  { auto j = open(); }
  auto other = journal::Journal::open_read_only(file, "c2");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().kind, core::ErrorKind::config);
  EXPECT_NE(other.error().message.find("belongs to campaign"), std::string::npos);
  ASSERT_EQ(raw_exec(file, "PRAGMA user_version = 99"), "");
  auto newer = journal::Journal::open_read_only(file, "c1");
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.error().kind, core::ErrorKind::config);
}

// The tables of the released schema 1 (src/journal/schema.cpp; released
// steps never change), with one row submitted a minute before k_now.
constexpr const char* k_schema_v1_journal = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE rows (
  id INTEGER PRIMARY KEY, row INTEGER NOT NULL, address TEXT NOT NULL,
  message_id TEXT NOT NULL UNIQUE, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  content_sha256 TEXT NOT NULL DEFAULT '', sent_sha256 TEXT NOT NULL DEFAULT '',
  last_code INTEGER NOT NULL DEFAULT 0, last_enhanced TEXT NOT NULL DEFAULT '',
  last_text TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
  submitting_ms INTEGER, submitted_ms INTEGER);
CREATE INDEX rows_state ON rows(state, row);
CREATE INDEX rows_row ON rows(row);
CREATE INDEX rows_submitting ON rows(submitting_ms) WHERE submitting_ms IS NOT NULL;
CREATE TABLE events (
  id INTEGER PRIMARY KEY, row_id INTEGER NOT NULL REFERENCES rows(id), at_ms INTEGER NOT NULL,
  from_state TEXT, to_state TEXT NOT NULL, smtp_code INTEGER NOT NULL DEFAULT 0,
  smtp_enhanced TEXT NOT NULL DEFAULT '', smtp_text TEXT NOT NULL DEFAULT '',
  detail TEXT NOT NULL DEFAULT '');
CREATE INDEX events_row ON events(row_id);
PRAGMA application_id = 1346716482;
PRAGMA user_version = 1;
INSERT INTO meta VALUES('campaign_id', 'c1');
INSERT INTO rows(row, address, message_id, state, attempts, created_ms, updated_ms,
                 submitting_ms, submitted_ms)
  VALUES(2, 'a@pec.test', 'm2@pec.test', 'submitted', 1, 1795341500000, 1795341540000,
         1795341539000, 1795341540000);
)sql";

TEST_F(StatusTest, AnOlderJournalIsReadThroughACopyAndLeftAsItIs) {
  const auto file = campaign::journal_path(m_campaign);
  // What pecbatch wrote before the receipts table (schema 1).
  ASSERT_EQ(raw_exec(file, k_schema_v1_journal), "");
  const auto s = campaign::campaign_status(m_campaign, k_now);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->total, 1u);
  EXPECT_FALSE(s->last_receipt);
  EXPECT_EQ(s->submissions, 1u);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 1);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(StatusTest, DescribesErrorsAndLocalTimes) {
  journal::RowRecord row;
  row.state = State::failed;
  row.last_code = 554;
  row.last_enhanced = "5.3.0";
  row.last_text = "Transaction failed";
  EXPECT_EQ(campaign::describe_error(row), "554 5.3.0 Transaction failed");
  row.state = State::delivery_failed;
  row.last_code = 250;
  row.last_text = "no-dest: 5.1.1 - indirizzo non valido";
  EXPECT_EQ(campaign::describe_error(row), "no-dest: 5.1.1 - indirizzo non valido");
  row.state = State::delivered;
  EXPECT_EQ(campaign::describe_error(row), "");
  row.state = State::queued;
  row.last_code = 250;  // an old success is not an error
  EXPECT_EQ(campaign::describe_error(row), "");

  EXPECT_EQ(campaign::iso_local_time(k_now), "2026-11-22T11:00:00+01:00");
  // Summer time.
  EXPECT_EQ(campaign::iso_local_time(core::from_unix_ms(1'782'036'000'000)),
            "2026-06-21T12:00:00+02:00");
}

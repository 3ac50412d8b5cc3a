#include <pecbatch/journal/journal.hpp>

#include "journal_test_support.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

using namespace pecbatch;
using namespace pecbatch::journal;
using namespace pecbatch::journal::test;

namespace {

std::vector<std::uint64_t> rows_of(Journal& journal, const std::vector<State>& states) {
  std::vector<std::uint64_t> out;
  const auto status = journal.for_each(states, [&](const RowRecord& r) {
    out.push_back(r.row);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status.error().message;
  return out;
}

void expect_same_row(const RowRecord& a, const RowRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.row, b.row);
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.content_sha256, b.content_sha256);
  EXPECT_EQ(a.sent_sha256, b.sent_sha256);
  EXPECT_EQ(a.last_code, b.last_code);
  EXPECT_EQ(a.last_enhanced, b.last_enhanced);
  EXPECT_EQ(a.last_text, b.last_text);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.updated, b.updated);
  EXPECT_EQ(a.submitted, b.submitted);
}

} // namespace

// ---- open, schema, migrations ----

TEST_F(JournalTest, CreatesANewJournalAtTheCurrentSchemaInWalMode) {
  {
    Journal journal = open_journal();
    EXPECT_EQ(*journal.get_meta("campaign_id"), std::optional<std::string>(k_campaign));
  }
  RawDb raw(file());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 3);
  EXPECT_EQ(raw.integer("PRAGMA application_id"), 0x50454342);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                        "name IN ('meta', 'rows', 'events')"),
            3);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 7);
}

TEST_F(JournalTest, ReopenKeepsEverything) {
  std::int64_t id = 0;
  {
    Journal journal = open_journal();
    id = add_one(journal, 2, "rossi");
    move(journal, id, State::sending);
    ASSERT_TRUE(journal.set_meta("input.contacts_sha256", "abc").ok());
  }
  Journal journal = open_journal();
  const auto row = journal.get(id);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->state, State::sending);
  EXPECT_EQ(row->attempts, 1u);
  EXPECT_EQ(row->address, "rossi@pec.example.it");
  EXPECT_EQ(*journal.get_meta("input.contacts_sha256"),
            std::optional<std::string>("abc"));
  EXPECT_EQ(journal.events(id)->size(), 2u);
  // Reopening does not migrate again.
  RawDb raw(file());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 3);
}

TEST_F(JournalTest, MigratesAnEmptyFile) {
  write("journal.sqlite", "");
  {
    Journal journal = open_journal();
    EXPECT_EQ(journal.add_rows({new_row(1, "a")}, at_ms(0)).value(), 1u);
  }
  RawDb raw(file());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 3);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM rows"), 1);
}

TEST_F(JournalTest, MigratesAnEmptyDatabaseAtVersionZero) {
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec("PRAGMA user_version = 0; PRAGMA page_size = 4096; VACUUM"), "");
  }
  Journal journal = open_journal();
  EXPECT_EQ(*journal.get_meta("campaign_id"), std::optional<std::string>(k_campaign));
  RawDb raw(file());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 3);
}

TEST_F(JournalTest, RefusesAJournalOfANewerSchema) {
  { Journal journal = open_journal(); }
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec("PRAGMA user_version = 7"), "");
  }
  auto journal = Journal::open(file(), k_campaign);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().kind, core::ErrorKind::config);
  EXPECT_EQ(journal.error().message,
            "journal " + file().string() +
                " was written by a newer pecbatch (schema 7, this one knows 3)");
  RawDb raw(file());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 7);
}

TEST_F(JournalTest, RefusesAnotherCampaignsJournal) {
  {
    Journal journal = open_journal();
    add_one(journal, 1, "a");
  }
  auto other = Journal::open(file(), "another-campaign");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().kind, core::ErrorKind::config);
  EXPECT_EQ(other.error().message,
            "journal " + file().string() +
                " belongs to campaign \"avviso-2025\", not \"another-campaign\" (use "
                "another output directory)");
  Journal journal = open_journal();
  EXPECT_EQ(journal.counts()->at(State::queued), 1u);
}

TEST_F(JournalTest, RefusesAForeignSqliteDatabase) {
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec("CREATE TABLE customers(name TEXT)"), "");
  }
  auto journal = Journal::open(file(), k_campaign);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().kind, core::ErrorKind::config);
  EXPECT_NE(journal.error().message.find("is not a pecbatch journal"), std::string::npos);
  RawDb raw(file());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 0);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_master"), 1);
}

TEST_F(JournalTest, RefusesADatabaseOfAnotherApplication) {
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec("CREATE TABLE t(x); PRAGMA user_version = 3"), "");
  }
  auto journal = Journal::open(file(), k_campaign);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().kind, core::ErrorKind::config);
  EXPECT_EQ(journal.error().message, "journal " + file().string() +
                                         " is not a pecbatch journal (SQLite "
                                         "application_id 0)");
}

TEST_F(JournalTest, AFileThatIsNotADatabaseIsAnIoError) {
  write("journal.sqlite", std::string(4096, 'x'));
  auto journal = Journal::open(file(), k_campaign);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().kind, core::ErrorKind::io);
  EXPECT_EQ(journal.error().message.rfind("journal " + file().string() + ": ", 0), 0u);
  EXPECT_NE(journal.error().message.find("file is not a database"), std::string::npos);
}

TEST_F(JournalTest, AMissingDirectoryIsAnIoErrorNamingTheFile) {
  const auto path = dir() / "no" / "such" / "journal.sqlite";
  auto journal = Journal::open(path, k_campaign);
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().kind, core::ErrorKind::io);
  EXPECT_EQ(journal.error().message,
            "journal " + path.string() + ": cannot open: unable to open database file");
}

TEST_F(JournalTest, MovedJournalKeepsWorkingAndTheOldOneFailsCleanly) {
  Journal first = open_journal();
  const auto id = add_one(first, 1, "a");
  Journal second = std::move(first);
  move(second, id, State::sending);
  // NOLINTNEXTLINE(bugprone-use-after-move): checking the moved-from state
  const auto stale = first.get(id);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().kind, core::ErrorKind::internal);
  Journal third = open_journal();
  third = std::move(second);
  EXPECT_EQ(third.get(id)->state, State::sending);
}

// ---- rows ----

TEST_F(JournalTest, AddRowsIsIdempotentByMessageId) {
  Journal journal = open_journal();
  const std::vector<NewRow> first = {new_row(2, "a"), new_row(3, "b"), new_row(4, "c")};
  EXPECT_EQ(journal.add_rows(first, at_ms(0)).value(), 3u);
  // Same Message-IDs with other data: left untouched; one new row added.
  NewRow changed = new_row(9, "a");
  changed.address = "other@pec.example.it";
  changed.content_sha256 = "changed";
  EXPECT_EQ(journal.add_rows({changed, new_row(5, "d"), new_row(6, "d")}, at_ms(10))
                .value(),
            1u);
  EXPECT_EQ(journal.counts()->at(State::queued), 4u);
  const auto a = journal.find_by_message_id("<a@pecbatch.example>");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->row, 2u);
  EXPECT_EQ((*a)->address, "a@pec.example.it");
  EXPECT_EQ((*a)->content_sha256, "sha-a");
  EXPECT_EQ((*a)->created, at_ms(0));
  EXPECT_EQ((*a)->updated, at_ms(0));
  EXPECT_EQ(journal.events((*a)->id)->size(), 1u);
  const auto d = journal.find_by_message_id("<d@pecbatch.example>");
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->row, 5u);
  EXPECT_EQ((*d)->created, at_ms(10));
}

TEST_F(JournalTest, NewRowsAreQueuedWithACreationEvent) {
  Journal journal = open_journal();
  const auto id = add_one(journal, 7, "rossi");
  const auto row = journal.get(id);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->state, State::queued);
  EXPECT_EQ(row->attempts, 0u);
  EXPECT_EQ(row->row, 7u);
  EXPECT_EQ(row->message_id, "<rossi@pecbatch.example>");
  EXPECT_EQ(row->content_sha256, "sha-rossi");
  EXPECT_EQ(row->sent_sha256, "");
  EXPECT_EQ(row->last_code, 0);
  EXPECT_EQ(row->submitted, core::TimePoint{});
  const auto events = journal.events(id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].row_id, id);
  EXPECT_FALSE((*events)[0].from.has_value());
  EXPECT_EQ((*events)[0].to, State::queued);
  EXPECT_EQ((*events)[0].at, at_ms(0));
  EXPECT_EQ((*events)[0].detail, "added");
}

TEST_F(JournalTest, AddRowsRefusesAnEmptyMessageIdAndAddsNothing) {
  Journal journal = open_journal();
  NewRow bad = new_row(2, "b");
  bad.message_id.clear();
  const auto added = journal.add_rows({new_row(1, "a"), bad}, at_ms(0));
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().kind, core::ErrorKind::internal);
  EXPECT_TRUE(journal.counts()->empty());
}

TEST_F(JournalTest, AddingNoRowsIsFine) {
  Journal journal = open_journal();
  EXPECT_EQ(journal.add_rows({}, at_ms(0)).value(), 0u);
}

TEST_F(JournalTest, GetAndFindReportMissingRows) {
  Journal journal = open_journal();
  const auto missing = journal.get(42);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind, core::ErrorKind::internal);
  EXPECT_EQ(missing.error().message,
            "journal " + file().string() + ": no row with id 42");
  const auto found = journal.find_by_message_id("<nobody@example>");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  EXPECT_TRUE(journal.events(42)->empty());
}

TEST_F(JournalTest, UpdatePendingRowOnlyTouchesQueuedAndDeferredRows) {
  Journal journal = open_journal();
  const auto queued = add_one(journal, 1, "q");
  const auto deferred = add_one(journal, 2, "d");
  const auto sending = add_one(journal, 3, "s");
  move(journal, deferred, State::sending);
  move(journal, deferred, State::deferred);
  move(journal, sending, State::sending);

  ASSERT_TRUE(journal.update_pending_row(queued, 11, "new-q").ok());
  ASSERT_TRUE(journal.update_pending_row(deferred, 12, "new-d").ok());
  EXPECT_EQ(journal.get(queued)->row, 11u);
  EXPECT_EQ(journal.get(queued)->content_sha256, "new-q");
  EXPECT_EQ(journal.get(deferred)->row, 12u);
  EXPECT_EQ(journal.get(deferred)->content_sha256, "new-d");
  EXPECT_EQ(journal.get(deferred)->state, State::deferred);

  const RowRecord before = journal.get(sending).value();
  const auto refused = journal.update_pending_row(sending, 13, "new-s");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, core::ErrorKind::internal);
  EXPECT_EQ(refused.error().message,
            "journal " + file().string() + ": row id " + std::to_string(sending) +
                " is sending, only queued or deferred rows can be updated");
  expect_same_row(journal.get(sending).value(), before);

  const auto unknown = journal.update_pending_row(999, 1, "x");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, core::ErrorKind::internal);
}

// ---- transitions ----

TEST_F(JournalTest, TransitionEnforcesTheStateMachineForEveryPair) {
  Journal journal = open_journal();
  int n = 0;
  int allowed = 0;
  for (State from : all_states()) {
    for (State to : all_states()) {
      SCOPED_TRACE(std::string(to_string(from)) + " -> " + to_string(to));
      ++n;
      const auto id =
          add_one(journal, static_cast<std::uint64_t>(n), "r" + std::to_string(n));
      walk(journal, id, from);
      ASSERT_EQ(journal.get(id)->state, from);
      const RowRecord before = journal.get(id).value();
      const std::size_t events_before = journal.events(id)->size();

      Transition info;
      info.at = at_ms(1000);
      info.smtp_code = 451;
      info.text = "try later";
      info.detail = "table";
      const auto status = journal.transition(id, to, info);
      const bool expected = expected_transitions().count({from, to}) == 1;
      EXPECT_EQ(status.ok(), expected);
      if (expected) {
        ++allowed;
        EXPECT_EQ(journal.get(id)->state, to);
        EXPECT_EQ(journal.get(id)->updated, at_ms(1000));
        const auto events = journal.events(id).value();
        ASSERT_EQ(events.size(), events_before + 1);
        EXPECT_EQ(events.back().from, std::optional<State>(from));
        EXPECT_EQ(events.back().to, to);
        EXPECT_EQ(events.back().smtp_code, 451);
        EXPECT_EQ(events.back().detail, "table");
      } else {
        ASSERT_FALSE(status.ok());
        EXPECT_EQ(status.error().kind, core::ErrorKind::internal);
        EXPECT_EQ(status.error().message,
                  "journal " + file().string() + ": row " + std::to_string(n) + " (r" +
                      std::to_string(n) + "@pec.example.it): illegal transition " +
                      to_string(from) + " -> " + to_string(to));
        expect_same_row(journal.get(id).value(), before);
        EXPECT_EQ(journal.events(id)->size(), events_before);
      }
    }
  }
  EXPECT_EQ(n, 256);
  EXPECT_EQ(allowed, 38);
}

TEST_F(JournalTest, TransitionOfAnUnknownRowFails) {
  Journal journal = open_journal();
  const auto status = journal.transition(5, State::sending, Transition{});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, core::ErrorKind::internal);
  EXPECT_EQ(status.error().message, "journal " + file().string() + ": no row with id 5");
}

TEST_F(JournalTest, TransitionKeepsTheBooks) {
  Journal journal = open_journal();
  const auto id = add_one(journal, 1, "a");

  // First attempt: a transient failure before DATA.
  Transition t;
  t.at = at_ms(100);
  t.new_attempt = true;
  ASSERT_TRUE(journal.transition(id, State::sending, t).ok());
  t = Transition{};
  t.at = at_ms(200);
  t.smtp_code = 421;
  t.enhanced = "4.3.2";
  t.text = "service not available";
  ASSERT_TRUE(journal.transition(id, State::queued, t).ok());
  RowRecord r = journal.get(id).value();
  EXPECT_EQ(r.attempts, 1u);
  EXPECT_EQ(r.last_code, 421);
  EXPECT_EQ(r.last_enhanced, "4.3.2");
  EXPECT_EQ(r.last_text, "service not available");
  EXPECT_EQ(r.updated, at_ms(200));
  EXPECT_EQ(r.created, at_ms(0));

  // Second attempt: DATA sent, then 250.
  t = Transition{};
  t.at = at_ms(300);
  t.new_attempt = true;
  ASSERT_TRUE(journal.transition(id, State::sending, t).ok());
  t = Transition{};
  t.at = at_ms(400);
  t.sent_sha256 = "sent-bytes-sha";
  ASSERT_TRUE(journal.transition(id, State::submitting, t).ok());
  r = journal.get(id).value();
  EXPECT_EQ(r.attempts, 2u);
  EXPECT_EQ(r.sent_sha256, "sent-bytes-sha");
  // No SMTP code given: the last reply is kept.
  EXPECT_EQ(r.last_code, 421);
  EXPECT_EQ(r.last_text, "service not available");
  EXPECT_EQ(r.submitted, core::TimePoint{});
  {
    RawDb raw(file());
    const std::string where = " FROM rows WHERE id = " + std::to_string(id);
    EXPECT_EQ(raw.integer("SELECT submitting_ms" + where), core::to_unix_ms(at_ms(400)));
    EXPECT_EQ(raw.text("SELECT submitted_ms" + where), "");
  }

  t = Transition{};
  t.at = at_ms(500);
  t.smtp_code = 250;
  t.enhanced = "2.0.0";
  t.text = "Ok: queued as 4F2A";
  ASSERT_TRUE(journal.transition(id, State::submitted, t).ok());
  r = journal.get(id).value();
  EXPECT_EQ(r.state, State::submitted);
  EXPECT_EQ(r.attempts, 2u);
  EXPECT_EQ(r.sent_sha256, "sent-bytes-sha");  // empty sent_sha256 keeps it
  EXPECT_EQ(r.last_code, 250);
  EXPECT_EQ(r.last_enhanced, "2.0.0");
  EXPECT_EQ(r.last_text, "Ok: queued as 4F2A");
  EXPECT_EQ(r.submitted, at_ms(500));
  EXPECT_EQ(r.updated, at_ms(500));

  // A receipt later: submitted time stays, submitting time stays.
  t = Transition{};
  t.at = at_ms(900);
  ASSERT_TRUE(journal.transition(id, State::accepted, t).ok());
  r = journal.get(id).value();
  EXPECT_EQ(r.submitted, at_ms(500));
  EXPECT_EQ(r.updated, at_ms(900));
  EXPECT_EQ(journal.submissions_since(at_ms(0)).value(),
            std::vector<core::TimePoint>{at_ms(400)});
}

TEST_F(JournalTest, NewAttemptCountsOnAnyTransitionThatAsksForIt) {
  Journal journal = open_journal();
  const auto id = add_one(journal, 1, "a");
  Transition t;
  t.at = at_ms(1);
  ASSERT_TRUE(journal.transition(id, State::sending, t).ok());
  EXPECT_EQ(journal.get(id)->attempts, 0u);
  ASSERT_TRUE(journal.transition(id, State::deferred, t).ok());
  t.new_attempt = true;
  ASSERT_TRUE(journal.transition(id, State::sending, t).ok());
  EXPECT_EQ(journal.get(id)->attempts, 1u);
}

TEST_F(JournalTest, EventsAreAppendedInOrder) {
  Journal journal = open_journal();
  const auto id = add_one(journal, 1, "a");
  const auto other = add_one(journal, 2, "b");
  Transition t;
  t.at = at_ms(10);
  t.new_attempt = true;
  ASSERT_TRUE(journal.transition(id, State::sending, t).ok());
  ASSERT_TRUE(journal.transition(other, State::sending, t).ok());
  t = Transition{};
  t.at = at_ms(20);
  t.detail = "DATA started";
  ASSERT_TRUE(journal.transition(id, State::submitting, t).ok());
  t = Transition{};
  t.at = at_ms(30);
  t.smtp_code = 550;
  t.enhanced = "5.1.1";
  t.text = "no such user";
  t.detail = "550 5.1.1 no such user";
  ASSERT_TRUE(journal.transition(id, State::failed, t).ok());

  const auto events = journal.events(id).value();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].from, std::nullopt);
  EXPECT_EQ(events[0].to, State::queued);
  EXPECT_EQ(events[1].from, std::optional<State>(State::queued));
  EXPECT_EQ(events[1].to, State::sending);
  EXPECT_EQ(events[1].at, at_ms(10));
  EXPECT_EQ(events[2].from, std::optional<State>(State::sending));
  EXPECT_EQ(events[2].to, State::submitting);
  EXPECT_EQ(events[2].detail, "DATA started");
  EXPECT_EQ(events[2].smtp_code, 0);
  EXPECT_EQ(events[3].from, std::optional<State>(State::submitting));
  EXPECT_EQ(events[3].to, State::failed);
  EXPECT_EQ(events[3].at, at_ms(30));
  EXPECT_EQ(events[3].smtp_code, 550);
  EXPECT_EQ(events[3].detail, "550 5.1.1 no such user");
  for (const Event& e : events) {
    EXPECT_EQ(e.row_id, id);
  }
  EXPECT_EQ(journal.events(other)->size(), 2u);

  RawDb raw(file());
  EXPECT_EQ(raw.text("SELECT smtp_enhanced || ' ' || smtp_text FROM events WHERE "
                     "to_state = 'failed'"),
            "5.1.1 no such user");
}

TEST_F(JournalTest, EventsCannotBeChangedOrDeleted) {
  {
    Journal journal = open_journal();
    const auto id = add_one(journal, 1, "a");
    move(journal, id, State::sending);
  }
  RawDb raw(file());
  EXPECT_EQ(raw.exec("UPDATE events SET to_state = 'delivered'"),
            "journal events are append-only");
  EXPECT_EQ(raw.exec("DELETE FROM events"), "journal events are append-only");
  EXPECT_EQ(raw.exec("DELETE FROM rows"), "journal rows are never deleted");
  EXPECT_EQ(raw.exec("UPDATE rows SET message_id = 'x'"),
            "a journal row's message_id never changes");
  // Events always belong to a row (with foreign keys on, as the journal
  // has them).
  ASSERT_EQ(raw.exec("PRAGMA foreign_keys = ON"), "");
  EXPECT_EQ(raw.exec("INSERT INTO events(row_id, at_ms, to_state) VALUES(999, 0, 'x')"),
            "FOREIGN KEY constraint failed");
  EXPECT_EQ(raw.integer("SELECT count(*) FROM events"), 2);
}

TEST_F(JournalTest, RecoverSettlesRowsLeftInFlight) {
  Journal journal = open_journal();
  const auto queued = add_one(journal, 1, "q");
  const auto sending = add_one(journal, 2, "s");
  const auto submitting = add_one(journal, 3, "u");
  const auto submitted = add_one(journal, 4, "d");
  const auto sending2 = add_one(journal, 5, "s2");
  move(journal, sending, State::sending);
  move(journal, sending2, State::sending);
  for (State s : {State::sending, State::submitting}) {
    move(journal, submitting, s);
  }
  for (State s : {State::sending, State::submitting, State::submitted}) {
    move(journal, submitted, s);
  }

  const auto recovery = journal.recover(at_ms(5000));
  ASSERT_TRUE(recovery.ok()) << recovery.error().message;
  EXPECT_EQ(recovery->sending_requeued, 2u);
  EXPECT_EQ(recovery->submitting_uncertain, 1u);
  EXPECT_EQ(journal.get(queued)->state, State::queued);
  EXPECT_EQ(journal.get(sending)->state, State::queued);
  EXPECT_EQ(journal.get(sending2)->state, State::queued);
  EXPECT_EQ(journal.get(submitting)->state, State::uncertain);
  EXPECT_EQ(journal.get(submitted)->state, State::submitted);
  EXPECT_EQ(journal.get(sending)->updated, at_ms(5000));
  EXPECT_EQ(journal.get(sending)->attempts, 1u);  // the attempt still counts
  EXPECT_EQ(journal.get(queued)->updated, at_ms(0));

  const auto s_events = journal.events(sending).value();
  ASSERT_EQ(s_events.size(), 3u);
  EXPECT_EQ(s_events[2].from, std::optional<State>(State::sending));
  EXPECT_EQ(s_events[2].to, State::queued);
  EXPECT_EQ(s_events[2].at, at_ms(5000));
  EXPECT_EQ(s_events[2].detail, "found after an interrupted run");
  const auto u_events = journal.events(submitting).value();
  ASSERT_EQ(u_events.size(), 4u);
  EXPECT_EQ(u_events[3].from, std::optional<State>(State::submitting));
  EXPECT_EQ(u_events[3].to, State::uncertain);
  EXPECT_EQ(u_events[3].detail, "found after an interrupted run");
  EXPECT_EQ(journal.events(submitted)->size(), 4u);

  // Nothing left to recover; an uncertain row is never requeued.
  const auto again = journal.recover(at_ms(6000));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->sending_requeued, 0u);
  EXPECT_EQ(again->submitting_uncertain, 0u);
  EXPECT_EQ(journal.get(submitting)->state, State::uncertain);
  EXPECT_FALSE(journal.transition(submitting, State::queued, Transition{}).ok());
}

TEST_F(JournalTest, TwoConnectionsCannotBothStartTheSameRow) {
  Journal first = open_journal();
  Journal second = open_journal();
  const auto id = add_one(first, 1, "a");
  move(first, id, State::sending);
  // The second run reads the state inside its own write transaction.
  const auto status = second.transition(id, State::sending, Transition{});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, core::ErrorKind::internal);
  EXPECT_EQ(second.get(id)->attempts, 1u);
}

// ---- queries ----

TEST_F(JournalTest, ForEachStreamsInContactsRowOrderWithFilters) {
  Journal journal = open_journal();
  // Added out of order, with a repeated contacts row number (ordered by id).
  const auto r30 = add_one(journal, 30, "r30");
  const auto r10 = add_one(journal, 10, "r10");
  const auto r20a = add_one(journal, 20, "r20a");
  const auto r20b = add_one(journal, 20, "r20b");
  const auto r5 = add_one(journal, 5, "r5");
  move(journal, r10, State::sending);
  move(journal, r20b, State::sending);
  move(journal, r20b, State::deferred);
  move(journal, r5, State::sending);
  move(journal, r5, State::failed);
  (void)r30;
  (void)r20a;

  EXPECT_EQ(rows_of(journal, {}), (std::vector<std::uint64_t>{5, 10, 20, 20, 30}));
  std::vector<std::string> ids;
  ASSERT_TRUE(journal
                  .for_each({}, [&](const RowRecord& r) {
                    ids.push_back(r.message_id);
                    return true;
                  })
                  .ok());
  EXPECT_EQ(ids[2], "<r20a@pecbatch.example>");
  EXPECT_EQ(ids[3], "<r20b@pecbatch.example>");

  EXPECT_EQ(rows_of(journal, {State::queued}), (std::vector<std::uint64_t>{20, 30}));
  EXPECT_EQ(rows_of(journal, {State::deferred, State::queued}),
            (std::vector<std::uint64_t>{20, 20, 30}));
  EXPECT_EQ(rows_of(journal, {State::queued, State::queued, State::failed}),
            (std::vector<std::uint64_t>{5, 20, 30}));
  EXPECT_EQ(rows_of(journal, {State::delivered}), std::vector<std::uint64_t>{});

  // Every field comes through.
  std::optional<RowRecord> seen;
  ASSERT_TRUE(journal
                  .for_each({State::sending}, [&](const RowRecord& r) {
                    seen = r;
                    return true;
                  })
                  .ok());
  ASSERT_TRUE(seen.has_value());
  expect_same_row(*seen, journal.get(r10).value());
}

TEST_F(JournalTest, ForEachStopsWhenTheVisitorSaysSo) {
  Journal journal = open_journal();
  for (int i = 1; i <= 5; ++i) {
    add_one(journal, static_cast<std::uint64_t>(i), "r" + std::to_string(i));
  }
  std::vector<std::uint64_t> seen;
  ASSERT_TRUE(journal
                  .for_each({}, [&](const RowRecord& r) {
                    seen.push_back(r.row);
                    return r.row < 2;
                  })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{1, 2}));
  // The statement was reset: the journal stays usable and a new run starts over.
  EXPECT_EQ(rows_of(journal, {}).size(), 5u);
}

TEST_F(JournalTest, ForEachAllowsTransitionsAndNestedQueriesFromTheVisitor) {
  Journal journal = open_journal();
  for (int i = 1; i <= 4; ++i) {
    add_one(journal, static_cast<std::uint64_t>(i), "r" + std::to_string(i));
  }
  int visited = 0;
  const auto status = journal.for_each({State::queued}, [&](const RowRecord& r) {
    ++visited;
    Transition t;
    t.at = at_ms(50);
    t.new_attempt = true;
    EXPECT_TRUE(journal.transition(r.id, State::sending, t).ok());
    // A refused transition rolls back without disturbing the iteration.
    EXPECT_FALSE(journal.transition(r.id, State::submitted, t).ok());
    // The same query, nested.
    EXPECT_EQ(rows_of(journal, {State::queued}).size(),
              4u - static_cast<unsigned>(visited));
    return true;
  });
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(visited, 4);
  EXPECT_EQ(journal.counts()->at(State::sending), 4u);
}

TEST_F(JournalTest, CountsPerState) {
  Journal journal = open_journal();
  EXPECT_TRUE(journal.counts()->empty());
  const auto a = add_one(journal, 1, "a");
  add_one(journal, 2, "b");
  const auto c = add_one(journal, 3, "c");
  move(journal, a, State::sending);
  move(journal, c, State::sending);
  move(journal, c, State::submitting);
  const auto counts = journal.counts().value();
  const std::map<State, std::uint64_t> expected = {
      {State::queued, 1}, {State::sending, 1}, {State::submitting, 1}};
  EXPECT_EQ(counts, expected);
}

TEST_F(JournalTest, SubmissionsSinceListsSubmittingTimesAscending) {
  Journal journal = open_journal();
  const auto a = add_one(journal, 1, "a");
  const auto b = add_one(journal, 2, "b");
  const auto c = add_one(journal, 3, "c");
  const auto d = add_one(journal, 4, "d");
  move(journal, c, State::sending, 10);
  move(journal, c, State::submitting, 300);
  move(journal, a, State::sending, 10);
  move(journal, a, State::submitting, 100);
  move(journal, a, State::submitted, 150);
  move(journal, b, State::sending, 10);
  move(journal, b, State::submitting, 200);
  move(journal, b, State::deferred, 250);  // 4xx after DATA: still counted
  move(journal, d, State::sending, 400);   // never reached DATA: not counted

  EXPECT_EQ(journal.submissions_since(at_ms(0)).value(),
            (std::vector<core::TimePoint>{at_ms(100), at_ms(200), at_ms(300)}));
  EXPECT_EQ(journal.submissions_since(at_ms(200)).value(),
            (std::vector<core::TimePoint>{at_ms(200), at_ms(300)}));
  EXPECT_TRUE(journal.submissions_since(at_ms(301))->empty());
  // Submitted again: the latest start of DATA counts.
  move(journal, b, State::sending, 500);
  move(journal, b, State::submitting, 600);
  EXPECT_EQ(journal.submissions_since(at_ms(150)).value(),
            (std::vector<core::TimePoint>{at_ms(300), at_ms(600)}));
}

// ---- meta ----

TEST_F(JournalTest, MetaGetSetAndPrefix) {
  Journal journal = open_journal();
  EXPECT_EQ(journal.get_meta("input.contacts").value(), std::nullopt);
  ASSERT_TRUE(journal.set_meta("input.contacts", "sha-1").ok());
  ASSERT_TRUE(journal.set_meta("input.template", "sha-2").ok());
  ASSERT_TRUE(journal.set_meta("inputs", "not under the prefix").ok());
  ASSERT_TRUE(journal.set_meta("input.contacts", "sha-3").ok());
  ASSERT_TRUE(journal.set_meta("note", "àèìòù €").ok());
  EXPECT_EQ(journal.get_meta("input.contacts").value(),
            std::optional<std::string>("sha-3"));
  EXPECT_EQ(journal.get_meta("note").value(), std::optional<std::string>("àèìòù €"));
  EXPECT_EQ(journal.meta_with_prefix("input.").value(),
            (std::map<std::string, std::string>{{"input.contacts", "sha-3"},
                                                {"input.template", "sha-2"}}));
  EXPECT_TRUE(journal.meta_with_prefix("zzz")->empty());
  const auto all = journal.meta_with_prefix("").value();
  EXPECT_EQ(all.size(), 5u);
  EXPECT_EQ(all.at("campaign_id"), k_campaign);
}

TEST_F(JournalTest, TheCampaignIdCannotBeChanged) {
  Journal journal = open_journal();
  const auto status = journal.set_meta("campaign_id", "other");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, core::ErrorKind::internal);
  EXPECT_EQ(journal.get_meta("campaign_id").value(),
            std::optional<std::string>(k_campaign));
}

TEST_F(JournalTest, AnEmptyCampaignIdIsRefused) {
  auto journal = Journal::open(file(), "");
  ASSERT_FALSE(journal.ok());
  EXPECT_EQ(journal.error().kind, core::ErrorKind::internal);
  EXPECT_FALSE(std::filesystem::exists(file()));
}

// ---- apply: several transitions in one transaction ----

TEST_F(JournalTest, ApplyRecordsEveryChangeInOrderInOneTransaction) {
  Journal journal = open_journal();
  const auto a = add_one(journal, 1, "a");
  const auto b = add_one(journal, 2, "b");
  Transition start;
  start.at = at_ms(10);
  start.new_attempt = true;
  start.sent_sha256 = "hash-a";
  start.detail = "attempt 1";
  Transition done;
  done.at = at_ms(20);
  done.smtp_code = 250;
  done.durable = false;
  const std::vector<Change> changes = {{a, State::submitting, start},
                                       {b, State::submitting, start},
                                       {a, State::submitted, done}};
  ASSERT_TRUE(journal.apply(changes).ok());

  EXPECT_EQ(journal.get(a)->state, State::submitted);
  EXPECT_EQ(journal.get(a)->attempts, 1u);
  EXPECT_EQ(journal.get(a)->sent_sha256, "hash-a");
  EXPECT_EQ(journal.get(a)->submitted, at_ms(20));
  EXPECT_EQ(journal.get(b)->state, State::submitting);
  const auto events = journal.events(a).value();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].from, std::optional<State>(State::queued));
  EXPECT_EQ(events[1].to, State::submitting);
  EXPECT_EQ(events[1].detail, "attempt 1");
  EXPECT_EQ(events[2].from, std::optional<State>(State::submitting));
  EXPECT_EQ(events[2].to, State::submitted);
  EXPECT_TRUE(journal.apply({}).ok());
}

TEST_F(JournalTest, ApplyIsAllOrNothing) {
  Journal journal = open_journal();
  const auto a = add_one(journal, 1, "a");
  const auto b = add_one(journal, 2, "b");
  Transition t;
  t.at = at_ms(10);
  // The second change is illegal (queued -> submitted): the first one,
  // legal on its own, must not be committed either.
  const std::vector<Change> changes = {{a, State::submitting, t}, {b, State::submitted, t}};
  const auto status = journal.apply(changes);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, core::ErrorKind::internal);
  EXPECT_NE(status.error().message.find("illegal transition queued -> submitted"),
            std::string::npos)
      << status.error().message;
  EXPECT_EQ(journal.get(a)->state, State::queued);
  EXPECT_EQ(journal.events(a)->size(), 1u);
  EXPECT_EQ(journal.events(b)->size(), 1u);
  // The connection is usable afterwards.
  ASSERT_TRUE(journal.transition(a, State::submitting, t).ok());
  RawDb raw(file());
  EXPECT_EQ(raw.text("SELECT state FROM rows WHERE id = " + std::to_string(a)), "submitting");
}

TEST_F(JournalTest, ApplyAddsRowsFirstAndAllOrNothing) {
  Journal journal = open_journal();
  EXPECT_EQ(journal.next_row_id().value(), 1);
  const auto a = add_one(journal, 1, "a");
  EXPECT_EQ(journal.next_row_id().value(), a + 1);
  NewRow b = new_row(2, "b");
  b.id = a + 5;  // a gap is fine: the id is the caller's
  NewRow c = new_row(3, "c");  // no id: the journal picks one
  Transition start;
  start.at = at_ms(10);
  start.new_attempt = true;
  const std::vector<NewRow> rows = {b, c};
  const std::vector<Change> changes = {{b.id, State::submitting, start}};
  ASSERT_TRUE(journal.apply(rows, at_ms(7), changes).ok());
  EXPECT_EQ(journal.get(b.id)->state, State::submitting);
  EXPECT_EQ(journal.get(b.id)->created, at_ms(7));
  const auto row_c = journal.find_by_message_id(c.message_id).value();
  ASSERT_TRUE(row_c.has_value());
  EXPECT_EQ(row_c->id, b.id + 1);
  EXPECT_EQ(journal.next_row_id().value(), b.id + 2);

  // An illegal change undoes the rows of its transaction too.
  NewRow d = new_row(4, "d");
  d.id = journal.next_row_id().value();
  const std::vector<Change> illegal = {{d.id, State::submitted, start}};
  ASSERT_FALSE(journal.apply(std::vector<NewRow>{d}, at_ms(8), illegal).ok());
  EXPECT_FALSE(journal.find_by_message_id(d.message_id)->has_value());
  // Rows alone, no change: committed.
  ASSERT_TRUE(journal.apply(std::vector<NewRow>{d}, at_ms(9), {}).ok());
  EXPECT_EQ(journal.get(d.id)->state, State::queued);
  EXPECT_EQ(journal.events(d.id)->size(), 1u);
}

TEST_F(JournalTest, AnExplicitIdNeverLandsOnAnotherRow) {
  Journal journal = open_journal();
  const auto a = add_one(journal, 1, "a");
  NewRow same_message = new_row(1, "a");
  same_message.id = a + 1;
  auto added = journal.add_rows({same_message}, at_ms(0));
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().kind, core::ErrorKind::internal);
  EXPECT_NE(added.error().message.find("already in the journal"), std::string::npos)
      << added.error().message;
  NewRow taken_id = new_row(2, "b");
  taken_id.id = a;
  EXPECT_FALSE(journal.add_rows({taken_id}, at_ms(0)).ok());
  EXPECT_FALSE(journal.find_by_message_id(taken_id.message_id)->has_value());
  EXPECT_EQ(journal.counts()->at(State::queued), 1u);
  // Without an id a known Message-ID is still left untouched.
  EXPECT_EQ(journal.add_rows({new_row(1, "a")}, at_ms(0)).value(), 0u);
}

TEST_F(JournalTest, AnOutcomeCanMoveTheSubmissionToWhenTheMessageReallyStarted) {
  Journal journal = open_journal();
  const auto ahead = add_one(journal, 1, "ahead");
  const auto plain = add_one(journal, 2, "plain");
  Transition start;
  start.at = at_ms(100);
  start.new_attempt = true;
  ASSERT_TRUE(journal.transition(ahead, State::submitting, start).ok());
  ASSERT_TRUE(journal.transition(plain, State::submitting, start).ok());
  Transition done;
  done.at = at_ms(900);
  done.smtp_code = 250;
  done.started_at = at_ms(400);  // the record was made ahead at 100
  ASSERT_TRUE(journal.transition(ahead, State::submitted, done).ok());
  done.started_at.reset();
  ASSERT_TRUE(journal.transition(plain, State::submitted, done).ok());
  const auto times = journal.submissions_since(at_ms(0)).value();
  ASSERT_EQ(times.size(), 2u);
  EXPECT_EQ(times[0], at_ms(100));  // `plain` keeps its record's time
  EXPECT_EQ(times[1], at_ms(400));
  // Only leaving `submitting` moves it: a receipt's step never does.
  Transition later;
  later.at = at_ms(2000);
  later.started_at = at_ms(1500);
  ASSERT_TRUE(journal.transition(ahead, State::accepted, later).ok());
  EXPECT_EQ(journal.submissions_since(at_ms(0)).value()[1], at_ms(400));
}

TEST_F(JournalTest, AnAttemptEndedBeforeDataIsNotASubmission) {
  Journal journal = open_journal();
  const auto refused = add_one(journal, 1, "refused");
  const auto sent = add_one(journal, 2, "sent");
  Transition start;
  start.at = at_ms(100);
  start.new_attempt = true;
  ASSERT_TRUE(journal.transition(refused, State::submitting, start).ok());
  ASSERT_TRUE(journal.transition(sent, State::submitting, start).ok());
  ASSERT_EQ(journal.submissions_since(at_ms(0))->size(), 2u);

  Transition rcpt;
  rcpt.at = at_ms(200);
  rcpt.smtp_code = 550;
  rcpt.before_data = true;
  ASSERT_TRUE(journal.transition(refused, State::failed, rcpt).ok());
  Transition ok;
  ok.at = at_ms(300);
  ok.smtp_code = 250;
  ASSERT_TRUE(journal.transition(sent, State::submitted, ok).ok());

  const auto submissions = journal.submissions_since(at_ms(0)).value();
  ASSERT_EQ(submissions.size(), 1u);
  EXPECT_EQ(submissions[0], at_ms(100));
  EXPECT_EQ(journal.get(refused)->attempts, 1u);
  EXPECT_EQ(journal.get(refused)->last_code, 550);
}

// The send run's journal writer (src/campaign/journal_writer.hpp): commits
// in submission order, groups what arrives during a commit into one
// transaction, and fails every waiter after the first journal error.
#include "journal_writer.hpp"

#include "journal_test_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

using namespace pecbatch;
using namespace pecbatch::journal;
using namespace pecbatch::journal::test;
using pecbatch::campaign::JournalWriter;

namespace {

Change change(std::int64_t id, State to, std::int64_t ms, bool durable = true) {
  Transition info;
  info.at = at_ms(ms);
  info.durable = durable;
  info.new_attempt = to == State::submitting;
  info.detail = "t" + std::to_string(ms);
  return Change{id, to, info};
}

class JournalWriterTest : public JournalTest {};

TEST_F(JournalWriterTest, CommitsEveryChangeInSubmissionOrder) {
  Journal journal = open_journal();
  const auto a = add_one(journal, 1, "a");
  const auto b = add_one(journal, 2, "b");
  std::mutex journal_mutex;
  JournalWriter writer(journal, journal_mutex, [](const core::Error&) {});
  const auto first = writer.submit(change(a, State::submitting, 10));
  ASSERT_TRUE(writer.wait(first).ok());
  {
    std::lock_guard lock(journal_mutex);
    EXPECT_EQ(journal.get(a)->state, State::submitting);
  }
  writer.submit(change(a, State::submitted, 20, false));
  writer.submit(change(b, State::submitting, 30));
  writer.submit(change(b, State::queued, 40, false));
  const auto last = writer.submit(change(b, State::submitting, 50));
  EXPECT_EQ(last, first + 4);
  ASSERT_TRUE(writer.wait(last).ok());
  ASSERT_TRUE(writer.finish().ok());

  EXPECT_EQ(journal.get(a)->state, State::submitted);
  EXPECT_EQ(journal.get(b)->state, State::submitting);
  EXPECT_EQ(journal.get(b)->attempts, 2u);
  const auto events = journal.events(b).value();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[1].detail, "t30");
  EXPECT_EQ(events[2].to, State::queued);
  EXPECT_EQ(events[3].detail, "t50");
}

TEST_F(JournalWriterTest, WhatArrivesDuringACommitGoesIntoOneTransaction) {
  Journal journal = open_journal();
  std::vector<std::int64_t> ids;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    ids.push_back(add_one(journal, i, "r" + std::to_string(i)));
  }
  std::mutex journal_mutex;
  JournalWriter writer(journal, journal_mutex, [](const core::Error&) {});
  JournalWriter::Ticket last = 0;
  {
    // Holding the journal stands for a slow commit: the writer can take at
    // most the first change before it, and must group the nine others.
    std::lock_guard busy(journal_mutex);
    for (const auto id : ids) {
      last = writer.submit(change(id, State::submitting, 10));
    }
  }
  ASSERT_TRUE(writer.wait(last).ok());
  EXPECT_GE(writer.commits(), 1u);
  EXPECT_LE(writer.commits(), 2u);
  ASSERT_TRUE(writer.finish().ok());
  for (const auto id : ids) {
    EXPECT_EQ(journal.get(id)->state, State::submitting);
  }
}

TEST_F(JournalWriterTest, FinishCommitsWhatIsQueued) {
  Journal journal = open_journal();
  const auto a = add_one(journal, 1, "a");
  std::mutex journal_mutex;
  {
    JournalWriter writer(journal, journal_mutex, [](const core::Error&) {});
    writer.submit(change(a, State::submitting, 10));
    writer.submit(change(a, State::submitted, 20, false));
    ASSERT_TRUE(writer.finish().ok());
  }
  EXPECT_EQ(journal.get(a)->state, State::submitted);
}

TEST_F(JournalWriterTest, AJournalErrorFailsEveryLaterWaiterAndIsReportedOnce) {
  Journal journal = open_journal();
  const auto a = add_one(journal, 1, "a");
  const auto b = add_one(journal, 2, "b");
  std::mutex journal_mutex;
  std::atomic<int> reported{0};
  JournalWriter writer(journal, journal_mutex,
                       [&](const core::Error&) { reported.fetch_add(1); });
  const auto ok = writer.submit(change(a, State::submitting, 10));
  ASSERT_TRUE(writer.wait(ok).ok());
  // queued -> submitted is illegal.
  const auto bad = writer.submit(change(b, State::submitted, 20));
  const auto failed = writer.wait(bad);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("illegal transition"), std::string::npos);
  const auto later = writer.submit(change(a, State::submitted, 30, false));
  EXPECT_FALSE(writer.wait(later).ok());
  const auto finished = writer.finish();
  ASSERT_FALSE(finished.ok());
  EXPECT_EQ(finished.error().message, failed.error().message);
  EXPECT_EQ(reported.load(), 1);
  // Nothing after the error was committed.
  EXPECT_EQ(journal.get(a)->state, State::submitting);
  EXPECT_EQ(journal.get(b)->state, State::queued);
}

} // namespace

namespace {

TEST_F(JournalWriterTest, AnOutcomeWaitsForTheNextRecordToShareItsCommit) {
  Journal journal = open_journal();
  const auto a = add_one(journal, 1, "a");
  const auto b = add_one(journal, 2, "b");
  std::mutex journal_mutex;
  // A linger far longer than the test: the outcome can only be committed
  // together with the record that follows it.
  JournalWriter writer(journal, journal_mutex, [](const core::Error&) {},
                       std::chrono::minutes(10));
  ASSERT_TRUE(writer.wait(writer.submit(change(a, State::submitting, 10))).ok());
  ASSERT_EQ(writer.commits(), 1u);
  writer.submit(change(a, State::submitted, 20, false));
  const auto next = writer.submit(change(b, State::submitting, 30));
  ASSERT_TRUE(writer.wait(next).ok());
  EXPECT_EQ(writer.commits(), 2u);
  {
    std::lock_guard lock(journal_mutex);
    EXPECT_EQ(journal.get(a)->state, State::submitted);
  }
  // The last outcome of a run is committed by finish(), not after the linger.
  writer.submit(change(b, State::submitted, 40, false));
  ASSERT_TRUE(writer.finish().ok());
  EXPECT_EQ(writer.commits(), 3u);
  EXPECT_EQ(journal.get(b)->state, State::submitted);
}

TEST_F(JournalWriterTest, AnOutcomeSomeoneWaitsForIsCommittedWithoutLinger) {
  Journal journal = open_journal();
  const auto a = add_one(journal, 1, "a");
  std::mutex journal_mutex;
  // A linger longer than the wait may take: only the wait can end it.
  JournalWriter writer(journal, journal_mutex, [](const core::Error&) {},
                       std::chrono::seconds(5));
  ASSERT_TRUE(writer.wait(writer.submit(change(a, State::submitting, 10))).ok());
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(writer.wait(writer.submit(change(a, State::submitted, 20, false))).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  EXPECT_EQ(writer.commits(), 2u);
  std::lock_guard lock(journal_mutex);
  EXPECT_EQ(journal.get(a)->state, State::submitted);
}

TEST_F(JournalWriterTest, WithoutLingerAnOutcomeIsCommittedAlone) {
  Journal journal = open_journal();
  const auto a = add_one(journal, 1, "a");
  std::mutex journal_mutex;
  JournalWriter writer(journal, journal_mutex, [](const core::Error&) {},
                       std::chrono::milliseconds(0));
  ASSERT_TRUE(writer.wait(writer.submit(change(a, State::submitting, 10))).ok());
  ASSERT_TRUE(writer.wait(writer.submit(change(a, State::submitted, 20, false))).ok());
  EXPECT_EQ(writer.commits(), 2u);
  std::lock_guard lock(journal_mutex);
  EXPECT_EQ(journal.get(a)->state, State::submitted);
}

TEST_F(JournalWriterTest, NewRowsAreInsertedBeforeTheChangesSubmittedAfterThem) {
  Journal journal = open_journal();
  const auto known = add_one(journal, 1, "known");
  const std::int64_t first_id = journal.next_row_id().value();
  EXPECT_EQ(first_id, known + 1);
  NewRow a = new_row(2, "a");
  a.id = first_id;
  NewRow b = new_row(3, "b");
  b.id = first_id + 1;
  std::mutex journal_mutex;
  JournalWriter writer(journal, journal_mutex, [](const core::Error&) {},
                       std::chrono::minutes(10));
  {
    // One commit for all of it: the writer is held off until everything
    // is queued, and the rows must come first in it.
    std::lock_guard busy(journal_mutex);
    writer.add({a, b}, at_ms(5));
    writer.submit(change(b.id, State::submitting, 10));
  }
  const auto last = writer.submit(change(a.id, State::submitting, 20));
  ASSERT_TRUE(writer.wait(last).ok());
  EXPECT_LE(writer.commits(), 2u);
  ASSERT_TRUE(writer.finish().ok());

  const auto row_a = journal.find_by_message_id(a.message_id).value();
  ASSERT_TRUE(row_a.has_value());
  EXPECT_EQ(row_a->id, a.id);
  EXPECT_EQ(row_a->row, 2u);
  EXPECT_EQ(row_a->content_sha256, "sha-a");
  EXPECT_EQ(row_a->state, State::submitting);
  EXPECT_EQ(journal.get(b.id)->state, State::submitting);
  EXPECT_EQ(journal.get(b.id)->created, at_ms(5));
  const auto events = journal.events(b.id).value();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].from, std::nullopt);
  EXPECT_EQ(events[0].to, State::queued);
  EXPECT_EQ(events[1].to, State::submitting);
}

TEST_F(JournalWriterTest, RowsAloneAreCommittedAfterTheLinger) {
  Journal journal = open_journal();
  NewRow a = new_row(1, "a");
  a.id = journal.next_row_id().value();
  std::mutex journal_mutex;
  JournalWriter writer(journal, journal_mutex, [](const core::Error&) {},
                       std::chrono::milliseconds(0));
  ASSERT_TRUE(writer.wait(writer.add({a}, at_ms(0))).ok());
  EXPECT_EQ(writer.commits(), 1u);
  std::lock_guard lock(journal_mutex);
  EXPECT_EQ(journal.get(a.id)->state, State::queued);
}

TEST_F(JournalWriterTest, AnIdAlreadyTakenFailsTheRunInsteadOfNamingAnotherRow) {
  Journal journal = open_journal();
  const auto known = add_one(journal, 1, "known");
  NewRow again = new_row(1, "known");  // same Message-ID, a fresh id
  again.id = known + 1;
  NewRow clash = new_row(2, "clash");  // a fresh Message-ID, a taken id
  clash.id = known;
  for (const auto& row : {again, clash}) {
    std::mutex journal_mutex;
    std::atomic<int> errors{0};
    JournalWriter writer(journal, journal_mutex, [&](const core::Error&) { ++errors; },
                         std::chrono::milliseconds(0));
    writer.add({row}, at_ms(0));
    const auto status = writer.wait(writer.submit(change(row.id, State::submitting, 10)));
    ASSERT_FALSE(status.ok()) << row.message_id;
    EXPECT_FALSE(writer.finish().ok());
    EXPECT_EQ(errors.load(), 1);
  }
  EXPECT_EQ(journal.get(known)->state, State::queued);
  EXPECT_FALSE(journal.find_by_message_id(clash.message_id)->has_value());
}

} // namespace

// Schema v2: the receipts table, receipt effects on rows, the mailbox
// cursor, and the migration of a v1 journal.

#include <pecbatch/journal/journal.hpp>

#include "journal_test_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace pecbatch;
using namespace pecbatch::journal;
using namespace pecbatch::journal::test;

namespace {

ReceiptRecord receipt(std::uint64_t uid, std::uint64_t uidvalidity = 7) {
  ReceiptRecord r;
  r.uid = uid;
  r.uidvalidity = uidvalidity;
  r.message_id = "m" + std::to_string(uid);
  r.kind = "accettazione";
  r.signature = "valid";
  r.sha256 = std::string(64, static_cast<char>('a' + uid % 6));
  r.at = at_ms(static_cast<long long>(uid) * 10);
  return r;
}

} // namespace

TEST_F(JournalTest, RecordsAReceiptOncePerUidAndAdvancesTheCursor) {
  Journal journal = open_journal();
  EXPECT_FALSE(journal.mailbox_cursor()->has_value());
  auto first = journal.record_receipt(receipt(3), std::nullopt);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->recorded);
  auto again = journal.record_receipt(receipt(3), std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->recorded);
  EXPECT_EQ(journal.receipts()->size(), 1u);
  EXPECT_TRUE(*journal.has_receipt(7, 3));
  EXPECT_FALSE(*journal.has_receipt(8, 3));
  EXPECT_TRUE(*journal.has_receipt_sha256(receipt(3).sha256));
  auto cursor = journal.mailbox_cursor().value();
  ASSERT_TRUE(cursor.has_value());
  EXPECT_EQ(cursor->uidvalidity, 7u);
  EXPECT_EQ(cursor->last_uid, 3u);
  // Never backwards within one UIDVALIDITY.
  ASSERT_TRUE(journal.record_receipt(receipt(2), std::nullopt).ok());
  EXPECT_EQ(journal.mailbox_cursor().value()->last_uid, 3u);
  // Another UIDVALIDITY: the same UID is another message.
  auto other = journal.record_receipt(receipt(3, 9), std::nullopt);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->recorded);
  EXPECT_EQ(journal.mailbox_cursor().value()->uidvalidity, 9u);
  ASSERT_TRUE(journal.set_mailbox_cursor({11, 0}).ok());
  EXPECT_EQ(journal.mailbox_cursor().value()->uidvalidity, 11u);
  EXPECT_EQ(journal.mailbox_cursor().value()->last_uid, 0u);
}

TEST_F(JournalTest, AReceiptAppliesOnlyAllowedStepsInOneTransaction) {
  Journal journal = open_journal();
  const auto id = add_one(journal, 2, "rossi");
  for (State s : {State::sending, State::submitting, State::submitted}) {
    move(journal, id, s);
  }
  auto r = receipt(1);
  r.row_id = id;
  ReceiptEffect effect{id, {State::accepted, State::sent_external}, "", "", "accettazione"};
  auto outcome = journal.record_receipt(r, effect);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->applied, (std::vector<State>{State::accepted, State::sent_external}));
  EXPECT_EQ(journal.get(id)->state, State::sent_external);

  // A later receipt whose step is not allowed from a final state is kept
  // but changes nothing.
  auto late = receipt(2);
  late.row_id = id;
  ReceiptEffect failure{id, {State::delivery_failed}, "5.1.1 - x", "5.1.1", "errore-consegna"};
  outcome = journal.record_receipt(late, failure);
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->recorded);
  EXPECT_TRUE(outcome->applied.empty());
  const auto row = journal.get(id).value();
  EXPECT_EQ(row.state, State::sent_external);
  EXPECT_EQ(row.last_text, "");
  EXPECT_EQ(journal.receipts()->size(), 2u);
}

TEST_F(JournalTest, AReceiptKeepsTheErrorTextOnTheRow) {
  Journal journal = open_journal();
  const auto id = add_one(journal, 2, "rossi");
  for (State s : {State::sending, State::submitting, State::submitted}) {
    move(journal, id, s);
  }
  ReceiptEffect failure{id, {State::delivery_failed}, "no-dest: 5.1.1 - indirizzo non valido",
                        "5.1.1", "errore-consegna"};
  ASSERT_TRUE(journal.record_receipt(receipt(1), failure).ok());
  const auto row = journal.get(id).value();
  EXPECT_EQ(row.state, State::delivery_failed);
  EXPECT_EQ(row.last_text, "no-dest: 5.1.1 - indirizzo non valido");
  EXPECT_EQ(row.last_enhanced, "5.1.1");
  const auto events = journal.events(id).value();
  EXPECT_EQ(events.back().detail, "errore-consegna");
}

TEST_F(JournalTest, MigratesAVersionOneJournalKeepingItsRows) {
  {
    // What pecbatch wrote at schema 1: no receipts table, user_version 1.
    RawDb raw(file());
    ASSERT_EQ(raw.exec(std::string(k_released_schema_v1) +
                       "PRAGMA application_id = 1346716482; PRAGMA user_version = 1;"
                       "INSERT INTO meta VALUES('campaign_id', 'avviso-2025');"
                       "INSERT INTO rows(row, address, message_id, state, created_ms, "
                       "updated_ms) VALUES(4, 'bianchi@pec.example.it', "
                       "'<bianchi@pecbatch.example>', 'queued', 0, 0)"),
              "");
  }
  Journal journal = open_journal();
  EXPECT_EQ(journal.counts()->at(State::queued), 1u);
  EXPECT_TRUE(journal.record_receipt(receipt(1), std::nullopt)->recorded);
  RawDb raw(file());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 3);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM receipts"), 1);
}

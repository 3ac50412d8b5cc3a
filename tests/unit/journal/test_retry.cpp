// Schema v3: rows sent again under a new Message-ID (retry_row,
// resend_uncertain), the chain of attempts (find_current, current_counts),
// and the migration of a v2 journal.

#include <pecbatch/journal/journal.hpp>

#include "journal_test_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace pecbatch;
using namespace pecbatch::journal;
using namespace pecbatch::journal::test;

namespace {

std::string mid(const std::string& tag) { return "<" + tag + "@pecbatch.example>"; }

class RetryTest : public JournalTest {
protected:
  // Adds row `tag` and walks it to `state`; returns its id.
  std::int64_t row_in(Journal& journal, std::uint64_t row, const std::string& tag,
                      State state) {
    const std::int64_t id = add_one(journal, row, tag);
    walk(journal, id, state);
    return id;
  }

  static Resend request(std::int64_t id, const std::string& new_message_id,
                        const std::string& detail = "by test") {
    Resend r;
    r.id = id;
    r.new_message_id = new_message_id;
    r.at = at_ms(1000);
    r.detail = detail;
    return r;
  }

  // Rows and events, to check that a refusal changed nothing.
  std::pair<long long, long long> sizes() {
    RawDb raw(file());
    return {raw.integer("SELECT count(*) FROM rows"),
            raw.integer("SELECT count(*) FROM events")};
  }
};

ReceiptRecord receipt_for(const std::string& message_id, std::uint64_t uid,
                          const std::string& signature) {
  ReceiptRecord r;
  r.uid = uid;
  r.uidvalidity = 9;
  r.message_id = message_id;
  r.kind = "accettazione";
  r.signature = signature;
  r.sha256 = std::string(64, 'c');
  r.at = at_ms(500);
  return r;
}

} // namespace

TEST_F(RetryTest, ARetryIsANewQueuedRowLinkedToTheFailedOne) {
  Journal journal = open_journal();
  const std::int64_t old_id = row_in(journal, 4, "rossi", State::failed);
  const auto before = journal.get(old_id).value();

  auto added = journal.retry_row(request(old_id, mid("rossi.2"), "pecbatch retry by ada"));
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_NE(added->id, old_id);
  EXPECT_EQ(added->row, 4u);
  EXPECT_EQ(added->address, "rossi@pec.example.it");
  EXPECT_EQ(added->message_id, mid("rossi.2"));
  EXPECT_EQ(added->state, State::queued);
  EXPECT_EQ(added->generation, 2u);
  EXPECT_EQ(added->retry_of, std::optional<std::int64_t>(old_id));
  EXPECT_FALSE(added->superseded_by.has_value());
  EXPECT_EQ(added->attempts, 0u);
  EXPECT_EQ(added->content_sha256, "");  // fixed by the next send's plan
  EXPECT_EQ(added->created, at_ms(1000));

  // The old row keeps its state, its reply and its history, and is linked.
  const auto old = journal.get(old_id).value();
  EXPECT_EQ(old.state, State::failed);
  EXPECT_EQ(old.generation, 1u);
  EXPECT_EQ(old.superseded_by, std::optional<std::int64_t>(added->id));
  EXPECT_EQ(old.attempts, before.attempts);
  EXPECT_EQ(old.sent_sha256, before.sent_sha256);
  EXPECT_EQ(old.message_id, mid("rossi"));

  const auto old_events = journal.events(old_id).value();
  ASSERT_GE(old_events.size(), 2u);
  EXPECT_EQ(old_events.back().from, std::optional<State>(State::failed));
  EXPECT_EQ(old_events.back().to, State::failed);
  EXPECT_EQ(old_events.back().detail,
            "superseded by " + mid("rossi.2") + ": pecbatch retry by ada");
  const auto new_events = journal.events(added->id).value();
  ASSERT_EQ(new_events.size(), 1u);
  EXPECT_FALSE(new_events[0].from.has_value());
  EXPECT_EQ(new_events[0].to, State::queued);
  EXPECT_EQ(new_events[0].detail, "retry of " + mid("rossi") + ": pecbatch retry by ada");
}

TEST_F(RetryTest, EveryRetryableStateCanBeRetried) {
  Journal journal = open_journal();
  std::uint64_t row = 1;
  for (const State state : all_states()) {
    if (!is_retryable(state)) {
      continue;
    }
    const std::string tag = std::string("r") + to_string(state);
    const std::int64_t id = row_in(journal, row++, tag, state);
    auto added = journal.retry_row(request(id, mid(tag + ".2")));
    ASSERT_TRUE(added.ok()) << to_string(state) << ": " << added.error().message;
    EXPECT_EQ(journal.get(id)->state, state);
  }
  EXPECT_EQ(row, 6u);
}

TEST_F(RetryTest, ADeliveredRowIsNeverRetried) {
  Journal journal = open_journal();
  const std::int64_t id = row_in(journal, 2, "ok", State::delivered);
  const auto before = sizes();
  auto refused = journal.retry_row(request(id, mid("ok.2")));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, core::ErrorKind::input);
  EXPECT_NE(refused.error().message.find("a delivered row is never sent again"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(sizes(), before);
  EXPECT_FALSE(journal.find_by_message_id(mid("ok.2"))->has_value());
  EXPECT_FALSE(journal.resend_uncertain(request(id, mid("ok.2"))).ok());
  EXPECT_EQ(sizes(), before);
  // Not even by hand: the schema refuses it.
  RawDb raw(file());
  EXPECT_EQ(raw.exec("UPDATE rows SET superseded_by = id WHERE state = 'delivered'"),
            "a delivered journal row is never sent again");
}

TEST_F(RetryTest, RowsThatAreNotFailuresAreRefused) {
  Journal journal = open_journal();
  std::uint64_t row = 1;
  for (const State state : all_states()) {
    if (is_retryable(state) || state == State::abandoned) {
      continue;
    }
    const std::string tag = std::string("n") + to_string(state);
    const std::int64_t id = row_in(journal, row++, tag, state);
    const auto before = sizes();
    auto refused = journal.retry_row(request(id, mid(tag + ".2")));
    ASSERT_FALSE(refused.ok()) << to_string(state);
    EXPECT_EQ(refused.error().kind, core::ErrorKind::input) << to_string(state);
    EXPECT_EQ(sizes(), before) << to_string(state);
    EXPECT_EQ(journal.get(id)->state, state);
    if (state == State::uncertain) {
      EXPECT_NE(refused.error().message.find("resolve --resend-uncertain"), std::string::npos)
          << refused.error().message;
    }
  }
}

TEST_F(RetryTest, ARowIsSentAgainOnlyOnceAndTheChainLeadsToTheLatestAttempt) {
  Journal journal = open_journal();
  const std::int64_t first = row_in(journal, 3, "bianchi", State::rejected);
  const auto second = journal.retry_row(request(first, mid("bianchi.2"))).value();
  // The replaced row cannot be retried again: its successor is the one.
  const auto before = sizes();
  auto twice = journal.retry_row(request(first, mid("bianchi.2b")));
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message.find("already sent again as " + mid("bianchi.2")),
            std::string::npos)
      << twice.error().message;
  EXPECT_EQ(sizes(), before);

  // The second attempt fails too, and is retried in turn.
  move(journal, second.id, State::sending, 2000);
  move(journal, second.id, State::failed, 2001);
  const auto third = journal.retry_row(request(second.id, mid("bianchi.3"))).value();
  EXPECT_EQ(third.generation, 3u);
  EXPECT_EQ(third.retry_of, std::optional<std::int64_t>(second.id));

  // Planning looks a contact up by its first Message-ID and gets the
  // latest attempt; the plain lookup still finds each row.
  const auto current = journal.find_current(mid("bianchi")).value();
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->id, third.id);
  EXPECT_EQ(current->message_id, mid("bianchi.3"));
  EXPECT_EQ(current->state, State::queued);
  EXPECT_EQ(journal.find_current(mid("bianchi.2"))->value().id, third.id);
  EXPECT_EQ(journal.find_by_message_id(mid("bianchi"))->value().id, first);
  EXPECT_FALSE(journal.find_current(mid("nobody"))->has_value());

  // A row never retried is its own latest attempt.
  const std::int64_t plain = add_one(journal, 9, "verdi");
  EXPECT_EQ(journal.find_current(mid("verdi"))->value().id, plain);

  // Counts: every row; current counts: the latest attempt of each.
  const auto all = journal.counts().value();
  EXPECT_EQ(all.at(State::rejected), 1u);
  EXPECT_EQ(all.at(State::failed), 1u);
  EXPECT_EQ(all.at(State::queued), 2u);
  const auto current_counts = journal.current_counts().value();
  EXPECT_EQ(current_counts.count(State::rejected), 0u);
  EXPECT_EQ(current_counts.count(State::failed), 0u);
  EXPECT_EQ(current_counts.at(State::queued), 2u);

  // Lineage is fixed once written.
  RawDb raw(file());
  EXPECT_EQ(raw.exec("UPDATE rows SET superseded_by = NULL WHERE id = " +
                     std::to_string(first)),
            "a journal row is superseded only once");
  EXPECT_EQ(raw.exec("UPDATE rows SET generation = 7"),
            "a journal row's generation and predecessor never change");
}

TEST_F(RetryTest, ANewMessageIdThatExistsIsRefused) {
  Journal journal = open_journal();
  const std::int64_t id = row_in(journal, 1, "a", State::failed);
  add_one(journal, 2, "b");
  const auto before = sizes();
  auto refused = journal.retry_row(request(id, mid("b")));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, core::ErrorKind::input);
  EXPECT_EQ(sizes(), before);
  EXPECT_FALSE(journal.get(id)->superseded_by.has_value());
}

TEST_F(RetryTest, AnUncertainRowIsAbandonedAndSentAgainWhenNoReceiptNamesIt) {
  Journal journal = open_journal();
  const std::int64_t id = row_in(journal, 5, "forse", State::uncertain);
  auto added = journal.resend_uncertain(request(id, mid("forse.2"), "resolve by ada"));
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_EQ(added->state, State::queued);
  EXPECT_EQ(added->generation, 2u);
  EXPECT_EQ(added->retry_of, std::optional<std::int64_t>(id));
  const auto old = journal.get(id).value();
  EXPECT_EQ(old.state, State::abandoned);
  EXPECT_EQ(old.superseded_by, std::optional<std::int64_t>(added->id));
  const auto events = journal.events(id).value();
  EXPECT_EQ(events.back().from, std::optional<State>(State::uncertain));
  EXPECT_EQ(events.back().to, State::abandoned);
  EXPECT_EQ(events.back().detail, "abandoned, sent again as " + mid("forse.2") +
                                      ": resolve by ada");
  EXPECT_EQ(journal.events(added->id)->front().detail,
            "resend of uncertain " + mid("forse") + ": resolve by ada");
  EXPECT_EQ(journal.find_current(mid("forse"))->value().id, added->id);

  // Should the provider have taken the first message after all, its
  // receipts still move the abandoned row (the duplicate shows).
  ReceiptEffect effect;
  effect.row_id = id;
  effect.steps = {State::accepted};
  effect.detail = "accettazione";
  const auto outcome = journal.record_receipt(receipt_for(mid("forse"), 1, "valid"), effect);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->applied, std::vector<State>{State::accepted});
  EXPECT_EQ(journal.get(id)->state, State::accepted);
  EXPECT_EQ(journal.get(id)->superseded_by, std::optional<std::int64_t>(added->id));
}

TEST_F(RetryTest, AnUncertainRowWithAnyRecordedReceiptIsNotSentAgain) {
  Journal journal = open_journal();
  const std::int64_t id = row_in(journal, 5, "preso", State::uncertain);
  // An untrusted receipt changes no state, but proves the provider has it.
  ASSERT_TRUE(
      journal.record_receipt(receipt_for(mid("preso"), 4, "untrusted"), std::nullopt).ok());
  const auto before = sizes();
  auto refused = journal.resend_uncertain(request(id, mid("preso.2")));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, core::ErrorKind::input);
  EXPECT_NE(refused.error().message.find("1 receipt naming its Message-ID recorded "
                                         "(accettazione)"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(sizes(), before);
  EXPECT_EQ(journal.get(id)->state, State::uncertain);
  EXPECT_FALSE(journal.get(id)->superseded_by.has_value());
}

TEST_F(RetryTest, ResendUncertainRefusesEveryOtherState) {
  Journal journal = open_journal();
  const std::int64_t id = row_in(journal, 1, "failed", State::failed);
  auto refused = journal.resend_uncertain(request(id, mid("failed.2")));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("is failed, not uncertain"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(journal.get(id)->superseded_by.has_value());
}

// ---- migration from schema 2 ----

namespace {

// A journal as pecbatch wrote it at schema 2, with rows in a few states.
const std::string k_v2_journal = std::string(k_released_schema_v1) + k_released_schema_v2 + R"sql(
PRAGMA application_id = 1346716482;
PRAGMA user_version = 2;
INSERT INTO meta VALUES('campaign_id', 'avviso-2025');
INSERT INTO rows(id, row, address, message_id, state, attempts, last_code, last_enhanced,
                 created_ms, updated_ms)
  VALUES(1, 2, 'a@pec.example.it', '<a@pecbatch.example>', 'failed', 1, 550, '5.1.1', 1, 2),
        (2, 3, 'b@pec.example.it', '<b@pecbatch.example>', 'delivered', 1, 250, '2.0.0', 1, 3),
        (3, 4, 'c@pec.example.it', '<c@pecbatch.example>', 'uncertain', 1, 0, '', 1, 4);
INSERT INTO events(row_id, at_ms, from_state, to_state, detail)
  VALUES(1, 1, NULL, 'queued', 'added'), (1, 2, 'sending', 'failed', 'permanent'),
        (2, 1, NULL, 'queued', 'added'), (3, 1, NULL, 'queued', 'added');
INSERT INTO receipts(uid, uidvalidity, message_id, kind, signature, row_id, at_ms)
  VALUES(1, 5, '<b@pecbatch.example>', 'avvenuta-consegna', 'valid', 2, 3);
)sql";

} // namespace

TEST_F(RetryTest, MigratesAVersionTwoJournalKeepingItsRows) {
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec(k_v2_journal), "");
  }
  {
    Journal journal = open_journal();
    const auto failed = journal.get(1).value();
    EXPECT_EQ(failed.state, State::failed);
    EXPECT_EQ(failed.last_code, 550);
    EXPECT_EQ(failed.generation, 1u);
    EXPECT_FALSE(failed.retry_of.has_value());
    EXPECT_FALSE(failed.superseded_by.has_value());
    EXPECT_EQ(journal.events(1)->size(), 2u);
    EXPECT_EQ(journal.receipts_for("<b@pecbatch.example>")->size(), 1u);

    // The migrated rows work with retries at once.
    const auto added = journal.retry_row(request(1, "<a.2@pecbatch.example>"));
    ASSERT_TRUE(added.ok()) << added.error().message;
    EXPECT_EQ(added->generation, 2u);
    EXPECT_EQ(journal.find_current("<a@pecbatch.example>")->value().id, added->id);
    EXPECT_FALSE(journal.retry_row(request(2, "<b.2@pecbatch.example>")).ok());
    EXPECT_TRUE(journal.resend_uncertain(request(3, "<c.2@pecbatch.example>")).ok());
  }
  RawDb raw(file());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 3);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM rows"), 5);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM rows WHERE generation = 1"), 3);
  EXPECT_EQ(raw.text("SELECT state FROM rows WHERE id = 3"), "abandoned");
  EXPECT_EQ(raw.integer("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"), 7);
}

TEST_F(RetryTest, AReaderSeesAVersionTwoJournalMigratedWithoutChangingIt) {
  {
    RawDb raw(file());
    ASSERT_EQ(raw.exec(k_v2_journal), "");
  }
  {
    auto reader = Journal::open_read_only(file(), k_campaign);
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    const auto row = reader->find_current("<a@pecbatch.example>").value();
    ASSERT_TRUE(row.has_value());
    EXPECT_EQ(row->generation, 1u);
    EXPECT_EQ(reader->current_counts()->at(State::failed), 1u);
  }
  RawDb raw(file());
  EXPECT_EQ(raw.integer("PRAGMA user_version"), 2);
}

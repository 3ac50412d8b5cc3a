#pragma once

#include <pecbatch/journal/journal.hpp>

#include "support/temp_dir.hpp"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pecbatch::journal::test {

inline core::TimePoint at_ms(long long ms) {
  return core::from_unix_ms(1'795'000'000'000 + ms);
}

// Every state, in declaration order.
inline const std::vector<State>& all_states() {
  static const std::vector<State> states = {
      State::queued,        State::sending,        State::submitting,
      State::submitted,     State::deferred,       State::failed,
      State::uncertain,     State::accepted,       State::rejected,
      State::sent_external, State::delivered,      State::delivery_failed,
      State::delayed,       State::failed_timeout, State::no_receipt,
      State::abandoned,
  };
  return states;
}

// The state machine as specified (written out independently of
// is_allowed): every allowed (from, to) pair; all others are refused.
inline const std::set<std::pair<State, State>>& expected_transitions() {
  using S = State;
  static const std::set<std::pair<State, State>> table = {
      {S::queued, S::sending},           {S::deferred, S::sending},
      // The sender's record at the start of an attempt (before MAIL).
      {S::queued, S::submitting},        {S::deferred, S::submitting},
      {S::sending, S::submitting},       {S::sending, S::queued},
      {S::sending, S::deferred},         {S::sending, S::failed},
      {S::submitting, S::submitted},     {S::submitting, S::failed},
      {S::submitting, S::queued},        {S::submitting, S::deferred},
      {S::submitting, S::uncertain},
      {S::submitted, S::accepted},       {S::uncertain, S::accepted},
      {S::submitted, S::rejected},       {S::uncertain, S::rejected},
      {S::accepted, S::sent_external},
      {S::accepted, S::delivered},       {S::submitted, S::delivered},
      {S::uncertain, S::delivered},
      {S::accepted, S::delivery_failed}, {S::submitted, S::delivery_failed},
      {S::uncertain, S::delivery_failed},
      {S::accepted, S::delayed},         {S::submitted, S::delayed},
      {S::delayed, S::delivered},        {S::delayed, S::delivery_failed},
      {S::delayed, S::failed_timeout},
      {S::accepted, S::failed_timeout},  {S::submitted, S::failed_timeout},
      {S::failed_timeout, S::delivered},
      {S::accepted, S::no_receipt},      {S::submitted, S::no_receipt},
      // Receipts of an abandoned message: the provider had it after all.
      {S::abandoned, S::accepted},       {S::abandoned, S::rejected},
      {S::abandoned, S::delivered},      {S::abandoned, S::delivery_failed},
  };
  return table;
}

// Moves that transition() refuses but a linked operation makes: only
// Journal::resend_uncertain abandons an uncertain row (with its new row).
inline const std::set<std::pair<State, State>>& linked_transitions() {
  static const std::set<std::pair<State, State>> table = {
      {State::uncertain, State::abandoned},
  };
  return table;
}

// The shortest sequence of allowed (or linked) transitions from `queued` to `target`
// (empty for queued itself).
inline std::vector<State> path_to(State target) {
  std::map<State, State> parent;
  std::deque<State> todo = {State::queued};
  std::set<State> seen = {State::queued};
  while (!todo.empty()) {
    const State s = todo.front();
    todo.pop_front();
    for (const auto* table : {&expected_transitions(), &linked_transitions()}) {
      for (const auto& [from, to] : *table) {
        if (from == s && seen.insert(to).second) {
          parent[to] = s;
          todo.push_back(to);
        }
      }
    }
  }
  std::vector<State> path;
  for (State s = target; s != State::queued; s = parent.at(s)) {
    path.insert(path.begin(), s);
  }
  return path;
}

// The schema steps as released (copies of src/journal/schema.cpp, which
// never edits a released step): tests build old journals from them to
// check the migrations.
inline constexpr const char* k_released_schema_v1 = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE rows (
  id INTEGER PRIMARY KEY, row INTEGER NOT NULL, address TEXT NOT NULL,
  message_id TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, content_sha256 TEXT NOT NULL DEFAULT '',
  sent_sha256 TEXT NOT NULL DEFAULT '', last_code INTEGER NOT NULL DEFAULT 0,
  last_enhanced TEXT NOT NULL DEFAULT '', last_text TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
  submitting_ms INTEGER, submitted_ms INTEGER);
CREATE INDEX rows_state ON rows(state, row);
CREATE INDEX rows_row ON rows(row);
CREATE INDEX rows_submitting ON rows(submitting_ms) WHERE submitting_ms IS NOT NULL;
CREATE TABLE events (
  id INTEGER PRIMARY KEY, row_id INTEGER NOT NULL REFERENCES rows(id),
  at_ms INTEGER NOT NULL, from_state TEXT, to_state TEXT NOT NULL,
  smtp_code INTEGER NOT NULL DEFAULT 0, smtp_enhanced TEXT NOT NULL DEFAULT '',
  smtp_text TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '');
CREATE INDEX events_row ON events(row_id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END;
CREATE TRIGGER rows_no_delete BEFORE DELETE ON rows
BEGIN SELECT RAISE(ABORT, 'journal rows are never deleted'); END;
CREATE TRIGGER rows_fixed_message_id BEFORE UPDATE OF message_id ON rows
  WHEN NEW.message_id IS NOT OLD.message_id
BEGIN SELECT RAISE(ABORT, 'a journal row''s message_id never changes'); END;
)sql";
inline constexpr const char* k_released_schema_v2 = R"sql(
CREATE TABLE receipts (
  id INTEGER PRIMARY KEY, uid INTEGER NOT NULL, uidvalidity INTEGER NOT NULL,
  message_id TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT '',
  identificativo TEXT NOT NULL DEFAULT '', consegna TEXT NOT NULL DEFAULT '',
  errore TEXT NOT NULL DEFAULT '', errore_esteso TEXT NOT NULL DEFAULT '',
  time TEXT NOT NULL DEFAULT '', signature TEXT NOT NULL DEFAULT '',
  file TEXT NOT NULL DEFAULT '', sha256 TEXT NOT NULL DEFAULT '',
  row_id INTEGER REFERENCES rows(id), at_ms INTEGER NOT NULL,
  UNIQUE(uidvalidity, uid));
CREATE INDEX receipts_message_id ON receipts(message_id);
CREATE INDEX receipts_sha256 ON receipts(sha256);
)sql";

// A plain SQLite connection to look inside (or tamper with) a journal.
class RawDb {
public:
  explicit RawDb(const std::filesystem::path& path) {
    if (sqlite3_open(path.c_str(), &m_db) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path;
    }
  }
  ~RawDb() { sqlite3_close(m_db); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // Runs `sql`; returns the SQLite error message, empty on success.
  std::string exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &message);
    std::string out = rc == SQLITE_OK ? "" : (message != nullptr ? message : "error");
    sqlite3_free(message);
    return out;
  }

  // The first column of the first row of `sql` as text ("" when none).
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot prepare " << sql << ": " << sqlite3_errmsg(m_db);
      return out;
    }
    if (sqlite3_step(stmt) == SQLITE_ROW &&
        sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
    return out;
  }

  long long integer(const std::string& sql) {
    const std::string t = text(sql);
    return t.empty() ? 0 : std::stoll(t);
  }

private:
  sqlite3* m_db = nullptr;
};

// Each test gets a fresh directory; `file()` is the journal inside it.
class JournalTest : public pecbatch::test::TempDirTest {
protected:
  static constexpr const char* k_campaign = "avviso-2025";

  std::filesystem::path file() const { return dir() / "journal.sqlite"; }

  Journal open_journal() {
    auto journal = Journal::open(file(), k_campaign);
    if (!journal.ok()) {
      ADD_FAILURE() << "open failed: " << journal.error().message;
    }
    return std::move(journal).value_or_throw();
  }

  static NewRow new_row(std::uint64_t row, const std::string& tag) {
    return NewRow{row, tag + "@pec.example.it", "<" + tag + "@pecbatch.example>",
                  "sha-" + tag};
  }

  // Adds one row and returns its id.
  static std::int64_t add_one(Journal& journal, std::uint64_t row,
                              const std::string& tag) {
    auto added = journal.add_rows({new_row(row, tag)}, at_ms(0));
    EXPECT_TRUE(added.ok()) << added.error().message;
    auto found = journal.find_by_message_id("<" + tag + "@pecbatch.example>");
    if (!found.ok() || !found->has_value()) {
      ADD_FAILURE() << "row " << tag << " not found";
      return -1;
    }
    return (*found)->id;
  }

  static void move(Journal& journal, std::int64_t id, State to, long long ms = 1) {
    Transition info;
    info.at = at_ms(ms);
    info.new_attempt = to == State::sending;
    const auto status = journal.transition(id, to, info);
    ASSERT_TRUE(status.ok()) << status.error().message;
  }

  // Walks row `id` from queued along path_to(`target`); the linked step
  // uncertain -> abandoned is made by resend_uncertain, which adds the new
  // attempt (Message-ID + ".next").
  static void walk(Journal& journal, std::int64_t id, State target, long long ms = 1) {
    State at = State::queued;
    for (const State step : path_to(target)) {
      if (linked_transitions().count({at, step}) == 1) {
        Resend resend;
        resend.id = id;
        resend.new_message_id = journal.get(id)->message_id + ".next";
        resend.at = at_ms(ms);
        const auto added = journal.resend_uncertain(resend);
        ASSERT_TRUE(added.ok()) << added.error().message;
      } else {
        move(journal, id, step, ms);
      }
      ++ms;
      at = step;
    }
  }
};

} // namespace pecbatch::journal::test

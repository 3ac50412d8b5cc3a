#include "schema.hpp"

#include <pecbatch/core/strings.hpp>

#include <array>
#include <optional>
#include <string>

namespace pecbatch::journal::schema {

namespace {

// Version 1: the recipient rows, their append-only event log, and the
// campaign's key/value settings. States are stored as their to_string
// names; times as Unix milliseconds.
constexpr const char* k_schema_v1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);

CREATE TABLE rows (
  id             INTEGER PRIMARY KEY,
  row            INTEGER NOT NULL,
  address        TEXT NOT NULL,
  message_id     TEXT NOT NULL UNIQUE,
  state          TEXT NOT NULL,
  attempts       INTEGER NOT NULL DEFAULT 0,
  content_sha256 TEXT NOT NULL DEFAULT '',
  sent_sha256    TEXT NOT NULL DEFAULT '',
  last_code      INTEGER NOT NULL DEFAULT 0,
  last_enhanced  TEXT NOT NULL DEFAULT '',
  last_text      TEXT NOT NULL DEFAULT '',
  created_ms     INTEGER NOT NULL,
  updated_ms     INTEGER NOT NULL,
  submitting_ms  INTEGER,
  submitted_ms   INTEGER
);
CREATE INDEX rows_state ON rows(state, row);
CREATE INDEX rows_row ON rows(row);
CREATE INDEX rows_submitting ON rows(submitting_ms) WHERE submitting_ms IS NOT NULL;

CREATE TABLE events (
  id            INTEGER PRIMARY KEY,
  row_id        INTEGER NOT NULL REFERENCES rows(id),
  at_ms         INTEGER NOT NULL,
  from_state    TEXT,
  to_state      TEXT NOT NULL,
  smtp_code     INTEGER NOT NULL DEFAULT 0,
  smtp_enhanced TEXT NOT NULL DEFAULT '',
  smtp_text     TEXT NOT NULL DEFAULT '',
  detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_row ON events(row_id);

-- The event log is evidence: append-only.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
  SELECT RAISE(ABORT, 'journal events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
  SELECT RAISE(ABORT, 'journal events are append-only');
END;
-- Never lose a row; a row's Message-ID is fixed before its first attempt.
CREATE TRIGGER rows_no_delete BEFORE DELETE ON rows
BEGIN
  SELECT RAISE(ABORT, 'journal rows are never deleted');
END;
CREATE TRIGGER rows_fixed_message_id BEFORE UPDATE OF message_id ON rows
  WHEN NEW.message_id IS NOT OLD.message_id
BEGIN
  SELECT RAISE(ABORT, 'a journal row''s message_id never changes');
END;
)sql";

// Version 2: the receipts found in the sender's mailbox by the poller,
// one per (UIDVALIDITY, UID), so that a pass run again after a kill never
// counts a receipt twice. The mailbox cursor lives in meta
// (`imap:uidvalidity`, `imap:last_uid`).
constexpr const char* k_schema_v2 = R"sql(
CREATE TABLE receipts (
  id             INTEGER PRIMARY KEY,
  uid            INTEGER NOT NULL,
  uidvalidity    INTEGER NOT NULL,
  message_id     TEXT NOT NULL DEFAULT '',
  kind           TEXT NOT NULL DEFAULT '',
  identificativo TEXT NOT NULL DEFAULT '',
  consegna       TEXT NOT NULL DEFAULT '',
  errore         TEXT NOT NULL DEFAULT '',
  errore_esteso  TEXT NOT NULL DEFAULT '',
  time           TEXT NOT NULL DEFAULT '',
  signature      TEXT NOT NULL DEFAULT '',
  file           TEXT NOT NULL DEFAULT '',
  sha256         TEXT NOT NULL DEFAULT '',
  row_id         INTEGER REFERENCES rows(id),
  at_ms          INTEGER NOT NULL,
  UNIQUE(uidvalidity, uid)
);
CREATE INDEX receipts_message_id ON receipts(message_id);
CREATE INDEX receipts_sha256 ON receipts(sha256);
)sql";

// Version 3: rows sent again under a new Message-ID (`pecbatch retry`,
// `pecbatch resolve --resend-uncertain`). A retry is a new row, `queued`,
// with the next `generation` and `retry_of` naming the row it replaces;
// the replaced row keeps its state, evidence and events, and gains
// `superseded_by`. Rows written before version 3 are all generation 1
// (the only one pecbatch used), which the column default records.
constexpr const char* k_schema_v3 = R"sql(
ALTER TABLE rows ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
ALTER TABLE rows ADD COLUMN retry_of INTEGER REFERENCES rows(id);
ALTER TABLE rows ADD COLUMN superseded_by INTEGER REFERENCES rows(id);
-- A row is replaced at most once: its retries form a chain.
CREATE UNIQUE INDEX rows_retry_of ON rows(retry_of) WHERE retry_of IS NOT NULL;

CREATE TRIGGER rows_fixed_lineage BEFORE UPDATE OF generation, retry_of ON rows
  WHEN NEW.generation IS NOT OLD.generation OR NEW.retry_of IS NOT OLD.retry_of
BEGIN
  SELECT RAISE(ABORT, 'a journal row''s generation and predecessor never change');
END;
CREATE TRIGGER rows_superseded_once BEFORE UPDATE OF superseded_by ON rows
  WHEN OLD.superseded_by IS NOT NULL AND NEW.superseded_by IS NOT OLD.superseded_by
BEGIN
  SELECT RAISE(ABORT, 'a journal row is superseded only once');
END;
-- The last line of defence of "a delivered row is never sent again".
CREATE TRIGGER rows_delivered_never_superseded BEFORE UPDATE OF superseded_by ON rows
  WHEN NEW.superseded_by IS NOT NULL AND OLD.state = 'delivered'
BEGIN
  SELECT RAISE(ABORT, 'a delivered journal row is never sent again');
END;
)sql";

// One schema step: applied in its own transaction, after which
// `PRAGMA user_version` is `version`.
struct Migration {
  int version;
  const char* sql;
};

// The migrations in order. Append only: never edit a released step.
constexpr std::array k_migrations = {
    Migration{1, k_schema_v1},
    Migration{2, k_schema_v2},
    Migration{3, k_schema_v3},
};

constexpr bool versions_are_consecutive() {
  for (std::size_t i = 0; i < k_migrations.size(); ++i) {
    if (k_migrations[i].version != static_cast<int>(i) + 1) {
      return false;
    }
  }
  return true;
}
static_assert(versions_are_consecutive(), "migration i must lead to version i + 1");

core::Error config_error(const sqlite::Db& db, const std::string& what) {
  return core::make_error(core::ErrorKind::config, "journal " + db.path() + " " + what);
}

core::Result<std::optional<std::string>> stored_campaign(sqlite::Db& db) {
  PB_TRY_ASSIGN(sqlite::Query q, db.query("SELECT value FROM meta WHERE key = ?1"));
  q->bind_text(1, k_campaign_key);
  PB_TRY_ASSIGN(const bool found, q->step());
  if (!found) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(q->column_text(0));
}

core::Status check_campaign(sqlite::Db& db, const std::string& campaign_id) {
  PB_TRY_ASSIGN(const auto stored, stored_campaign(db));
  if (stored && *stored != campaign_id) {
    return config_error(db, "belongs to campaign " + core::quote(*stored) + ", not " +
                                core::quote(campaign_id) +
                                " (use another output directory)");
  }
  return core::Ok{};
}

core::Status check_not_newer(sqlite::Db& db, std::int64_t version) {
  if (version > current_version()) {
    return config_error(db, "was written by a newer pecbatch (schema " +
                                std::to_string(version) + ", this one knows " +
                                std::to_string(current_version()) + ")");
  }
  return core::Ok{};
}

core::Status check_application_id(sqlite::Db& db) {
  PB_TRY_ASSIGN(const std::int64_t app_id, db.query_int64("PRAGMA application_id"));
  if (app_id != k_application_id) {
    return config_error(db, "is not a pecbatch journal (SQLite application_id " +
                                std::to_string(app_id) + ")");
  }
  return core::Ok{};
}

// Applies the migration after `version` (in a transaction that re-reads
// the version: another process may have done it meanwhile).
core::Status apply_next(sqlite::Db& db, const std::string& campaign_id) {
  PB_TRY_ASSIGN(auto txn, sqlite::Transaction::begin(db));
  PB_TRY_ASSIGN(const std::int64_t version, db.query_int64("PRAGMA user_version"));
  PB_TRY(check_not_newer(db, version));
  if (version >= current_version()) {
    return txn.commit();
  }
  if (version == 0) {
    // A new journal: the file must be empty (not some other database).
    PB_TRY_ASSIGN(const std::int64_t objects,
                  db.query_int64("SELECT count(*) FROM sqlite_master"));
    if (objects != 0) {
      return config_error(db, "is not a pecbatch journal (it is a SQLite database "
                              "with other tables)");
    }
    PB_TRY(db.exec("PRAGMA application_id = " + std::to_string(k_application_id)));
  } else {
    PB_TRY(check_application_id(db));
  }
  const Migration& step = k_migrations[static_cast<std::size_t>(version)];
  PB_TRY(db.exec(step.sql));
  PB_TRY(db.exec("PRAGMA user_version = " + std::to_string(step.version)));
  if (version == 0) {
    // The campaign id is part of the journal's creation.
    PB_TRY_ASSIGN(sqlite::Query q,
                  db.query("INSERT INTO meta(key, value) VALUES(?1, ?2)"));
    q->bind_text(1, k_campaign_key);
    q->bind_text(2, campaign_id);
    PB_TRY(q->run());
  }
  return txn.commit();
}

} // namespace

int current_version() {
  return k_migrations.back().version;
}

core::Status prepare(sqlite::Db& db, const std::string& campaign_id) {
  PB_TRY_ASSIGN(std::int64_t version, db.query_int64("PRAGMA user_version"));
  if (version > 0) {
    // Refuse a foreign, newer or other campaign's journal before changing
    // anything in it.
    PB_TRY(check_application_id(db));
    PB_TRY(check_not_newer(db, version));
    PB_TRY(check_campaign(db, campaign_id));
  }
  while (version < current_version()) {
    PB_TRY(apply_next(db, campaign_id));
    PB_TRY_ASSIGN(version, db.query_int64("PRAGMA user_version"));
  }
  PB_TRY(check_application_id(db));
  PB_TRY(check_campaign(db, campaign_id));
  // A journal whose creation was interrupted between migrations cannot
  // lack the id (it is written with version 1), but be strict anyway.
  PB_TRY_ASSIGN(const auto stored, stored_campaign(db));
  if (!stored) {
    return config_error(db, "has no campaign id (damaged?)");
  }
  return core::Ok{};
}

core::Result<int> check_existing(sqlite::Db& db, const std::string& campaign_id) {
  PB_TRY_ASSIGN(const std::int64_t version, db.query_int64("PRAGMA user_version"));
  if (version < 1) {
    return config_error(db, "is not a pecbatch journal (no schema)");
  }
  PB_TRY(check_application_id(db));
  PB_TRY(check_not_newer(db, version));
  PB_TRY(check_campaign(db, campaign_id));
  PB_TRY_ASSIGN(const auto stored, stored_campaign(db));
  if (!stored) {
    return config_error(db, "has no campaign id (damaged?)");
  }
  return static_cast<int>(version);
}

} // namespace pecbatch::journal::schema

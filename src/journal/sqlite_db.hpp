#pragma once

#include <pecbatch/core/result.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

// Small RAII wrappers over the SQLite C API, private to the journal module.
// Every SQLite failure becomes an `io` error naming the database file and
// carrying sqlite3_errmsg. Not thread-safe: a Db and its statements are used
// from one thread at a time (the connection is opened with
// SQLITE_OPEN_NOMUTEX).
namespace pecbatch::journal::sqlite {

class Db;

// One prepared statement, finalized when destroyed. Statements are owned by
// their Db (cached) or by a Query (one-off); use them through a Query.
class Statement {
public:
  Statement(Db& db, sqlite3_stmt* stmt) noexcept : m_db(&db), m_stmt(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Bind parameter `index` (1-based). Text is copied by SQLite.
  void bind_int64(int index, std::int64_t value);
  void bind_text(int index, std::string_view value);
  void bind_null(int index);

  // Advances the statement. Returns true when a row is available, false
  // when it is done; SQLite failures are `io` errors.
  core::Result<bool> step();
  // Steps to completion, for statements that return no row (INSERT,
  // UPDATE, PRAGMA x = y, ...).
  core::Status run();

  // Column `index` (0-based) of the current row. NULL reads as 0 / "".
  std::int64_t column_int64(int index) const;
  std::string column_text(int index) const;
  bool column_is_null(int index) const;

  // Resets the statement (ending its read transaction, if any) and clears
  // its bindings. Never fails.
  void reset() noexcept;

  bool in_use() const noexcept { return m_in_use; }
  void set_in_use(bool in_use) noexcept { m_in_use = in_use; }

private:
  Db* m_db;
  sqlite3_stmt* m_stmt;
  bool m_in_use = false;
};

// A statement being used: resets it and clears its bindings when
// destroyed, so that an unfinished SELECT never keeps a read transaction
// (and an old snapshot) open. Either borrows a cached statement or owns a
// one-off one (when the cached one is already in use, e.g. a nested
// for_each).
class Query {
public:
  Query(Statement* borrowed, std::unique_ptr<Statement> owned) noexcept;
  Query(Query&& other) noexcept;
  Query& operator=(Query&&) = delete;
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query();

  Statement& operator*() const noexcept { return *m_stmt; }
  Statement* operator->() const noexcept { return m_stmt; }

private:
  Statement* m_stmt;
  std::unique_ptr<Statement> m_owned;
};

// An open database connection. Not movable: statements point back to it.
class Db {
public:
  // Opens (creating if needed) the database at `path`, with extended result
  // codes and a busy timeout of `busy_timeout_ms`. Fails with `io`.
  static core::Result<std::unique_ptr<Db>> open(const std::filesystem::path& path,
                                                int busy_timeout_ms);

  // Opens an existing database read-only: never created, never written
  // (SQLite may still create the -wal and -shm companions of a WAL
  // database, which changes nothing in it). Fails with `io`.
  static core::Result<std::unique_ptr<Db>> open_read_only(const std::filesystem::path& path,
                                                          int busy_timeout_ms);

  // A private in-memory database holding a consistent copy of `source`
  // (sqlite3_backup); messages still name the source's path. Fails with
  // `io`.
  static core::Result<std::unique_ptr<Db>> copy_in_memory(Db& source);

  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Returns the statement for `sql`, prepared on first use and kept for the
  // life of the connection (a one-off copy when the cached one is in use).
  core::Result<Query> query(std::string_view sql);

  // Runs `sql` (one or more statements, no result rows), not cached: for
  // schema changes and one-time settings.
  core::Status exec(const std::string& sql);

  // Runs a statement that returns one row of one text column (e.g.
  // "PRAGMA journal_mode = WAL") and returns that value.
  core::Result<std::string> query_text(const std::string& sql);
  core::Result<std::int64_t> query_int64(const std::string& sql);

  // Rows changed by the last INSERT/UPDATE/DELETE, and the last rowid.
  std::int64_t changes() const noexcept;
  std::int64_t last_insert_rowid() const noexcept;
  // Whether no explicit transaction is open.
  bool autocommit() const noexcept;

  // An `io` error: "journal PATH: `what`: <sqlite3_errmsg>".
  core::Error error(std::string_view what) const;
  // The database path, for messages.
  const std::string& path() const noexcept { return m_path; }

private:
  Db(sqlite3* db, std::string path) noexcept : m_db(db), m_path(std::move(path)) {}
  // Opens `path` with the sqlite3_open_v2 `flags`; extended result codes on.
  static core::Result<std::unique_ptr<Db>> open_with_flags(const std::filesystem::path& path,
                                                           int busy_timeout_ms, int flags);

  sqlite3* m_db;
  std::string m_path;
  // Cleared by the destructor before the connection is closed.
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> m_cache;

  friend class Statement;
};

// A write transaction (BEGIN IMMEDIATE: the write lock is taken at once, so
// what is read inside cannot change before the commit). Rolled back when
// destroyed without a successful commit().
class Transaction {
public:
  static core::Result<Transaction> begin(Db& db);

  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Commits (durably, with synchronous=FULL). On failure the transaction is
  // rolled back by the destructor.
  core::Status commit();

private:
  explicit Transaction(Db& db) noexcept : m_db(&db) {}

  Db* m_db;
  bool m_open = true;
};

} // namespace pecbatch::journal::sqlite

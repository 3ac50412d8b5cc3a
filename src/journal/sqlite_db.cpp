#include "sqlite_db.hpp"

#include <sqlite3.h>

#include <utility>

namespace pecbatch::journal::sqlite {

// ---- Statement ----

Statement::~Statement() {
  sqlite3_finalize(m_stmt);
}

void Statement::bind_int64(int index, std::int64_t value) {
  sqlite3_bind_int64(m_stmt, index, value);
}

void Statement::bind_text(int index, std::string_view value) {
  // A null pointer would bind NULL; an empty view may have one.
  const char* data = value.data() != nullptr ? value.data() : "";
  sqlite3_bind_text64(m_stmt, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Statement::bind_null(int index) {
  sqlite3_bind_null(m_stmt, index);
}

core::Result<bool> Statement::step() {
  const int rc = sqlite3_step(m_stmt);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  std::string sql = sqlite3_sql(m_stmt) != nullptr ? sqlite3_sql(m_stmt) : "";
  if (sql.size() > 60) {
    sql = sql.substr(0, 57) + "...";
  }
  return m_db->error("cannot run \"" + sql + "\"");
}

core::Status Statement::run() {
  for (;;) {
    PB_TRY_ASSIGN(const bool has_row, step());
    if (!has_row) {
      return core::Ok{};
    }
  }
}

std::int64_t Statement::column_int64(int index) const {
  return sqlite3_column_int64(m_stmt, index);
}

std::string Statement::column_text(int index) const {
  const auto* text = sqlite3_column_text(m_stmt, index);
  if (text == nullptr) {
    return {};
  }
  const int size = sqlite3_column_bytes(m_stmt, index);
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

bool Statement::column_is_null(int index) const {
  return sqlite3_column_type(m_stmt, index) == SQLITE_NULL;
}

void Statement::reset() noexcept {
  sqlite3_reset(m_stmt);
  sqlite3_clear_bindings(m_stmt);
}

// ---- Query ----

Query::Query(Statement* borrowed, std::unique_ptr<Statement> owned) noexcept
    : m_stmt(owned ? owned.get() : borrowed), m_owned(std::move(owned)) {
  m_stmt->set_in_use(true);
}

Query::Query(Query&& other) noexcept
    : m_stmt(std::exchange(other.m_stmt, nullptr)), m_owned(std::move(other.m_owned)) {}

Query::~Query() {
  if (m_stmt != nullptr) {
    m_stmt->reset();
    m_stmt->set_in_use(false);
  }
}

// ---- Db ----

core::Result<std::unique_ptr<Db>> Db::open_with_flags(const std::filesystem::path& path,
                                                      int busy_timeout_ms, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // Even on failure SQLite usually returns a handle, which must be closed.
  std::unique_ptr<Db> db(new Db(raw, path.string()));
  if (raw == nullptr) {
    return core::make_error(core::ErrorKind::io,
                            "journal " + path.string() + ": cannot open: out of memory");
  }
  if (rc != SQLITE_OK) {
    return db->error("cannot open");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return db;
}

core::Result<std::unique_ptr<Db>> Db::open(const std::filesystem::path& path,
                                           int busy_timeout_ms) {
  return open_with_flags(path, busy_timeout_ms,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
}

core::Result<std::unique_ptr<Db>> Db::open_read_only(const std::filesystem::path& path,
                                                     int busy_timeout_ms) {
  return open_with_flags(path, busy_timeout_ms, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
}

core::Result<std::unique_ptr<Db>> Db::copy_in_memory(Db& source) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(":memory:", &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  std::unique_ptr<Db> db(new Db(raw, source.path()));
  if (raw == nullptr) {
    return core::make_error(core::ErrorKind::io,
                            "journal " + source.path() + ": cannot copy: out of memory");
  }
  if (rc != SQLITE_OK) {
    return db->error("cannot open a memory database");
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_backup* backup = sqlite3_backup_init(raw, "main", source.m_db, "main");
  if (backup == nullptr) {
    return db->error("cannot copy");
  }
  const int step = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (step != SQLITE_DONE) {
    return source.error("cannot copy");
  }
  return db;
}

Db::~Db() {
  m_cache.clear();
  sqlite3_close_v2(m_db);
}

core::Result<Query> Db::query(std::string_view sql) {
  auto it = m_cache.find(sql);
  if (it != m_cache.end() && !it->second->in_use()) {
    return Query(it->second.get(), nullptr);
  }
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(m_db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(raw);
    return error("cannot prepare \"" + std::string(sql.substr(0, 60)) + "\"");
  }
  auto stmt = std::make_unique<Statement>(*this, raw);
  if (it == m_cache.end()) {
    auto inserted = m_cache.emplace(std::string(sql), std::move(stmt));
    return Query(inserted.first->second.get(), nullptr);
  }
  // The cached statement is in use further up the stack: a one-off.
  return Query(nullptr, std::move(stmt));
}

core::Status Db::exec(const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) {
    std::string head = sql.substr(0, sql.find('\n'));
    if (head.size() > 60) {
      head = head.substr(0, 57) + "...";
    }
    return error("cannot run \"" + head + "\"");
  }
  return core::Ok{};
}

core::Result<std::string> Db::query_text(const std::string& sql) {
  PB_TRY_ASSIGN(Query q, query(sql));
  PB_TRY_ASSIGN(const bool has_row, q->step());
  if (!has_row) {
    return std::string();
  }
  return q->column_text(0);
}

core::Result<std::int64_t> Db::query_int64(const std::string& sql) {
  PB_TRY_ASSIGN(Query q, query(sql));
  PB_TRY_ASSIGN(const bool has_row, q->step());
  if (!has_row) {
    return std::int64_t{0};
  }
  return q->column_int64(0);
}

std::int64_t Db::changes() const noexcept {
  return sqlite3_changes64(m_db);
}

std::int64_t Db::last_insert_rowid() const noexcept {
  return sqlite3_last_insert_rowid(m_db);
}

bool Db::autocommit() const noexcept {
  return sqlite3_get_autocommit(m_db) != 0;
}

core::Error Db::error(std::string_view what) const {
  std::string message = "journal " + m_path + ": " + std::string(what) + ": ";
  message += m_db != nullptr ? sqlite3_errmsg(m_db) : "out of memory";
  return core::make_error(core::ErrorKind::io, std::move(message));
}

// ---- Transaction ----

core::Result<Transaction> Transaction::begin(Db& db) {
  PB_TRY_ASSIGN(Query q, db.query("BEGIN IMMEDIATE"));
  PB_TRY(q->run());
  return Transaction(db);
}

Transaction::Transaction(Transaction&& other) noexcept
    : m_db(other.m_db), m_open(std::exchange(other.m_open, false)) {}

Transaction::~Transaction() {
  // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL).
  if (m_open && !m_db->autocommit()) {
    auto q = m_db->query("ROLLBACK");
    if (q.ok()) {
      (void)(*q)->run();
    }
  }
}

core::Status Transaction::commit() {
  PB_TRY_ASSIGN(Query q, m_db->query("COMMIT"));
  PB_TRY(q->run());
  m_open = false;
  return core::Ok{};
}

} // namespace pecbatch::journal::sqlite

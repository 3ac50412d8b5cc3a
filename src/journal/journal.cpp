#include <pecbatch/journal/journal.hpp>

#include "schema.hpp"
#include "sqlite_db.hpp"

#include <pecbatch/core/strings.hpp>

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <utility>

namespace pecbatch::journal {

namespace {

// How long a statement waits for another connection's write lock (e.g. a
// `sqlite3` shell holding a transaction) before failing with `io`.
constexpr int k_busy_timeout_ms = 10'000;

// The event detail written by `recover`.
constexpr const char* k_recover_detail = "found after an interrupted run";

// The columns read into a RowRecord, in read_row's order.
#define PB_JOURNAL_ROW_COLUMNS                                                   \
  "id, row, address, message_id, state, attempts, content_sha256, sent_sha256, " \
  "last_code, last_enhanced, last_text, created_ms, updated_ms, submitted_ms, "   \
  "generation, retry_of, superseded_by"

constexpr const char* k_select_by_id =
    "SELECT " PB_JOURNAL_ROW_COLUMNS " FROM rows WHERE id = ?1";
constexpr const char* k_select_by_message_id =
    "SELECT " PB_JOURNAL_ROW_COLUMNS " FROM rows WHERE message_id = ?1";
constexpr const char* k_select_all =
    "SELECT " PB_JOURNAL_ROW_COLUMNS " FROM rows INDEXED BY rows_row ORDER BY row, id";
constexpr const char* k_select_one_state =
    "SELECT " PB_JOURNAL_ROW_COLUMNS " FROM rows INDEXED BY rows_state "
    "WHERE state = ?1 ORDER BY row, id";
// Several states: walk the row index and filter, so that rows stream in
// order without a sort of the whole result.
constexpr const char* k_select_states_prefix =
    "SELECT " PB_JOURNAL_ROW_COLUMNS " FROM rows INDEXED BY rows_row WHERE state IN (";
constexpr const char* k_select_states_suffix = ") ORDER BY row, id";

#undef PB_JOURNAL_ROW_COLUMNS

constexpr const char* k_insert_event =
    "INSERT INTO events(row_id, at_ms, from_state, to_state, smtp_code, "
    "smtp_enhanced, smtp_text, detail) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

constexpr const char* k_update_transition =
    "UPDATE rows SET state = ?2, updated_ms = ?3, attempts = attempts + ?4, "
    "last_code = CASE WHEN ?5 <> 0 THEN ?5 ELSE last_code END, "
    "last_enhanced = CASE WHEN ?5 <> 0 THEN ?6 ELSE last_enhanced END, "
    "last_text = CASE WHEN ?5 <> 0 THEN ?7 ELSE last_text END, "
    "sent_sha256 = CASE WHEN ?8 <> '' THEN ?8 ELSE sent_sha256 END, "
    "submitting_ms = CASE WHEN ?9 THEN ?3 WHEN ?11 THEN NULL "
    "WHEN ?12 IS NOT NULL THEN ?12 ELSE submitting_ms END, "
    "submitted_ms = CASE WHEN ?10 THEN ?3 ELSE submitted_ms END "
    "WHERE id = ?1";

core::Error internal_error(const sqlite::Db& db, const std::string& what) {
  return core::make_error(core::ErrorKind::internal,
                          "journal " + db.path() + ": " + what);
}

core::Error unknown_state(const sqlite::Db& db, const std::string& text) {
  return core::make_error(core::ErrorKind::io, "journal " + db.path() +
                                                   ": unknown state " +
                                                   core::quote(text) + " (damaged?)");
}

core::Error moved_from() {
  return core::make_error(core::ErrorKind::internal, "use of a moved-from journal");
}

core::Result<RowRecord> read_row(const sqlite::Db& db, const sqlite::Statement& s) {
  RowRecord r;
  r.id = s.column_int64(0);
  r.row = static_cast<std::uint64_t>(s.column_int64(1));
  r.address = s.column_text(2);
  r.message_id = s.column_text(3);
  const std::string state = s.column_text(4);
  const auto parsed = parse_state(state);
  if (!parsed) {
    return unknown_state(db, state);
  }
  r.state = *parsed;
  r.attempts = static_cast<unsigned>(s.column_int64(5));
  r.content_sha256 = s.column_text(6);
  r.sent_sha256 = s.column_text(7);
  r.last_code = static_cast<int>(s.column_int64(8));
  r.last_enhanced = s.column_text(9);
  r.last_text = s.column_text(10);
  r.created = core::from_unix_ms(s.column_int64(11));
  r.updated = core::from_unix_ms(s.column_int64(12));
  r.submitted = core::from_unix_ms(s.column_int64(13));  // NULL reads as 0
  r.generation = static_cast<unsigned>(s.column_int64(14));
  if (!s.column_is_null(15)) {
    r.retry_of = s.column_int64(15);
  }
  if (!s.column_is_null(16)) {
    r.superseded_by = s.column_int64(16);
  }
  return r;
}

struct EventData {
  std::int64_t row_id = 0;
  core::TimePoint at{};
  std::optional<State> from;
  State to = State::queued;
  int smtp_code = 0;
  std::string_view enhanced;
  std::string_view text;
  std::string_view detail;
};

core::Status append_event(sqlite::Db& db, const EventData& e) {
  PB_TRY_ASSIGN(sqlite::Query q, db.query(k_insert_event));
  q->bind_int64(1, e.row_id);
  q->bind_int64(2, core::to_unix_ms(e.at));
  if (e.from) {
    q->bind_text(3, to_string(*e.from));
  } else {
    q->bind_null(3);
  }
  q->bind_text(4, to_string(e.to));
  q->bind_int64(5, e.smtp_code);
  q->bind_text(6, e.enhanced);
  q->bind_text(7, e.text);
  q->bind_text(8, e.detail);
  return q->run();
}

// The state, contacts row and address of row `id` (for a transition).
struct RowHead {
  State state = State::queued;
  std::uint64_t row = 0;
  std::string address;
};

core::Result<RowHead> row_head(sqlite::Db& db, std::int64_t id) {
  PB_TRY_ASSIGN(sqlite::Query q,
                db.query("SELECT state, row, address FROM rows WHERE id = ?1"));
  q->bind_int64(1, id);
  PB_TRY_ASSIGN(const bool found, q->step());
  if (!found) {
    return internal_error(db, "no row with id " + std::to_string(id));
  }
  const std::string state = q->column_text(0);
  const auto parsed = parse_state(state);
  if (!parsed) {
    return unknown_state(db, state);
  }
  return RowHead{*parsed, static_cast<std::uint64_t>(q->column_int64(1)),
                 q->column_text(2)};
}

core::Status apply_transition(sqlite::Db& db, std::int64_t id, State from, State to,
                              const Transition& info) {
  const bool from_submitting = from == State::submitting;
  PB_TRY_ASSIGN(sqlite::Query q, db.query(k_update_transition));
  q->bind_int64(1, id);
  q->bind_text(2, to_string(to));
  q->bind_int64(3, core::to_unix_ms(info.at));
  q->bind_int64(4, info.new_attempt ? 1 : 0);
  q->bind_int64(5, info.smtp_code);
  q->bind_text(6, info.enhanced);
  q->bind_text(7, info.text);
  q->bind_text(8, info.sent_sha256);
  q->bind_int64(9, to == State::submitting ? 1 : 0);
  q->bind_int64(10, to == State::submitted ? 1 : 0);
  q->bind_int64(11, info.before_data ? 1 : 0);
  if (info.started_at && from_submitting) {
    q->bind_int64(12, core::to_unix_ms(*info.started_at));
  }
  PB_TRY(q->run());
  if (db.changes() != 1) {
    return internal_error(db, "row id " + std::to_string(id) + " vanished");
  }
  return core::Ok{};
}

// Moves every row in `from` to `to` with an event each; returns how many.
core::Result<std::uint64_t> move_all(sqlite::Db& db, State from, State to,
                                     core::TimePoint at, const char* detail) {
  {
    PB_TRY_ASSIGN(sqlite::Query q,
                  db.query("INSERT INTO events(row_id, at_ms, from_state, to_state, "
                           "detail) SELECT id, ?1, state, ?2, ?3 FROM rows "
                           "INDEXED BY rows_state WHERE state = ?4 ORDER BY row, id"));
    q->bind_int64(1, core::to_unix_ms(at));
    q->bind_text(2, to_string(to));
    q->bind_text(3, detail);
    q->bind_text(4, to_string(from));
    PB_TRY(q->run());
  }
  PB_TRY_ASSIGN(sqlite::Query q,
                db.query("UPDATE rows SET state = ?1, updated_ms = ?2 WHERE state = ?3"));
  q->bind_text(1, to_string(to));
  q->bind_int64(2, core::to_unix_ms(at));
  q->bind_text(3, to_string(from));
  PB_TRY(q->run());
  return static_cast<std::uint64_t>(db.changes());
}


constexpr const char* k_cursor_uidvalidity = "imap:uidvalidity";
constexpr const char* k_cursor_last_uid = "imap:last_uid";

core::Result<std::optional<std::string>> read_meta(sqlite::Db& db, const char* key) {
  PB_TRY_ASSIGN(sqlite::Query q, db.query("SELECT value FROM meta WHERE key = ?1"));
  q->bind_text(1, key);
  PB_TRY_ASSIGN(const bool found, q->step());
  if (!found) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(q->column_text(0));
}

core::Status write_meta(sqlite::Db& db, const char* key, const std::string& value) {
  PB_TRY_ASSIGN(sqlite::Query q,
                db.query("INSERT INTO meta(key, value) VALUES(?1, ?2) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  q->bind_text(1, key);
  q->bind_text(2, value);
  return q->run();
}

std::uint64_t to_u64(const std::optional<std::string>& text) {
  if (!text) {
    return 0;
  }
  try {
    return std::stoull(*text);
  } catch (const std::exception&) {
    return 0;
  }
}

// The meta keys of an IMAP folder's cursor: INBOX keeps the keys of
// schema 2 (`imap:uidvalidity`, `imap:last_uid`), other folders get
// `imap:folder:<name>:uidvalidity` / `:last_uid`.
std::pair<std::string, std::string> cursor_keys(const std::string& folder) {
  if (folder.size() == 5 && (folder[0] | 0x20) == 'i' && (folder[1] | 0x20) == 'n' &&
      (folder[2] | 0x20) == 'b' && (folder[3] | 0x20) == 'o' && (folder[4] | 0x20) == 'x') {
    return {k_cursor_uidvalidity, k_cursor_last_uid};
  }
  return {"imap:folder:" + folder + ":uidvalidity", "imap:folder:" + folder + ":last_uid"};
}

core::Result<std::optional<MailboxCursor>> read_cursor(sqlite::Db& db,
                                                       const std::string& folder = "INBOX") {
  const auto [validity_key, last_key] = cursor_keys(folder);
  PB_TRY_ASSIGN(const auto validity, read_meta(db, validity_key.c_str()));
  if (!validity) {
    return std::optional<MailboxCursor>();
  }
  PB_TRY_ASSIGN(const auto last, read_meta(db, last_key.c_str()));
  return std::optional<MailboxCursor>(MailboxCursor{to_u64(validity), to_u64(last)});
}

core::Status write_cursor(sqlite::Db& db, const MailboxCursor& cursor,
                          const std::string& folder = "INBOX") {
  const auto [validity_key, last_key] = cursor_keys(folder);
  PB_TRY(write_meta(db, validity_key.c_str(), std::to_string(cursor.uidvalidity)));
  return write_meta(db, last_key.c_str(), std::to_string(cursor.last_uid));
}

// Advances the stored cursor to `uid` of `uidvalidity` (never backwards in
// the same UIDVALIDITY).
core::Status advance_cursor(sqlite::Db& db, std::uint64_t uidvalidity, std::uint64_t uid,
                            const std::string& folder = "INBOX") {
  PB_TRY_ASSIGN(const auto cursor, read_cursor(db, folder));
  if (cursor && cursor->uidvalidity == uidvalidity && cursor->last_uid >= uid) {
    return core::Ok{};
  }
  return write_cursor(db, MailboxCursor{uidvalidity, uid}, folder);
}

} // namespace

struct Journal::Impl {
  std::unique_ptr<sqlite::Db> db;
};

namespace {

// The connection is always `synchronous = FULL` (the WAL is fsync'ed at
// each commit) except for the one transaction this guard spans, which
// runs with NORMAL: not synced at commit, still safe from corruption, and
// made durable by the next FULL commit or checkpoint (the WAL is written
// in order).
class RelaxedSync {
public:
  static core::Result<RelaxedSync> begin(sqlite::Db& db) {
    PB_TRY(db.exec("PRAGMA synchronous = NORMAL"));
    return RelaxedSync(db);
  }
  RelaxedSync(RelaxedSync&& other) noexcept : m_db(std::exchange(other.m_db, nullptr)) {}
  RelaxedSync(const RelaxedSync&) = delete;
  RelaxedSync& operator=(const RelaxedSync&) = delete;
  RelaxedSync& operator=(RelaxedSync&&) = delete;
  ~RelaxedSync() {
    if (m_db != nullptr) {
      (void)m_db->exec("PRAGMA synchronous = FULL");
    }
  }

private:
  explicit RelaxedSync(sqlite::Db& db) : m_db(&db) {}
  sqlite::Db* m_db;
};

} // namespace

Journal::Journal(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Journal::Journal(Journal&&) noexcept = default;
Journal& Journal::operator=(Journal&&) noexcept = default;
Journal::~Journal() = default;

core::Result<Journal> Journal::open(const std::filesystem::path& file,
                                    const std::string& campaign_id) {
  if (campaign_id.empty()) {
    return core::make_error(core::ErrorKind::internal,
                            "journal " + file.string() + ": empty campaign id");
  }
  PB_TRY_ASSIGN(auto db, sqlite::Db::open(file, k_busy_timeout_ms));
  // Per connection: every commit is fsync'ed (WAL: the log, on each
  // commit), so a committed transition survives a power loss, not only a
  // killed process.
  PB_TRY(db->exec("PRAGMA synchronous = FULL"));
  PB_TRY(db->exec("PRAGMA foreign_keys = ON"));
  // 1 MiB of page cache (SQLite's default is 2 MiB): what a run touches is
  // the rows being sent and the upper levels of the indexes; the file
  // system cache serves the rest. A larger cache only grows the process
  // with the campaign (docs/performance.md, "Memory of a large send").
  PB_TRY(db->exec("PRAGMA cache_size = -1024"));
  PB_TRY(schema::prepare(*db, campaign_id));
  // Persistent in the file. Some file systems (network ones) cannot do
  // WAL; SQLite then keeps a rollback journal, which with synchronous=FULL
  // is as durable, only slower.
  PB_TRY(db->query_text("PRAGMA journal_mode = WAL"));
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(db);
  return Journal(std::move(impl));
}

core::Result<Journal> Journal::open_read_only(const std::filesystem::path& file,
                                              const std::string& campaign_id) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return core::make_error(core::ErrorKind::no_input,
                            "journal " + file.string() + ": no such file");
  }
  PB_TRY_ASSIGN(auto db, sqlite::Db::open_read_only(file, k_busy_timeout_ms));
  PB_TRY_ASSIGN(const int version, schema::check_existing(*db, campaign_id));
  if (version < schema::current_version()) {
    // Read an older journal through a migrated copy: the file is never
    // upgraded by a reader.
    PB_TRY_ASSIGN(auto copy, sqlite::Db::copy_in_memory(*db));
    PB_TRY(schema::prepare(*copy, campaign_id));
    db = std::move(copy);
  }
  PB_TRY(db->exec("PRAGMA query_only = ON"));
  auto impl = std::make_unique<Impl>();
  impl->db = std::move(db);
  return Journal(std::move(impl));
}

core::Result<std::optional<std::string>> Journal::get_meta(const std::string& key) {
  if (!m_impl) {
    return moved_from();
  }
  PB_TRY_ASSIGN(sqlite::Query q,
                m_impl->db->query("SELECT value FROM meta WHERE key = ?1"));
  q->bind_text(1, key);
  PB_TRY_ASSIGN(const bool found, q->step());
  if (!found) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(q->column_text(0));
}

core::Status Journal::set_meta(const std::string& key, const std::string& value) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  if (key == schema::k_campaign_key) {
    return internal_error(db, "the campaign id of a journal never changes");
  }
  PB_TRY_ASSIGN(sqlite::Query q,
                db.query("INSERT INTO meta(key, value) VALUES(?1, ?2) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  q->bind_text(1, key);
  q->bind_text(2, value);
  return q->run();
}

core::Result<std::map<std::string, std::string>>
Journal::meta_with_prefix(const std::string& prefix) {
  if (!m_impl) {
    return moved_from();
  }
  PB_TRY_ASSIGN(sqlite::Query q,
                m_impl->db->query("SELECT key, value FROM meta WHERE "
                                  "substr(key, 1, length(?1)) = ?1 ORDER BY key"));
  q->bind_text(1, prefix);
  std::map<std::string, std::string> out;
  for (;;) {
    PB_TRY_ASSIGN(const bool has_row, q->step());
    if (!has_row) {
      break;
    }
    out.emplace(q->column_text(0), q->column_text(1));
  }
  return out;
}

namespace {

// Inserts the rows not yet known (by Message-ID), each `queued` with a
// creation event, inside the caller's transaction. Returns how many.
core::Result<std::uint64_t> insert_rows(sqlite::Db& db, std::span<const NewRow> rows,
                                        core::TimePoint at) {
  for (const NewRow& row : rows) {
    if (row.message_id.empty()) {
      return internal_error(db, "row " + std::to_string(row.row) + " has no Message-ID");
    }
  }
  const long long at_ms = core::to_unix_ms(at);
  std::uint64_t added = 0;
  for (const NewRow& row : rows) {
    {
      // An explicit id (NewRow::id) that is taken fails the insert: the
      // caller's later transitions would name another row.
      PB_TRY_ASSIGN(sqlite::Query q,
                    db.query("INSERT INTO rows(id, row, address, message_id, state, "
                             "content_sha256, created_ms, updated_ms) "
                             "VALUES(?7, ?1, ?2, ?3, ?4, ?5, ?6, ?6) "
                             "ON CONFLICT(message_id) DO NOTHING"));
      q->bind_int64(1, static_cast<std::int64_t>(row.row));
      q->bind_text(2, row.address);
      q->bind_text(3, row.message_id);
      q->bind_text(4, to_string(State::queued));
      q->bind_text(5, row.content_sha256);
      q->bind_int64(6, at_ms);
      if (row.id != 0) {
        q->bind_int64(7, row.id);
      }
      PB_TRY(q->run());
    }
    if (db.changes() == 0) {
      if (row.id != 0) {
        return internal_error(db, "row " + std::to_string(row.row) + " (" + row.address +
                                      "): Message-ID " + row.message_id +
                                      " already in the journal");
      }
      continue;  // known Message-ID: left untouched
    }
    ++added;
    PB_TRY(append_event(db, EventData{db.last_insert_rowid(), at, std::nullopt,
                                      State::queued, 0, {}, {}, "added"}));
  }
  return added;
}

} // namespace

core::Result<std::uint64_t> Journal::add_rows(const std::vector<NewRow>& rows,
                                              core::TimePoint at) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(auto txn, sqlite::Transaction::begin(db));
  PB_TRY_ASSIGN(const auto added, insert_rows(db, rows, at));
  PB_TRY(txn.commit());
  return added;
}

core::Result<std::int64_t> Journal::next_row_id() {
  if (!m_impl) {
    return moved_from();
  }
  PB_TRY_ASSIGN(sqlite::Query q,
                m_impl->db->query("SELECT coalesce(max(id), 0) + 1 FROM rows"));
  PB_TRY_ASSIGN(const bool has_row, q->step());
  if (!has_row) {
    return internal_error(*m_impl->db, "next_row_id: no result");
  }
  return q->column_int64(0);
}

core::Status Journal::update_pending_row(std::int64_t id, std::uint64_t row,
                                         const std::string& content_sha256) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(auto txn, sqlite::Transaction::begin(db));
  PB_TRY_ASSIGN(const RowHead head, row_head(db, id));
  if (head.state != State::queued && head.state != State::deferred) {
    return internal_error(db, "row id " + std::to_string(id) + " is " +
                                  to_string(head.state) +
                                  ", only queued or deferred rows can be updated");
  }
  {
    PB_TRY_ASSIGN(
        sqlite::Query q,
        db.query("UPDATE rows SET row = ?2, content_sha256 = ?3 WHERE id = ?1"));
    q->bind_int64(1, id);
    q->bind_int64(2, static_cast<std::int64_t>(row));
    q->bind_text(3, content_sha256);
    PB_TRY(q->run());
  }
  return txn.commit();
}

core::Result<Recovery> Journal::recover(core::TimePoint at) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(auto txn, sqlite::Transaction::begin(db));
  Recovery recovery;
  PB_TRY_ASSIGN(recovery.sending_requeued,
                move_all(db, State::sending, State::queued, at, k_recover_detail));
  PB_TRY_ASSIGN(recovery.submitting_uncertain,
                move_all(db, State::submitting, State::uncertain, at, k_recover_detail));
  PB_TRY(txn.commit());
  return recovery;
}

core::Result<std::optional<RowRecord>>
Journal::find_by_message_id(const std::string& message_id) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(sqlite::Query q, db.query(k_select_by_message_id));
  q->bind_text(1, message_id);
  PB_TRY_ASSIGN(const bool found, q->step());
  if (!found) {
    return std::optional<RowRecord>();
  }
  PB_TRY_ASSIGN(RowRecord record, read_row(db, *q));
  return std::optional<RowRecord>(std::move(record));
}

core::Result<RowRecord> Journal::get(std::int64_t id) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(sqlite::Query q, db.query(k_select_by_id));
  q->bind_int64(1, id);
  PB_TRY_ASSIGN(const bool found, q->step());
  if (!found) {
    return internal_error(db, "no row with id " + std::to_string(id));
  }
  return read_row(db, *q);
}

core::Status Journal::for_each(const std::vector<State>& states,
                               const std::function<bool(const RowRecord&)>& visit) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  std::vector<State> wanted = states;
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());

  std::string sql;
  if (wanted.empty()) {
    sql = k_select_all;
  } else if (wanted.size() == 1) {
    sql = k_select_one_state;
  } else {
    sql = k_select_states_prefix;
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      sql += i == 0 ? "?" : ", ?";
    }
    sql += k_select_states_suffix;
  }
  PB_TRY_ASSIGN(sqlite::Query q, db.query(sql));
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    q->bind_text(static_cast<int>(i + 1), to_string(wanted[i]));
  }
  for (;;) {
    PB_TRY_ASSIGN(const bool has_row, q->step());
    if (!has_row) {
      return core::Ok{};
    }
    PB_TRY_ASSIGN(const RowRecord record, read_row(db, *q));
    if (!visit(record)) {
      return core::Ok{};
    }
  }
}

namespace {

// Rows per state from `sql` (SELECT state, count(*) ... GROUP BY state).
core::Result<std::map<State, std::uint64_t>> count_states(sqlite::Db& db, const char* sql) {
  PB_TRY_ASSIGN(sqlite::Query q, db.query(sql));
  std::map<State, std::uint64_t> out;
  for (;;) {
    PB_TRY_ASSIGN(const bool has_row, q->step());
    if (!has_row) {
      return out;
    }
    const std::string state = q->column_text(0);
    const auto parsed = parse_state(state);
    if (!parsed) {
      return unknown_state(db, state);
    }
    out[*parsed] = static_cast<std::uint64_t>(q->column_int64(1));
  }
}

} // namespace

core::Result<std::map<State, std::uint64_t>> Journal::counts() {
  if (!m_impl) {
    return moved_from();
  }
  return count_states(*m_impl->db, "SELECT state, count(*) FROM rows GROUP BY state");
}

core::Status Journal::transition(std::int64_t id, State to, const Transition& info) {
  const Change change{id, to, info};
  return apply(std::span<const Change>(&change, 1));
}

core::Status Journal::apply(std::span<const Change> changes) {
  return apply({}, {}, changes);
}

core::Status Journal::apply(std::span<const NewRow> rows, core::TimePoint rows_at,
                            std::span<const Change> changes) {
  if (!m_impl) {
    return moved_from();
  }
  if (rows.empty() && changes.empty()) {
    return core::Ok{};
  }
  auto& db = *m_impl->db;
  std::optional<RelaxedSync> relaxed;
  if (std::none_of(changes.begin(), changes.end(),
                   [](const Change& change) { return change.info.durable; })) {
    PB_TRY_ASSIGN(auto guard, RelaxedSync::begin(db));
    relaxed.emplace(std::move(guard));
  }
  PB_TRY_ASSIGN(auto txn, sqlite::Transaction::begin(db));
  PB_TRY(insert_rows(db, rows, rows_at));
  for (const auto& [id, to, info] : changes) {
    // Read inside the write transaction: no other process can change the
    // state between this check and the commit.
    PB_TRY_ASSIGN(const RowHead head, row_head(db, id));
    if (!is_allowed(head.state, to)) {
      return internal_error(db, "row " + std::to_string(head.row) + " (" + head.address +
                                    "): illegal transition " + to_string(head.state) +
                                    " -> " + to_string(to));
    }
    PB_TRY(apply_transition(db, id, head.state, to, info));
    PB_TRY(append_event(db, EventData{id, info.at, head.state, to, info.smtp_code,
                                      info.enhanced, info.text, info.detail}));
  }
  return txn.commit();
}

core::Status Journal::sync() {
  if (!m_impl) {
    return moved_from();
  }
  // Syncs the WAL before copying it into the database, whatever the
  // synchronous mode; PASSIVE never waits for readers.
  PB_TRY(m_impl->db->query_text("PRAGMA wal_checkpoint(PASSIVE)"));
  return core::Ok{};
}

core::Result<std::vector<core::TimePoint>>
Journal::submissions_since(core::TimePoint since) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(sqlite::Query q,
                db.query("SELECT submitting_ms FROM rows WHERE submitting_ms >= ?1 "
                         "ORDER BY submitting_ms"));
  q->bind_int64(1, core::to_unix_ms(since));
  std::vector<core::TimePoint> out;
  for (;;) {
    PB_TRY_ASSIGN(const bool has_row, q->step());
    if (!has_row) {
      return out;
    }
    out.push_back(core::from_unix_ms(q->column_int64(0)));
  }
}

namespace {

// Applies a receipt's effect (ReceiptEffect) inside the caller's
// transaction; returns the steps applied.
core::Result<std::vector<State>> apply_effect(sqlite::Db& db, const ReceiptEffect& effect,
                                              core::TimePoint at) {
  std::vector<State> applied;
  for (const State to : effect.steps) {
    PB_TRY_ASSIGN(const RowHead head, row_head(db, effect.row_id));
    if (!is_allowed(head.state, to)) {
      continue;  // redundant or out of order: the receipt is kept anyway
    }
    Transition info;
    info.at = at;
    info.detail = effect.detail;
    PB_TRY(apply_transition(db, effect.row_id, head.state, to, info));
    PB_TRY(append_event(db, EventData{effect.row_id, at, head.state, to, 0, effect.enhanced,
                                      effect.text, effect.detail}));
    applied.push_back(to);
  }
  if (!applied.empty() && (!effect.text.empty() || !effect.enhanced.empty())) {
    PB_TRY_ASSIGN(sqlite::Query q, db.query("UPDATE rows SET last_text = ?2, last_enhanced = ?3 "
                                            "WHERE id = ?1"));
    q->bind_int64(1, effect.row_id);
    q->bind_text(2, effect.text);
    q->bind_text(3, effect.enhanced);
    PB_TRY(q->run());
  }
  return applied;
}

} // namespace

core::Result<ReceiptOutcome> Journal::record_receipt(const ReceiptRecord& receipt,
                                                     const std::optional<ReceiptEffect>& effect) {
  return record_receipt_in(std::string("INBOX"), receipt, effect);
}

core::Result<ReceiptOutcome> Journal::record_receipt_in(
    const std::optional<std::string>& folder, const ReceiptRecord& receipt,
    const std::optional<ReceiptEffect>& effect) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(auto txn, sqlite::Transaction::begin(db));
  ReceiptOutcome outcome;
  {
    PB_TRY_ASSIGN(
        sqlite::Query q,
        db.query("INSERT INTO receipts(uid, uidvalidity, message_id, kind, identificativo, "
                 "consegna, errore, errore_esteso, time, signature, file, sha256, row_id, "
                 "at_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
                 "ON CONFLICT(uidvalidity, uid) DO NOTHING"));
    q->bind_int64(1, static_cast<std::int64_t>(receipt.uid));
    q->bind_int64(2, static_cast<std::int64_t>(receipt.uidvalidity));
    q->bind_text(3, receipt.message_id);
    q->bind_text(4, receipt.kind);
    q->bind_text(5, receipt.identificativo);
    q->bind_text(6, receipt.consegna);
    q->bind_text(7, receipt.errore);
    q->bind_text(8, receipt.errore_esteso);
    q->bind_text(9, receipt.time);
    q->bind_text(10, receipt.signature);
    q->bind_text(11, receipt.file);
    q->bind_text(12, receipt.sha256);
    if (receipt.row_id) {
      q->bind_int64(13, *receipt.row_id);
    } else {
      q->bind_null(13);
    }
    q->bind_int64(14, core::to_unix_ms(receipt.at));
    PB_TRY(q->run());
  }
  outcome.recorded = db.changes() == 1;
  if (outcome.recorded && effect) {
    PB_TRY_ASSIGN(outcome.applied, apply_effect(db, *effect, receipt.at));
  }
  if (folder) {
    PB_TRY(advance_cursor(db, receipt.uidvalidity, receipt.uid, *folder));
  }
  PB_TRY(txn.commit());
  return outcome;
}

core::Result<std::vector<State>> Journal::apply_receipt_effect(const ReceiptEffect& effect,
                                                               core::TimePoint at) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(auto txn, sqlite::Transaction::begin(db));
  PB_TRY_ASSIGN(auto applied, apply_effect(db, effect, at));
  PB_TRY(txn.commit());
  return applied;
}

core::Result<bool> Journal::has_receipt(std::uint64_t uidvalidity, std::uint64_t uid) {
  if (!m_impl) {
    return moved_from();
  }
  PB_TRY_ASSIGN(sqlite::Query q,
                m_impl->db->query("SELECT 1 FROM receipts WHERE uidvalidity = ?1 AND uid = ?2"));
  q->bind_int64(1, static_cast<std::int64_t>(uidvalidity));
  q->bind_int64(2, static_cast<std::int64_t>(uid));
  return q->step();
}

core::Result<bool> Journal::has_receipt_sha256(const std::string& sha256) {
  if (!m_impl) {
    return moved_from();
  }
  PB_TRY_ASSIGN(sqlite::Query q,
                m_impl->db->query("SELECT 1 FROM receipts WHERE sha256 = ?1 LIMIT 1"));
  q->bind_text(1, sha256);
  return q->step();
}

namespace {

core::Result<std::vector<ReceiptRecord>> read_receipts(sqlite::Query& q) {
  std::vector<ReceiptRecord> out;
  for (;;) {
    PB_TRY_ASSIGN(const bool has_row, q->step());
    if (!has_row) {
      return out;
    }
    ReceiptRecord r;
    r.uid = static_cast<std::uint64_t>(q->column_int64(0));
    r.uidvalidity = static_cast<std::uint64_t>(q->column_int64(1));
    r.message_id = q->column_text(2);
    r.kind = q->column_text(3);
    r.identificativo = q->column_text(4);
    r.consegna = q->column_text(5);
    r.errore = q->column_text(6);
    r.errore_esteso = q->column_text(7);
    r.time = q->column_text(8);
    r.signature = q->column_text(9);
    r.file = q->column_text(10);
    r.sha256 = q->column_text(11);
    if (!q->column_is_null(12)) {
      r.row_id = q->column_int64(12);
    }
    r.at = core::from_unix_ms(q->column_int64(13));
    out.push_back(std::move(r));
  }
}

constexpr const char* k_receipt_columns =
    "SELECT uid, uidvalidity, message_id, kind, identificativo, consegna, errore, "
    "errore_esteso, time, signature, file, sha256, row_id, at_ms FROM receipts ";

} // namespace

core::Result<std::vector<ReceiptRecord>> Journal::receipts() {
  if (!m_impl) {
    return moved_from();
  }
  PB_TRY_ASSIGN(sqlite::Query q,
                m_impl->db->query(std::string(k_receipt_columns) + "ORDER BY id"));
  return read_receipts(q);
}

core::Result<std::vector<ReceiptRecord>> Journal::receipts_for(const std::string& message_id) {
  if (!m_impl) {
    return moved_from();
  }
  PB_TRY_ASSIGN(sqlite::Query q, m_impl->db->query(std::string(k_receipt_columns) +
                                                   "WHERE message_id = ? ORDER BY id"));
  q->bind_text(1, message_id);
  return read_receipts(q);
}

core::Result<std::optional<core::TimePoint>> Journal::last_receipt_time() {
  if (!m_impl) {
    return moved_from();
  }
  PB_TRY_ASSIGN(sqlite::Query q, m_impl->db->query("SELECT max(at_ms) FROM receipts"));
  PB_TRY_ASSIGN(const bool has_row, q->step());
  if (!has_row || q->column_is_null(0)) {
    return std::optional<core::TimePoint>();
  }
  return std::optional<core::TimePoint>(core::from_unix_ms(q->column_int64(0)));
}

core::Result<std::optional<MailboxCursor>> Journal::mailbox_cursor() {
  if (!m_impl) {
    return moved_from();
  }
  return read_cursor(*m_impl->db);
}

core::Status Journal::set_mailbox_cursor(const MailboxCursor& cursor) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(auto txn, sqlite::Transaction::begin(db));
  PB_TRY(write_cursor(db, cursor));
  return txn.commit();
}

core::Result<std::optional<MailboxCursor>> Journal::folder_cursor(const std::string& folder) {
  if (!m_impl) {
    return moved_from();
  }
  return read_cursor(*m_impl->db, folder);
}

core::Status Journal::set_folder_cursor(const std::string& folder, const MailboxCursor& cursor) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(auto txn, sqlite::Transaction::begin(db));
  PB_TRY(write_cursor(db, cursor, folder));
  return txn.commit();
}

core::Result<std::vector<Event>> Journal::events(std::int64_t id) {
  if (!m_impl) {
    return moved_from();
  }
  auto& db = *m_impl->db;
  PB_TRY_ASSIGN(sqlite::Query q,
                db.query("SELECT at_ms, from_state, to_state, smtp_code, detail "
                         "FROM events WHERE row_id = ?1 ORDER BY id"));
  q->bind_int64(1, id);
  std::vector<Event> out;
  for (;;) {
    PB_TRY_ASSIGN(const bool has_row, q->step());
    if (!has_row) {
      return out;
    }
    Event e;
    e.row_id = id;
    e.at = core::from_unix_ms(q->column_int64(0));
    if (!q->column_is_null(1)) {
      const std::string from = q->column_text(1);
      e.from = parse_state(from);
      if (!e.from) {
        return unknown_state(db, from);
      }
    }
    const std::string to = q->column_text(2);
    const auto parsed = parse_state(to);
    if (!parsed) {
      return unknown_state(db, to);
    }
    e.to = *parsed;
    e.smtp_code = static_cast<int>(q->column_int64(3));
    e.detail = q->column_text(4);
    out.push_back(std::move(e));
  }
}

// --- Sending a row again (schema 3) ---------------------------------------

namespace {

core::Result<RowRecord> row_by_id(sqlite::Db& db, std::int64_t id) {
  PB_TRY_ASSIGN(sqlite::Query q, db.query(k_select_by_id));
  q->bind_int64(1, id);
  PB_TRY_ASSIGN(const bool found, q->step());
  if (!found) {
    return internal_error(db, "no row with id " + std::to_string(id));
  }
  return read_row(db, *q);
}

core::Error refused(const RowRecord& row, const std::string& why) {
  return core::make_error(core::ErrorKind::input,
                          "row " + std::to_string(row.row) + " (" + row.address + ", " +
                              row.message_id + "): " + why);
}

// retry_row (`uncertain` false) and resend_uncertain (true): the checks,
// the new row, the link and both events, in one transaction.
core::Result<RowRecord> resend_row(sqlite::Db& db, const Resend& request, bool uncertain) {
  if (request.new_message_id.empty()) {
    return internal_error(db, "a row sent again needs a new Message-ID");
  }
  PB_TRY_ASSIGN(auto txn, sqlite::Transaction::begin(db));
  PB_TRY_ASSIGN(const RowRecord old, row_by_id(db, request.id));
  if (old.superseded_by) {
    PB_TRY_ASSIGN(const RowRecord next, row_by_id(db, *old.superseded_by));
    return refused(old, "already sent again as " + next.message_id);
  }
  if (old.state == State::delivered) {
    return refused(old, "delivered: a delivered row is never sent again");
  }
  if (uncertain) {
    if (old.state != State::uncertain) {
      return refused(old, std::string("is ") + to_string(old.state) + ", not uncertain");
    }
    PB_TRY_ASSIGN(sqlite::Query q,
                  db.query("SELECT count(*), group_concat(DISTINCT kind) FROM receipts "
                           "WHERE message_id = ?1"));
    q->bind_text(1, old.message_id);
    PB_TRY(q->step());
    if (const auto n = q->column_int64(0); n > 0) {
      return refused(old, std::to_string(n) + (n == 1 ? " receipt" : " receipts") +
                              " naming its Message-ID recorded (" + q->column_text(1) +
                              "): the provider has it");
    }
  } else if (!is_retryable(old.state)) {
    return refused(old, std::string("is ") + to_string(old.state) +
                            (old.state == State::uncertain
                                 ? ": an uncertain row is sent again only by "
                                   "'pecbatch resolve --resend-uncertain'"
                                 : ", which is not a failure that can be retried"));
  }
  {
    PB_TRY_ASSIGN(sqlite::Query q, db.query("SELECT 1 FROM rows WHERE message_id = ?1"));
    q->bind_text(1, request.new_message_id);
    PB_TRY_ASSIGN(const bool taken, q->step());
    if (taken) {
      return refused(old, "Message-ID " + request.new_message_id + " already exists");
    }
  }
  const long long at_ms = core::to_unix_ms(request.at);
  {
    PB_TRY_ASSIGN(sqlite::Query q,
                  db.query("INSERT INTO rows(row, address, message_id, state, "
                           "content_sha256, created_ms, updated_ms, generation, retry_of) "
                           "VALUES(?1, ?2, ?3, ?4, '', ?5, ?5, ?6, ?7)"));
    q->bind_int64(1, static_cast<std::int64_t>(old.row));
    q->bind_text(2, old.address);
    q->bind_text(3, request.new_message_id);
    q->bind_text(4, to_string(State::queued));
    q->bind_int64(5, at_ms);
    q->bind_int64(6, static_cast<std::int64_t>(old.generation) + 1);
    q->bind_int64(7, old.id);
    PB_TRY(q->run());
  }
  const std::int64_t new_id = db.last_insert_rowid();
  const std::string why = request.detail.empty() ? "" : ": " + request.detail;
  std::string new_detail = uncertain ? "resend of uncertain " : "retry of ";
  new_detail.append(old.message_id).append(why);
  PB_TRY(append_event(db, EventData{new_id, request.at, std::nullopt, State::queued, 0, {},
                                    {}, new_detail}));

  const State old_to = uncertain ? State::abandoned : old.state;
  {
    PB_TRY_ASSIGN(sqlite::Query q,
                  db.query("UPDATE rows SET superseded_by = ?2, state = ?3, updated_ms = ?4 "
                           "WHERE id = ?1"));
    q->bind_int64(1, old.id);
    q->bind_int64(2, new_id);
    q->bind_text(3, to_string(old_to));
    q->bind_int64(4, at_ms);
    PB_TRY(q->run());
  }
  std::string old_detail = uncertain ? "abandoned, sent again as " : "superseded by ";
  old_detail.append(request.new_message_id).append(why);
  PB_TRY(append_event(db, EventData{old.id, request.at, old.state, old_to, 0, {}, {},
                                    old_detail}));
  PB_TRY_ASSIGN(RowRecord added, row_by_id(db, new_id));
  PB_TRY(txn.commit());
  return added;
}

} // namespace

core::Result<std::optional<RowRecord>> Journal::find_current(const std::string& message_id) {
  PB_TRY_ASSIGN(auto found, find_by_message_id(message_id));
  if (!found) {
    return found;
  }
  auto& db = *m_impl->db;
  // A chain is short (one link per retry); its links only ever point to
  // newer rows, so it ends.
  while (found->superseded_by) {
    PB_TRY_ASSIGN(RowRecord next, row_by_id(db, *found->superseded_by));
    if (next.id <= found->id) {
      return internal_error(db, "row id " + std::to_string(found->id) +
                                    " is superseded by an older row (damaged?)");
    }
    *found = std::move(next);
  }
  return found;
}

core::Result<RowRecord> Journal::retry_row(const Resend& request) {
  if (!m_impl) {
    return moved_from();
  }
  return resend_row(*m_impl->db, request, false);
}

core::Result<RowRecord> Journal::resend_uncertain(const Resend& request) {
  if (!m_impl) {
    return moved_from();
  }
  return resend_row(*m_impl->db, request, true);
}

core::Result<std::map<State, std::uint64_t>> Journal::current_counts() {
  if (!m_impl) {
    return moved_from();
  }
  return count_states(*m_impl->db, "SELECT state, count(*) FROM rows WHERE "
                                   "superseded_by IS NULL GROUP BY state");
}

} // namespace pecbatch::journal

#pragma once

#include "sqlite_db.hpp"

#include <pecbatch/core/result.hpp>

#include <cstdint>
#include <string>

namespace pecbatch::journal::schema {

// `PRAGMA application_id` of a pecbatch journal ("PECB"), so that a journal
// is recognised as such by `file(1)`-like tools and by `open`.
inline constexpr std::int64_t k_application_id = 0x50454342;

// The meta key holding the campaign id (set at creation, never changed).
inline constexpr const char* k_campaign_key = "campaign_id";

// The schema version this pecbatch writes (the last migration's).
int current_version();

// Brings `db` to the current schema and checks that it belongs to
// `campaign_id` (storing it in a new journal). Each migration runs in its
// own BEGIN IMMEDIATE transaction that re-reads user_version first, so two
// processes opening a new journal at once do not collide.
//
// Fails with `config` when the journal is newer than this pecbatch, is not
// a pecbatch journal, or belongs to another campaign; `io` on SQLite
// failures.
core::Status prepare(sqlite::Db& db, const std::string& campaign_id);

// Checks, without changing anything, that `db` is a pecbatch journal of
// `campaign_id` that this pecbatch can read (not newer); returns its schema
// version (at least 1). Fails with `config` otherwise.
core::Result<int> check_existing(sqlite::Db& db, const std::string& campaign_id);

} // namespace pecbatch::journal::schema

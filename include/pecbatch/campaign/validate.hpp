#pragma once

#include <pecbatch/campaign/rows.hpp>
#include <pecbatch/compose/message.hpp>
#include <pecbatch/config/campaign.hpp>
#include <pecbatch/contacts/contacts.hpp>
#include <pecbatch/core/diagnostic.hpp>
#include <pecbatch/core/result.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <string>

namespace pecbatch::campaign {

struct ValidationReport {
  std::uint64_t rows = 0;        // data rows read
  std::uint64_t valid = 0;       // rows that would be sent
  std::uint64_t skipped = 0;     // duplicates dropped by policy `skip`
  std::uint64_t selected = 0;    // valid rows inside the row selection
  core::Diagnostics errors;      // data problems: nothing may be sent
  core::Diagnostics warnings;    // notes (e.g. skipped duplicates)
  std::uint64_t largest_bytes = 0;
  std::uint64_t largest_row = 0;
  std::string largest_address;
  std::uint64_t total_bytes = 0;
  std::chrono::seconds estimated_duration{0};  // for `valid` rows at the rate
};

// Called for each valid, selected row with its composed message. The sink
// may take `spec` and `bytes` (move from them): the pass does not use them
// after (a 2 MB message is then never copied).
using MessageSink = std::function<core::Status(const contacts::Contact& contact,
                                               compose::MessageSpec& spec,
                                               std::string& bytes)>;

struct ValidateOptions {
  RowSet rows;              // rows passed to the sink
  std::time_t date = 0;     // Date header of composed messages (0 = now)
  MessageSink sink;         // optional
  // Checked before each row when set: false stops the pass early (the
  // report then covers the rows read so far).
  std::function<bool()> keep_going;
  // false: rows are read and checked but no message is composed (no size
  // or attachment checks either), and `row_sink` gets each selected row
  // without problems instead of `sink`. For passes over a campaign already
  // validated in full.
  bool compose = true;
  std::function<core::Status(const contacts::Contact&)> row_sink;
  // false: every message is composed as far as checking it and knowing its
  // size needs, but its bytes are not produced: the sink gets an empty
  // `bytes` (compose::composed_size for the size). Messages that no sink
  // takes are never produced.
  bool bytes = true;
};

// Reads every contact row, checks it and composes its message: the whole
// of what `send` would do, without the network. Returns the report; fails
// only when the campaign cannot be checked at all (`config` for template or
// shared-attachment problems, `no_input`/`input` for an unreadable contacts
// file), or when the sink fails.
core::Result<ValidationReport> validate_campaign(const config::Campaign& campaign,
                                                 const ValidateOptions& options = {});

// Time to send `messages` at the campaign's rates (minute, hour, day),
// assuming the provider answers instantly.
std::chrono::seconds estimate_duration(std::uint64_t messages,
                                       const config::Limits& limits);

// "3 h 20 min", "45 s", "2 days 4 h".
std::string format_duration(std::chrono::seconds duration);

// "1.2 MB", "850 kB", "312 B" (powers of 1000, like provider limits).
std::string format_size(std::uint64_t bytes);

} // namespace pecbatch::campaign

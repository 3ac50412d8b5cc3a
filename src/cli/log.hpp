#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

// The log: structured records (an event name and ordered key/value fields)
// written to the file given with the global --log-file, as text
// (`TIME LEVEL event key=value ...`) or JSON Lines (--log-format json),
// filtered by --log-level. Process-wide and thread-safe (spdlog underneath).
// Never give it a secret or a message body: callers pass addresses,
// Message-IDs, codes and texts only.
namespace pecbatch::cli {

enum class LogLevel { debug, info, warning, error };
enum class LogFormat { text, json };

struct LogSettings {
  std::string file;  // empty: no log
  LogFormat format = LogFormat::text;
  LogLevel level = LogLevel::info;
};

using LogValue = std::variant<std::string, std::int64_t, bool>;
using LogFields = std::vector<std::pair<std::string, LogValue>>;

// Opens (appends to) the log file; throws core::Fatal (io) when it cannot.
// Without a file, logging is off.
void open_log(const LogSettings& settings);
// Flushes and closes the log (also done at exit).
void close_log();

// Whether a record at `level` would be written.
bool log_enabled(LogLevel level);

// Writes one record, e.g. log(LogLevel::info, "attempt", {{"row", 2}, ...}).
void log(LogLevel level, std::string_view event, const LogFields& fields);

// The text and JSON forms of one record (for tests).
std::string format_text_record(std::string_view time, LogLevel level,
                               std::string_view event, const LogFields& fields);
std::string format_json_record(std::string_view time, LogLevel level,
                               std::string_view event, const LogFields& fields);

} // namespace pecbatch::cli

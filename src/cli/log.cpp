#include "log.hpp"

#include <pecbatch/core/result.hpp>
#include <pecbatch/core/strings.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

namespace pecbatch::cli {

namespace {

struct LogState {
  std::mutex mutex;
  std::shared_ptr<spdlog::logger> logger;
  LogSettings settings;
};

LogState& state() {
  static LogState s;
  return s;
}

const char* level_name(LogLevel level) {
  switch (level) {
  case LogLevel::debug:
    return "debug";
  case LogLevel::info:
    return "info";
  case LogLevel::warning:
    return "warning";
  case LogLevel::error:
    return "error";
  }
  return "info";
}

// Local time with its UTC offset, to the millisecond (ISO 8601).
std::string now_iso8601() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char zone[8];
  std::strftime(zone, sizeof zone, "%z", &tm);  // +0100
  const std::string z(zone);
  std::string out(date);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms.count()));
  out.append(frac);
  if (z.size() == 5) {
    out.append(z, 0, 3);
    out.push_back(':');
    out.append(z, 3, 2);
  } else {
    out.append(z);
  }
  return out;
}

bool needs_quotes(const std::string& value) {
  if (value.empty()) {
    return true;
  }
  for (const char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

} // namespace

std::string format_text_record(std::string_view time, LogLevel level, std::string_view event,
                               const LogFields& fields) {
  std::string line(time);
  line.push_back(' ');
  line.append(level_name(level));
  line.push_back(' ');
  line.append(event);
  for (const auto& [key, value] : fields) {
    line.push_back(' ');
    line.append(key);
    line.push_back('=');
    if (const auto* text = std::get_if<std::string>(&value)) {
      line.append(needs_quotes(*text) ? core::quote(*text) : *text);
    } else if (const auto* number = std::get_if<std::int64_t>(&value)) {
      line.append(std::to_string(*number));
    } else {
      line.append(std::get<bool>(value) ? "true" : "false");
    }
  }
  return line;
}

std::string format_json_record(std::string_view time, LogLevel level, std::string_view event,
                               const LogFields& fields) {
  nlohmann::ordered_json record;
  record["time"] = time;
  record["level"] = level_name(level);
  record["event"] = event;
  for (const auto& [key, value] : fields) {
    std::visit([&record, &key](const auto& v) { record[key] = v; }, value);
  }
  // Invalid UTF-8 (a server's reply text) is replaced, never a throw.
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void open_log(const LogSettings& settings) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (s.logger) {
    s.logger->flush();
    s.logger.reset();
  }
  s.settings = settings;
  if (settings.file.empty()) {
    return;
  }
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(settings.file, false);
    auto logger = std::make_shared<spdlog::logger>("pecbatch", std::move(sink));
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::trace);
    // Every record reaches the file at once: a killed run keeps its log.
    logger->flush_on(spdlog::level::trace);
    s.logger = std::move(logger);
  } catch (const spdlog::spdlog_ex& e) {
    throw core::Fatal(core::make_error(core::ErrorKind::io,
                                       settings.file + ": cannot open log file: " + e.what()));
  }
}

void close_log() {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (s.logger) {
    s.logger->flush();
    s.logger.reset();
  }
}

bool log_enabled(LogLevel level) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  return s.logger != nullptr && level >= s.settings.level;
}

void log(LogLevel level, std::string_view event, const LogFields& fields) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (!s.logger || level < s.settings.level) {
    return;
  }
  const std::string time = now_iso8601();
  const std::string line = s.settings.format == LogFormat::json
                               ? format_json_record(time, level, event, fields)
                               : format_text_record(time, level, event, fields);
  s.logger->info(line);
}

} // namespace pecbatch::cli

#include "log.hpp"

#include <support/temp_dir.hpp>

#include <pecbatch/core/file.hpp>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <string>

using namespace pecbatch;
using namespace pecbatch::cli;

namespace {

const LogFields k_fields = {{"row", std::int64_t{12}},
                            {"rcpt", std::string("niccolo.ferrari@pec.example.it")},
                            {"text", std::string("4.7.0 Too much \"traffic\" = slow")},
                            {"empty", std::string()},
                            {"retry", true}};

} // namespace

TEST(LogFormatTest, TextRecordQuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(format_text_record("2026-11-22T10:00:00.000+01:00", LogLevel::warning, "attempt",
                               k_fields),
            "2026-11-22T10:00:00.000+01:00 warning attempt row=12 "
            "rcpt=niccolo.ferrari@pec.example.it "
            "text=\"4.7.0 Too much \\\"traffic\\\" = slow\" empty=\"\" retry=true");
}

TEST(LogFormatTest, JsonRecordKeepsTypesAndOrder) {
  const auto line = format_json_record("T", LogLevel::info, "attempt", k_fields);
  const auto record = nlohmann::ordered_json::parse(line);
  EXPECT_EQ(record["time"], "T");
  EXPECT_EQ(record["level"], "info");
  EXPECT_EQ(record["event"], "attempt");
  EXPECT_EQ(record["row"], 12);
  EXPECT_EQ(record["text"], "4.7.0 Too much \"traffic\" = slow");
  EXPECT_EQ(record["retry"], true);
  std::vector<std::string> keys;
  for (const auto& item : record.items()) {
    keys.push_back(item.key());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"time", "level", "event", "row", "rcpt", "text",
                                            "empty", "retry"}));
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogFormatTest, InvalidUtf8FromAServerIsReplacedNotThrown) {
  const auto line =
      format_json_record("T", LogLevel::info, "attempt", {{"text", std::string("caf\xe8")}});
  EXPECT_EQ(nlohmann::json::parse(line)["text"], "caf\xef\xbf\xbd");
}

class LogFileTest : public pecbatch::test::TempDirTest {};

TEST_F(LogFileTest, WritesRecordsAtOrAboveTheLevelAndAppends) {
  const auto file = (dir() / "run.log").string();
  ASSERT_TRUE(core::write_file_atomic(file, "earlier line\n").ok());
  open_log(LogSettings{file, LogFormat::text, LogLevel::info});
  EXPECT_FALSE(log_enabled(LogLevel::debug));
  EXPECT_TRUE(log_enabled(LogLevel::warning));
  log(LogLevel::debug, "smtp", {{"line", std::string("C: EHLO")}});
  log(LogLevel::info, "start", {{"command", std::string("send")}});
  log(LogLevel::error, "error", {{"message", std::string("boom")}});
  close_log();
  EXPECT_FALSE(log_enabled(LogLevel::error));
  const auto text = core::read_file(file).value();
  EXPECT_EQ(text.rfind("earlier line\n", 0), 0u);
  EXPECT_EQ(text.find("smtp"), std::string::npos);
  EXPECT_NE(text.find(" info start command=send\n"), std::string::npos);
  EXPECT_NE(text.find(" error error message=boom\n"), std::string::npos);
}

TEST_F(LogFileTest, AnUnwritableFileIsAnIoError) {
  // A regular file where a directory should be.
  ASSERT_TRUE(core::write_file_atomic(dir() / "plain", "x").ok());
  try {
    open_log(LogSettings{(dir() / "plain" / "run.log").string(), LogFormat::text,
                         LogLevel::info});
    FAIL() << "expected core::Fatal";
  } catch (const core::Fatal& fatal) {
    EXPECT_EQ(fatal.error().kind, core::ErrorKind::io);
    EXPECT_NE(fatal.error().message.find("cannot open log file"), std::string::npos);
  }
}

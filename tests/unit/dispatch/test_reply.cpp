#include <pecbatch/dispatch/transport.hpp>

#include "smtp_dialogue.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pecbatch::dispatch {
namespace {

// "451 4.7.1 text" -> SmtpReply, through the same parser the transport uses.
SmtpReply reply(const std::string& line) {
  const auto parsed = detail::parse_reply_line(line);
  EXPECT_TRUE(parsed.has_value()) << line;
  return detail::make_reply(parsed->code, parsed->text);
}

struct Case {
  const char* line;
  Outcome expected;
};

class ClassifyReplyTest : public ::testing::TestWithParam<Case> {};

TEST_P(ClassifyReplyTest, Classifies) {
  const Case& c = GetParam();
  EXPECT_EQ(to_string(classify_reply(reply(c.line))), std::string(to_string(c.expected)))
      << c.line;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ClassifyReplyTest,
    ::testing::Values(
        Case{"250 2.0.0 Ok: queued as 000004", Outcome::accepted},
        Case{"250 Ok", Outcome::accepted},
        Case{"421 4.3.2 Service not available, closing transmission channel",
             Outcome::transient},
        // About connections, not the rate: retried with back-off like any 4xx.
        Case{"421 4.7.0 Too many concurrent SMTP connections", Outcome::transient},
        Case{"450 4.7.1 Sender rate limit exceeded", Outcome::throttled},
        Case{"450 rate limit", Outcome::throttled},
        Case{"450 4.2.0 Mailbox temporarily unavailable", Outcome::transient},
        Case{"451 4.7.1 Greylisted, come back in 5 minutes", Outcome::transient},
        Case{"451 4.7.1 You are sending too fast, slow down", Outcome::throttled},
        // "Try again later" says nothing about speed: an ordinary 4xx.
        Case{"451 4.3.0 Temporary local problem, please try again later",
             Outcome::transient},
        Case{"421 4.7.0 Too many messages from your IP, slow down", Outcome::throttled},
        Case{"451 4.7.0 Throttling failure: Maximum sending rate exceeded",
             Outcome::throttled},
        Case{"452 4.3.1 Insufficient system storage", Outcome::transient},
        Case{"452 4.5.3 Too many recipients", Outcome::transient},
        Case{"454 4.7.0 Temporary authentication failure", Outcome::transient},
        Case{"451 4.3.0 Could not generate the separate accurate record",
             Outcome::transient}, // "rate" only as a word
        Case{"550 5.7.1 Class Of Service - Too much traffic from this sender",
             Outcome::throttled},
        Case{"550 \"Class Of Service\" - Too much traffic from this sender",
             Outcome::throttled},
        Case{"550 5.7.1 Message refused", Outcome::permanent},
        Case{"550 5.1.1 User unknown", Outcome::permanent},
        Case{"552 5.3.4 Message size exceeds fixed limit", Outcome::permanent},
        Case{"554 5.3.0 Transaction failed", Outcome::permanent},
        Case{"554 5.7.1 Too many recipients in this message", Outcome::permanent},
        Case{"535 5.7.8 Authentication credentials invalid", Outcome::auth},
        Case{"534 5.7.9 Authentication mechanism is too weak", Outcome::auth},
        Case{"530 5.7.0 Authentication required", Outcome::auth},
        Case{"550 5.7.8 Invalid credentials", Outcome::auth},
        Case{"354 End data with <CR><LF>.<CR><LF>", Outcome::transient}),
    // Stable names (the default would print the struct's bytes, a pointer
    // among them, which differ between test discovery and the run).
    [](const ::testing::TestParamInfo<Case>& param_info) {
      std::string name = "Case" + std::to_string(param_info.index) + "_";
      for (const char* p = param_info.param.line; *p != '\0' && name.size() < 40; ++p) {
        const char c = *p;
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        name += alnum ? c : '_';
      }
      return name;
    });

TEST(ClassifyReplyTest, UsesTheEnhancedClassWithoutABasicCode) {
  EXPECT_EQ(classify_reply(SmtpReply{0, "5.1.1", "User unknown"}), Outcome::permanent);
  EXPECT_EQ(classify_reply(SmtpReply{0, "4.4.1", "No answer"}), Outcome::transient);
  EXPECT_EQ(classify_reply(SmtpReply{0, "", ""}), Outcome::transient);
}

TEST(OutcomeTest, HasStableNames) {
  EXPECT_STREQ(to_string(Outcome::accepted), "accepted");
  EXPECT_STREQ(to_string(Outcome::transient), "transient");
  EXPECT_STREQ(to_string(Outcome::throttled), "throttled");
  EXPECT_STREQ(to_string(Outcome::permanent), "permanent");
  EXPECT_STREQ(to_string(Outcome::unknown), "unknown");
  EXPECT_STREQ(to_string(Outcome::auth), "auth");
  EXPECT_STREQ(to_string(Outcome::tls), "tls");
}

TEST(ParseReplyLineTest, SplitsCodeContinuationAndText) {
  auto line = detail::parse_reply_line("250-AUTH LOGIN PLAIN");
  ASSERT_TRUE(line);
  EXPECT_EQ(line->code, 250);
  EXPECT_FALSE(line->last);
  EXPECT_EQ(line->text, "AUTH LOGIN PLAIN");

  line = detail::parse_reply_line("334 ");
  ASSERT_TRUE(line);
  EXPECT_EQ(line->code, 334);
  EXPECT_TRUE(line->last);
  EXPECT_EQ(line->text, "");

  line = detail::parse_reply_line("221");
  ASSERT_TRUE(line);
  EXPECT_TRUE(line->last);

  EXPECT_FALSE(detail::parse_reply_line("25"));
  EXPECT_FALSE(detail::parse_reply_line("2500 x"));
  EXPECT_FALSE(detail::parse_reply_line("abc def"));
  EXPECT_FALSE(detail::parse_reply_line(""));
}

TEST(MakeReplyTest, SplitsTheEnhancedCode) {
  SmtpReply r = detail::make_reply(451, "4.7.1 Please try again");
  EXPECT_EQ(r.code, 451);
  EXPECT_EQ(r.enhanced, "4.7.1");
  EXPECT_EQ(r.text, "Please try again");

  r = detail::make_reply(550, "5.7.123 long detail");
  EXPECT_EQ(r.enhanced, "5.7.123");
  EXPECT_EQ(r.text, "long detail");

  r = detail::make_reply(250, "2.0.0");
  EXPECT_EQ(r.enhanced, "2.0.0");
  EXPECT_EQ(r.text, "");

  // Not enhanced codes.
  r = detail::make_reply(550, "5.7.1234 too many digits");
  EXPECT_EQ(r.enhanced, "");
  EXPECT_EQ(r.text, "5.7.1234 too many digits");
  r = detail::make_reply(451, "3.1.1 wrong class");
  EXPECT_EQ(r.enhanced, "");
  r = detail::make_reply(421, "4.3 short");
  EXPECT_EQ(r.enhanced, "");
  r = detail::make_reply(250, "Ok: queued as 1.2.3");
  EXPECT_EQ(r.enhanced, "");
  EXPECT_EQ(r.text, "Ok: queued as 1.2.3");
}

} // namespace
} // namespace pecbatch::dispatch

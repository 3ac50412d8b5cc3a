#include "smtp_dialogue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pecbatch::dispatch::detail {
namespace {

const std::string k_user = "mittente@pec.sandbox.test";
const std::string k_password = "SThwocgL26u-xwf8";

class SmtpDialogueTest : public ::testing::Test {
protected:
  SmtpDialogueTest()
      : dialogue([this](const std::string& line) { trace.push_back(line); },
                 secret_forms(k_user, k_password)) {}

  std::string joined() const {
    std::string all;
    for (const auto& line : trace) {
      all += line + "\n";
    }
    return all;
  }

  void expect_no_secret() const {
    const std::string all = joined();
    for (const auto& secret : secret_forms(k_user, k_password)) {
      EXPECT_EQ(all.find(secret), std::string::npos) << "secret in trace:\n" << all;
    }
  }

  // Greeting and EHLO with the given capability lines.
  void greet(const std::vector<std::string>& capabilities) {
    dialogue.new_connection();
    dialogue.begin_message();
    dialogue.server_bytes("220 smtps.pec.sandbox.test ESMTP\r\n");
    dialogue.client_bytes("EHLO client.test\r\n");
    std::string reply = "250-smtps.pec.sandbox.test\r\n";
    for (const auto& capability : capabilities) {
      reply += "250-" + capability + "\r\n";
    }
    reply += "250 HELP\r\n";
    dialogue.server_bytes(reply);
  }

  std::vector<std::string> trace;
  SmtpDialogue dialogue;
};

TEST_F(SmtpDialogueTest, Base64MatchesKnownVectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\0a\0b", 4)), "AGEAYg==");
}

TEST_F(SmtpDialogueTest, RedactsAuthPlainWithInitialResponse) {
  greet({"AUTH PLAIN LOGIN"});
  const std::string ir = base64(std::string(1, '\0') + k_user + '\0' + k_password);
  dialogue.client_bytes("AUTH PLAIN " + ir + "\r\n");
  dialogue.server_bytes("235 2.7.0 Authentication successful\r\n");
  EXPECT_TRUE(dialogue.auth_advertised());
  EXPECT_TRUE(dialogue.authenticated());
  EXPECT_EQ(trace.at(trace.size() - 2),
            "C: AUTH PLAIN <redacted " + std::to_string(ir.size()) + " bytes>");
  EXPECT_EQ(trace.back(), "S: 235 2.7.0 Authentication successful");
  expect_no_secret();
}

TEST_F(SmtpDialogueTest, RedactsAuthPlainContinuation) {
  greet({"AUTH LOGIN PLAIN"});
  const std::string response = base64(std::string(1, '\0') + k_user + '\0' + k_password);
  dialogue.client_bytes("AUTH PLAIN\r\n");
  dialogue.server_bytes("334 \r\n");
  dialogue.client_bytes(response + "\r\n");
  dialogue.server_bytes("235 2.7.0 Authentication successful\r\n");
  const std::vector<std::string> tail(trace.end() - 4, trace.end());
  EXPECT_EQ(tail, (std::vector<std::string>{
                      "C: AUTH PLAIN", "S: 334",
                      "C: <redacted " + std::to_string(response.size()) + " bytes>",
                      "S: 235 2.7.0 Authentication successful"}));
  expect_no_secret();
}

TEST_F(SmtpDialogueTest, RedactsAuthLoginUserAndPassword) {
  greet({"AUTH=LOGIN"});
  dialogue.client_bytes("AUTH LOGIN\r\n");
  dialogue.server_bytes("334 VXNlcm5hbWU6\r\n");
  dialogue.client_bytes(base64(k_user) + "\r\n");
  dialogue.server_bytes("334 UGFzc3dvcmQ6\r\n");
  dialogue.client_bytes(base64(k_password) + "\r\n");
  dialogue.server_bytes("235 2.7.0 Authentication successful\r\n");
  const std::vector<std::string> tail(trace.end() - 6, trace.end());
  EXPECT_EQ(tail,
            (std::vector<std::string>{
                "C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6",
                "C: <redacted " + std::to_string(base64(k_user).size()) + " bytes>",
                "S: 334 UGFzc3dvcmQ6",
                "C: <redacted " + std::to_string(base64(k_password).size()) + " bytes>",
                "S: 235 2.7.0 Authentication successful"}));
  EXPECT_TRUE(dialogue.auth_advertised()); // the old "AUTH=" form
  EXPECT_TRUE(dialogue.authenticated());
  expect_no_secret();
}

TEST_F(SmtpDialogueTest, FailedAuthIsNotAuthentication) {
  greet({"AUTH PLAIN"});
  dialogue.client_bytes("AUTH PLAIN AGZvbwBiYXI=\r\n");
  dialogue.server_bytes("535 5.7.8 Authentication credentials invalid\r\n");
  EXPECT_FALSE(dialogue.authenticated());
  ASSERT_TRUE(dialogue.last_reply());
  EXPECT_EQ(dialogue.last_reply()->code, 535);
  EXPECT_EQ(dialogue.last_reply()->enhanced, "5.7.8");
  // The exchange is over: the next client line is shown again.
  dialogue.client_bytes("QUIT\r\n");
  EXPECT_EQ(trace.back(), "C: QUIT");
}

TEST_F(SmtpDialogueTest, NoticesMissingAuthInEhlo) {
  greet({"SIZE 1000", "8BITMIME"});
  EXPECT_FALSE(dialogue.auth_advertised());
  EXPECT_FALSE(dialogue.authenticated());
  // A 235 that does not answer our AUTH does not count.
  dialogue.server_bytes("235 2.7.0 whatever\r\n");
  EXPECT_FALSE(dialogue.authenticated());
}

TEST_F(SmtpDialogueTest, StarttlsEhloTwiceKeepsTheLastAnswer) {
  greet({"STARTTLS"});
  EXPECT_FALSE(dialogue.auth_advertised());
  dialogue.client_bytes("STARTTLS\r\n");
  dialogue.server_bytes("220 Ready to start TLS\r\n");
  dialogue.client_bytes("EHLO client.test\r\n");
  dialogue.server_bytes("250-x\r\n250-AUTH LOGIN PLAIN\r\n250 HELP\r\n");
  EXPECT_TRUE(dialogue.auth_advertised());
}

TEST_F(SmtpDialogueTest, AuthenticationLastsForTheConnectionOnly) {
  greet({"AUTH PLAIN"});
  dialogue.client_bytes("AUTH PLAIN AGZvbwBiYXI=\r\n");
  dialogue.server_bytes("235 2.7.0 Ok\r\n");
  dialogue.begin_message(); // a second message on the same connection
  EXPECT_TRUE(dialogue.authenticated());
  dialogue.new_connection();
  EXPECT_FALSE(dialogue.authenticated());
  EXPECT_FALSE(dialogue.auth_advertised());
}

TEST_F(SmtpDialogueTest, TracksTheReplyAfterTheData) {
  greet({"AUTH PLAIN"});
  dialogue.client_bytes("MAIL FROM:<a@b> SIZE=10\r\n");
  dialogue.server_bytes("250 2.1.0 Ok\r\n");
  dialogue.client_bytes("RCPT TO:<c@d>\r\n");
  dialogue.server_bytes("250 2.1.5 Ok\r\n");
  dialogue.client_bytes("DATA\r\n");
  dialogue.server_bytes("354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_FALSE(dialogue.reply_after_data());
  dialogue.data_started();
  dialogue.data_complete(10);
  EXPECT_TRUE(dialogue.all_data_handed_over());
  EXPECT_FALSE(dialogue.reply_after_data());
  dialogue.server_bytes("250 2.0.0 Ok: queued as 1234\r\n");
  ASSERT_TRUE(dialogue.reply_after_data());
  EXPECT_EQ(dialogue.reply_after_data()->code, 250);
  EXPECT_EQ(dialogue.reply_after_data()->text, "Ok: queued as 1234");
  EXPECT_EQ(trace.at(trace.size() - 2), "C: <message: 10 bytes>");

  dialogue.begin_message();
  EXPECT_FALSE(dialogue.reply_after_data());
  EXPECT_FALSE(dialogue.all_data_handed_over());
  EXPECT_FALSE(dialogue.last_reply());
}

TEST_F(SmtpDialogueTest, IgnoresTheAnswerToQuit) {
  // libcurl closes the connection with QUIT after a refused RCPT.
  greet({"AUTH PLAIN"});
  dialogue.client_bytes("RCPT TO:<c@d>\r\n");
  dialogue.server_bytes("550 5.1.1 User unknown\r\n");
  dialogue.client_bytes("QUIT\r\n");
  dialogue.server_bytes("221 2.0.0 Bye\r\n");
  ASSERT_TRUE(dialogue.last_reply());
  EXPECT_EQ(dialogue.last_reply()->code, 550);
  EXPECT_EQ(trace.back(), "S: 221 2.0.0 Bye");
  dialogue.new_connection();
  dialogue.server_bytes("220 hello again\r\n");
  EXPECT_EQ(dialogue.last_reply()->code, 220);
}

TEST_F(SmtpDialogueTest, RedactsClientLinesItDoesNotKnow) {
  greet({});
  dialogue.client_bytes("XSECRET something\r\n");
  EXPECT_EQ(trace.back(), "C: <redacted 17 bytes>");
}

TEST_F(SmtpDialogueTest, ScrubsSecretsEvenFromServerLines) {
  greet({});
  dialogue.server_bytes("535 5.7.8 bad password " + k_password + "\r\n");
  EXPECT_EQ(trace.back(), "S: 535 5.7.8 bad password <redacted>");
  expect_no_secret();
}

TEST(SmtpDialogueNoTraceTest, WorksWithoutATraceSink) {
  SmtpDialogue dialogue({}, {});
  dialogue.new_connection();
  dialogue.begin_message();
  dialogue.client_bytes("EHLO x\r\n");
  dialogue.server_bytes("250-x\r\n250 AUTH PLAIN\r\n");
  EXPECT_TRUE(dialogue.auth_advertised());
}

} // namespace
} // namespace pecbatch::dispatch::detail

#include <pecbatch/core/address.hpp>

#include <gtest/gtest.h>

using pecbatch::core::is_valid_mailbox;
using pecbatch::core::mailbox_problem;

TEST(MailboxTest, AcceptsOrdinaryPecAddresses) {
  EXPECT_TRUE(is_valid_mailbox("mario.rossi@pec.it"));
  EXPECT_TRUE(is_valid_mailbox("studio-legale_bianchi@legalmail.it"));
  EXPECT_TRUE(is_valid_mailbox("a+b@sub.pec.example.com"));
  EXPECT_TRUE(is_valid_mailbox("X@Y.IT"));
}

TEST(MailboxTest, RefusesDisplayNamesSpacesAndBrackets) {
  EXPECT_FALSE(is_valid_mailbox("Mario Rossi <mario@pec.it>"));
  EXPECT_FALSE(is_valid_mailbox("<mario@pec.it>"));
  EXPECT_FALSE(is_valid_mailbox("mario rossi@pec.it"));
  EXPECT_FALSE(is_valid_mailbox(" mario@pec.it"));
}

TEST(MailboxTest, RefusesMalformedAddresses) {
  EXPECT_FALSE(is_valid_mailbox(""));
  EXPECT_FALSE(is_valid_mailbox("mario"));
  EXPECT_FALSE(is_valid_mailbox("@pec.it"));
  EXPECT_FALSE(is_valid_mailbox("mario@"));
  EXPECT_FALSE(is_valid_mailbox("mario@localhost"));
  EXPECT_FALSE(is_valid_mailbox("ma..rio@pec.it"));
  EXPECT_FALSE(is_valid_mailbox(".mario@pec.it"));
  EXPECT_FALSE(is_valid_mailbox("mario@pec..it"));
  EXPECT_FALSE(is_valid_mailbox("mario@-pec.it"));
  EXPECT_FALSE(is_valid_mailbox("mario@a@pec.it"));
  EXPECT_FALSE(is_valid_mailbox("mario@[127.0.0.1]"));
  EXPECT_FALSE(is_valid_mailbox("màrio@pec.it"));
}

TEST(MailboxTest, RefusesHeaderInjection) {
  auto problem = mailbox_problem("mario@pec.it\r\nBcc: victim@pec.it");
  ASSERT_TRUE(problem.has_value());
  EXPECT_NE(problem->find("line break"), std::string::npos);
  EXPECT_FALSE(is_valid_mailbox(std::string("mario@pec.it\0x", 14)));
}

TEST(MailboxTest, ReportsWhy) {
  EXPECT_EQ(*mailbox_problem("mario"), "missing '@'");
  EXPECT_NE(mailbox_problem("Mario <m@pec.it>")->find("display name"),
            std::string::npos);
}

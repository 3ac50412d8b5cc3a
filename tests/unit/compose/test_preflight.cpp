#include <pecbatch/compose/preflight.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pecbatch::compose {
namespace {

using Problems = std::vector<std::string>;

const std::vector<std::string> k_blocked = {"exe", "bat", "cmd", "com", "scr",
                                            "js",  "vbs", "ps1", "msi", "jar"};

constexpr std::uint64_t k_mb = 1024 * 1024;

TEST(BlockedExtensionTest, BlocksTheFinalExtension) {
  EXPECT_EQ(blocked_extension_problem("fattura.exe", k_blocked),
            "attachment \"fattura.exe\" has a blocked extension (.exe)");
  EXPECT_EQ(blocked_extension_problem("fattura.pdf.exe", k_blocked),
            "attachment \"fattura.pdf.exe\" has a blocked extension (.exe)");
  EXPECT_EQ(blocked_extension_problem("script.JS", k_blocked),
            "attachment \"script.JS\" has a blocked extension (.js)");
}

TEST(BlockedExtensionTest, IgnoresTrailingDotsAndSpacesLikeWindows) {
  EXPECT_EQ(blocked_extension_problem("FATTURA.EXE.", k_blocked),
            "attachment \"FATTURA.EXE.\" has a blocked extension (.exe)");
  EXPECT_EQ(blocked_extension_problem("fattura.exe. . ", k_blocked),
            "attachment \"fattura.exe. . \" has a blocked extension (.exe)");
}

TEST(BlockedExtensionTest, AllowsOtherNames) {
  EXPECT_EQ(blocked_extension_problem("fattura.pdf", k_blocked), std::nullopt);
  EXPECT_EQ(blocked_extension_problem("fattura.exe.pdf", k_blocked), std::nullopt);
  EXPECT_EQ(blocked_extension_problem("exe", k_blocked), std::nullopt);
  EXPECT_EQ(blocked_extension_problem("fattura.", k_blocked), std::nullopt);
  EXPECT_EQ(blocked_extension_problem("...", k_blocked), std::nullopt);
  EXPECT_EQ(blocked_extension_problem("", k_blocked), std::nullopt);
  EXPECT_EQ(blocked_extension_problem("fattura.exe", {}), std::nullopt);
  EXPECT_EQ(blocked_extension_problem("relazione.executive", k_blocked), std::nullopt);
}

TEST(BlockedExtensionTest, AcceptsListEntriesWithDotOrCapitals) {
  EXPECT_EQ(blocked_extension_problem("a.exe", {".EXE"}),
            "attachment \"a.exe\" has a blocked extension (.exe)");
}

TEST(BlockedExtensionTest, QuotesControlCharactersInNames) {
  EXPECT_EQ(blocked_extension_problem("a\tb.exe", k_blocked),
            "attachment \"a\\tb.exe\" has a blocked extension (.exe)");
}

TEST(PreflightTest, PassesWithinLimits) {
  MessageLimits limits;
  limits.max_message_bytes = 30 * k_mb;
  limits.max_attachments = 3;
  limits.blocked_extensions = k_blocked;
  EXPECT_EQ(preflight(30 * k_mb, {"a.pdf", "b.xml", "c.p7m"}, limits), Problems{});
  EXPECT_EQ(preflight(1000, {}, limits), Problems{});
}

TEST(PreflightTest, ZeroMeansNoLimit) {
  EXPECT_EQ(preflight(5000 * k_mb, std::vector<std::string>(500, "a.pdf"), MessageLimits{}),
            Problems{});
}

TEST(PreflightTest, ReportsSizeOverTheLimit) {
  MessageLimits limits;
  limits.max_message_bytes = 30 * k_mb;
  EXPECT_EQ(preflight(32715571, {}, limits),
            Problems{"message is 31.2 MB, over the provider's limit of 30 MB"});
  limits.max_message_bytes = 100 * 1024;
  EXPECT_EQ(preflight(150 * 1024, {}, limits),
            Problems{"message is 150 KB, over the provider's limit of 100 KB"});
  limits.max_message_bytes = 500;
  EXPECT_EQ(preflight(501, {}, limits),
            Problems{"message is 501 bytes, over the provider's limit of 500 bytes"});
}

TEST(PreflightTest, ShowsExactBytesWhenRoundingHidesTheDifference) {
  MessageLimits limits;
  limits.max_message_bytes = 30 * k_mb;
  EXPECT_EQ(preflight(30 * k_mb + 1, {}, limits),
            Problems{"message is 31457281 bytes, over the provider's limit of "
                     "31457280 bytes"});
}

TEST(PreflightTest, ReportsTooManyAttachments) {
  MessageLimits limits;
  limits.max_attachments = 2;
  EXPECT_EQ(preflight(10, {"a.pdf", "b.pdf", "c.pdf"}, limits),
            Problems{"message has 3 attachments, over the provider's limit of 2"});
}

TEST(PreflightTest, ReportsEveryProblemInOrder) {
  MessageLimits limits;
  limits.max_message_bytes = 10 * k_mb;
  limits.max_attachments = 1;
  limits.blocked_extensions = k_blocked;
  EXPECT_EQ(preflight(12 * k_mb, {"fattura.pdf.exe", "ok.pdf", "FATTURA.EXE."}, limits),
            (Problems{"message is 12 MB, over the provider's limit of 10 MB",
                      "message has 3 attachments, over the provider's limit of 1",
                      "attachment \"fattura.pdf.exe\" has a blocked extension (.exe)",
                      "attachment \"FATTURA.EXE.\" has a blocked extension (.exe)"}));
}

} // namespace
} // namespace pecbatch::compose

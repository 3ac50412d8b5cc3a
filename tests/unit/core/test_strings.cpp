#include <pecbatch/core/strings.hpp>

#include <gtest/gtest.h>

using namespace pecbatch::core;

TEST(StringsTest, FindsInvalidUtf8Offsets) {
  EXPECT_FALSE(find_invalid_utf8("Niccolò Ñandú €").has_value());
  EXPECT_EQ(find_invalid_utf8("abc\xE8xyz"), 3u);          // Latin-1 è
  EXPECT_EQ(find_invalid_utf8("ab\xC0\xAF"), 2u);          // overlong '/'
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0u);        // surrogate
  EXPECT_EQ(find_invalid_utf8("ok\xF4\x90\x80\x80"), 2u);  // > U+10FFFF
  EXPECT_EQ(find_invalid_utf8("cut\xE2\x82"), 3u);         // truncated €
}

TEST(StringsTest, ConvertsWindows1252AndLatin1) {
  EXPECT_EQ(windows1252_to_utf8("Citt\xE0 \x80 \x93x\x94"), "Città € “x”");
  EXPECT_EQ(latin1_to_utf8("Citt\xE0 \x80"), "Città \xC2\x80");
}

TEST(StringsTest, SuggestsCloseNamesOnly) {
  const std::vector<std::string> keys = {"address", "username", "password_env"};
  EXPECT_EQ(suggest("adress", keys), "address");
  EXPECT_EQ(suggest("usernme", keys), "username");
  EXPECT_FALSE(suggest("zzz", keys).has_value());
}

TEST(StringsTest, QuotesControlCharacters) {
  EXPECT_EQ(quote("a\r\nb\"c"), "\"a\\r\\nb\\\"c\"");
}

TEST(StringsTest, TrimsAndSplits) {
  EXPECT_EQ(trim("  a b \t"), "a b");
  EXPECT_EQ(split("a;b;;c", ';'), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_TRUE(ends_with_icase("fattura.PDF.EXE", ".exe"));
}

TEST(StringsTest, AppendsUtf8ForEveryPlane) {
  std::string out;
  append_utf8(out, 0x41);
  append_utf8(out, 0xE0);      // à
  append_utf8(out, 0x20AC);    // €
  append_utf8(out, 0x1F4E7);   // 📧
  append_utf8(out, 0xD800);    // lone surrogate -> U+FFFD
  EXPECT_EQ(out, "Aà€\xF0\x9F\x93\xA7\xEF\xBF\xBD");
  EXPECT_FALSE(find_invalid_utf8(out).has_value());
}

#include "fingerprints.hpp"
#include "values.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace pecbatch::contacts::detail;

TEST(ContactsValuesTest, FormatsNumbersWithoutFloatNoise) {
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(1234.56), "1234.56");
  EXPECT_EQ(format_number(0.1 + 0.2), "0.3");
  EXPECT_EQ(format_number(1234.0), "1234");
  EXPECT_EQ(format_number(100000.0), "100000");
  EXPECT_EQ(format_number(-3.25), "-3.25");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(12345678901.0), "12345678901");
  EXPECT_EQ(format_number(9007199254740992.0), "9007199254740992");
  EXPECT_EQ(format_number(1.0 / 3.0), "0.333333333333333");
  EXPECT_EQ(format_number(0.001), "0.001");
  EXPECT_EQ(format_number(1e-7), "1e-07");
  EXPECT_EQ(format_number(1e20), "1e+20");
}

TEST(ContactsValuesTest, FormatsSerialDates) {
  EXPECT_EQ(format_serial(45366, NumberKind::date, false), "2024-03-15");
  EXPECT_EQ(format_serial(45366.75, NumberKind::date, false), "2024-03-15");
  EXPECT_EQ(format_serial(45366.5, NumberKind::datetime, false), "2024-03-15 12:00:00");
  // 09:30 stored as 0.3958333333 rounds to the second.
  EXPECT_EQ(format_serial(45659.3958333333, NumberKind::datetime, false),
            "2025-01-02 09:30:00");
  EXPECT_EQ(format_serial(0.75, NumberKind::time, false), "18:00:00");
  EXPECT_EQ(format_serial(1, NumberKind::date, false), "1900-01-01");
  EXPECT_EQ(format_serial(59, NumberKind::date, false), "1900-02-28");
  EXPECT_EQ(format_serial(60, NumberKind::date, false), "1900-02-29");
  EXPECT_EQ(format_serial(61, NumberKind::date, false), "1900-03-01");
  EXPECT_EQ(format_serial(25569, NumberKind::date, false), "1970-01-01");
  EXPECT_EQ(format_serial(2958465, NumberKind::date, false), "9999-12-31");
  // The Mac 1904 date system.
  EXPECT_EQ(format_serial(0, NumberKind::date, true), "1904-01-01");
  EXPECT_EQ(format_serial(43904, NumberKind::date, true), "2024-03-15");
  // Out of range or not a date format: a number.
  EXPECT_EQ(format_serial(-1, NumberKind::date, false), "-1");
  EXPECT_EQ(format_serial(3000000, NumberKind::date, false), "3000000");
  EXPECT_EQ(format_serial(45366, NumberKind::number, false), "45366");
}

TEST(ContactsValuesTest, ClassifiesBuiltInFormats) {
  EXPECT_EQ(classify_builtin_format(0), NumberKind::number);
  EXPECT_EQ(classify_builtin_format(4), NumberKind::number);
  EXPECT_EQ(classify_builtin_format(14), NumberKind::date);
  EXPECT_EQ(classify_builtin_format(17), NumberKind::date);
  EXPECT_EQ(classify_builtin_format(18), NumberKind::time);
  EXPECT_EQ(classify_builtin_format(21), NumberKind::time);
  EXPECT_EQ(classify_builtin_format(22), NumberKind::datetime);
  EXPECT_EQ(classify_builtin_format(45), NumberKind::time);
  EXPECT_EQ(classify_builtin_format(47), NumberKind::time);
  EXPECT_EQ(classify_builtin_format(49), NumberKind::number);
}

TEST(ContactsValuesTest, ClassifiesCustomFormatCodes) {
  EXPECT_EQ(classify_format_code("yyyy\\-mm\\-dd"), NumberKind::date);
  EXPECT_EQ(classify_format_code("DD/MM/YYYY"), NumberKind::date);
  EXPECT_EQ(classify_format_code("[$-410]dd\\ mmmm\\ yyyy"), NumberKind::date);
  EXPECT_EQ(classify_format_code("mmm"), NumberKind::date);
  EXPECT_EQ(classify_format_code("yyyy\\-mm\\-dd\\ hh:mm:ss"), NumberKind::datetime);
  EXPECT_EQ(classify_format_code("h:mm AM/PM"), NumberKind::time);
  EXPECT_EQ(classify_format_code("[h]:mm"), NumberKind::time);
  EXPECT_EQ(classify_format_code("mm:ss"), NumberKind::time);
  EXPECT_EQ(classify_format_code("General"), NumberKind::number);
  EXPECT_EQ(classify_format_code("#,##0.00 [$€-410];[RED]-#,##0.00 [$€-410]"),
            NumberKind::number);
  EXPECT_EQ(classify_format_code("0.00\" days\""), NumberKind::number);
  EXPECT_EQ(classify_format_code("0\\d"), NumberKind::number);
  EXPECT_EQ(classify_format_code("_(* #,##0_);@"), NumberKind::number);
  EXPECT_EQ(classify_format_code("0.00E+00"), NumberKind::number);
}

TEST(ContactsValuesTest, DecodesOoxmlEscapes) {
  EXPECT_EQ(decode_ooxml_escapes("a_x000D_b"), "a\rb");
  EXPECT_EQ(decode_ooxml_escapes("_x000d__x000a_"), "\r\n");
  EXPECT_EQ(decode_ooxml_escapes("_x005F_x000D_"), "_x000D_"); // escaped '_'
  EXPECT_EQ(decode_ooxml_escapes("_x20AC_"), "€");
  EXPECT_EQ(decode_ooxml_escapes("my_x_file_xZZZZ_"), "my_x_file_xZZZZ_");
  EXPECT_EQ(decode_ooxml_escapes("_x00"), "_x00");
}

TEST(ContactsValuesTest, ConvertsColumnReferences) {
  EXPECT_EQ(column_index("A1"), 0u);
  EXPECT_EQ(column_index("C5"), 2u);
  EXPECT_EQ(column_index("Z9"), 25u);
  EXPECT_EQ(column_index("AA10"), 26u);
  EXPECT_EQ(column_index("XFD1048576"), 16383u);
  EXPECT_FALSE(column_index("XFE1").has_value());
  EXPECT_FALSE(column_index("AAAA1").has_value());
  EXPECT_FALSE(column_index("12").has_value());
  EXPECT_FALSE(column_index("").has_value());
  EXPECT_EQ(column_name(0), "A");
  EXPECT_EQ(column_name(25), "Z");
  EXPECT_EQ(column_name(27), "AB");
  EXPECT_EQ(column_name(16383), "XFD");
}

TEST(ContactsValuesTest, RemembersFirstRowsByFingerprint) {
  FirstRows rows;
  EXPECT_FALSE(rows.insert(fingerprint("a@pec.it"), 2).has_value());
  EXPECT_FALSE(rows.insert(fingerprint("b@pec.it"), 3).has_value());
  EXPECT_EQ(rows.insert(fingerprint("a@pec.it"), 9), 2u);
  EXPECT_EQ(rows.insert(fingerprint("a@pec.it"), 10), 2u);
  // Growing keeps every entry.
  for (std::uint64_t i = 0; i < 50000; ++i) {
    ASSERT_FALSE(rows.insert(fingerprint("u" + std::to_string(i) + "@pec.it"), i + 100))
        << i;
  }
  EXPECT_EQ(rows.size(), 50002u);
  EXPECT_EQ(rows.insert(fingerprint("b@pec.it"), 1), 3u);
  EXPECT_EQ(rows.insert(fingerprint("u49999@pec.it"), 1), 50099u);
  EXPECT_NE(fingerprint(""), 0u);
  EXPECT_NE(fingerprint("a@pec.it"), fingerprint("a@pec.iu"));
}

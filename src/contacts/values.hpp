#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// How spreadsheet cell values become text. Shared by the XLSX and XLS
// readers, private to the contacts module (tests include it directly).
namespace pecbatch::contacts::detail {

// What a number format displays, as far as turning a serial number into text
// is concerned.
enum class NumberKind { number, date, datetime, time };

// Formats a spreadsheet number as a person reading the sheet would type it:
// integers without ".0" (exactly, up to 2^53), other values with at most 15
// significant digits (Excel's precision; this also hides binary noise such as
// 0.1 + 0.2 = 0.30000000000000004) in their shortest form, "." as decimal
// separator whatever the locale.
std::string format_number(double value);

// Formats a serial date (days since the spreadsheet epoch, fraction = time of
// day) as `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` or `HH:MM:SS` according to
// `kind` (`number` formats it as a number). `date1904` selects the Mac epoch.
// The 1900 system reproduces Lotus 1-2-3's fictitious 1900-02-29 (serial 60)
// as Excel does. Serial numbers outside 0..2958465 (year 9999) are formatted
// as numbers.
std::string format_serial(double serial, NumberKind kind, bool date1904);

// Classifies a built-in number format id (ECMA-376 18.8.30): 14-17 dates,
// 22 date-time, 18-21 and 45-47 times, anything else a number.
NumberKind classify_builtin_format(unsigned id);

// Classifies a custom number format code by the letters it uses outside
// quoted text, `[...]` brackets (colours, locales; elapsed `[h]`, `[mm]`,
// `[ss]` count as time), backslash escapes and `_x` / `*x` fillers: d/y (or
// m without h/s) mean a date, h/s (or m next to them) a time.
NumberKind classify_format_code(std::string_view code);

// Decodes the `_xHHHH_` escapes of OOXML strings (ST_Xstring), which Excel
// uses for control characters such as CR (`_x000D_`); `_x005F_` escapes a
// literal underscore. Other text is returned unchanged.
std::string decode_ooxml_escapes(std::string_view text);

// Parses the column part of an A1-style reference ("C5" -> 2, "AA10" ->
// 26); nullopt if `ref` does not start with 1 to 3 letters naming a column
// up to XFD (16384 columns).
std::optional<std::size_t> column_index(std::string_view ref);

// The A1-style name of a 0-based column index: 0 -> "A", 27 -> "AB".
std::string column_name(std::size_t index);

} // namespace pecbatch::contacts::detail

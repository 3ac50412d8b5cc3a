#include "values.hpp"

#include <pecbatch/core/strings.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>

namespace pecbatch::contacts::detail {

namespace {

// Largest double below which every integer is exact.
constexpr double k_exact_integer_limit = 9007199254740992.0; // 2^53

// Largest serial number of a date a spreadsheet can show: 9999-12-31.
constexpr double k_max_serial = 2958465.0;

constexpr long long k_seconds_per_day = 86400;

struct CivilDate {
  long long year;
  unsigned month;
  unsigned day;
};

// Howard Hinnant's days_from_civil inverse: the proleptic Gregorian date of
// `days` since 1970-01-01.
CivilDate civil_from_days(long long days) {
  days += 719468;
  const long long era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long long year = static_cast<long long>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {month <= 2 ? year + 1 : year, month, day};
}

std::string format_date(long long serial_days, bool date1904) {
  CivilDate date{};
  if (date1904) {
    // Serial 0 is 1904-01-01, which is 24107 days before 1970-01-01.
    date = civil_from_days(serial_days - 24107);
  } else if (serial_days == 60) {
    // Lotus 1-2-3 thought 1900 was a leap year; Excel keeps the day.
    date = {1900, 2, 29};
  } else if (serial_days < 60) {
    // Serial 1 is 1900-01-01.
    date = civil_from_days(serial_days - 25568);
  } else {
    // Past the fictitious 1900-02-29 everything is one day off.
    date = civil_from_days(serial_days - 25569);
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", date.year, date.month,
                date.day);
  return buf;
}

std::string format_time(long long seconds) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", seconds / 3600,
                seconds / 60 % 60, seconds % 60);
  return buf;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool starts_with_lower(std::string_view s, std::size_t pos,
                       std::string_view prefix) {
  if (s.size() - pos < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (lower(s[pos + i]) != prefix[i]) {
      return false;
    }
  }
  return true;
}

// True for the elapsed-time brackets [h], [mm], [ss] (any repetition).
bool is_elapsed_time(std::string_view inside) {
  if (inside.empty()) {
    return false;
  }
  const char first = lower(inside[0]);
  if (first != 'h' && first != 'm' && first != 's') {
    return false;
  }
  for (char ch : inside) {
    if (lower(ch) != first) {
      return false;
    }
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace

std::string format_number(double value) {
  char buf[64];
  if (!std::isfinite(value)) {
    const auto res = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, res.ptr);
  }
  if (std::trunc(value) == value && std::fabs(value) <= k_exact_integer_limit) {
    // Also turns -0 into "0".
    return std::to_string(static_cast<long long>(value));
  }
  const auto res =
      std::to_chars(buf, buf + sizeof buf, value, std::chars_format::general, 15);
  return std::string(buf, res.ptr);
}

std::string format_serial(double serial, NumberKind kind, bool date1904) {
  if (kind == NumberKind::number || !std::isfinite(serial) || serial < 0 ||
      serial >= k_max_serial + 1) {
    return format_number(serial);
  }
  const long long total = std::llround(serial * static_cast<double>(k_seconds_per_day));
  const long long days = total / k_seconds_per_day;
  const long long seconds = total % k_seconds_per_day;
  switch (kind) {
  case NumberKind::date:
    return format_date(days, date1904);
  case NumberKind::datetime:
    return format_date(days, date1904) + ' ' + format_time(seconds);
  case NumberKind::time:
    return format_time(seconds);
  case NumberKind::number:
    break;
  }
  return format_number(serial);
}

NumberKind classify_builtin_format(unsigned id) {
  if (id >= 14 && id <= 17) {
    return NumberKind::date;
  }
  if (id == 22) {
    return NumberKind::datetime;
  }
  if ((id >= 18 && id <= 21) || (id >= 45 && id <= 47)) {
    return NumberKind::time;
  }
  return NumberKind::number;
}

NumberKind classify_format_code(std::string_view code) {
  bool date = false;
  bool time = false;
  bool month = false;
  for (std::size_t i = 0; i < code.size(); ++i) {
    const char c = lower(code[i]);
    if (c == '"') {
      const auto end = code.find('"', i + 1);
      if (end == std::string_view::npos) {
        break;
      }
      i = end;
    } else if (c == '\\' || c == '_' || c == '*') {
      ++i; // escaped character, padding or fill: not a format letter
    } else if (c == '[') {
      const auto end = code.find(']', i + 1);
      if (end == std::string_view::npos) {
        break;
      }
      if (is_elapsed_time(code.substr(i + 1, end - i - 1))) {
        time = true;
      }
      i = end;
    } else if (starts_with_lower(code, i, "am/pm")) {
      time = true;
      i += 4;
    } else if (starts_with_lower(code, i, "a/p")) {
      time = true;
      i += 2;
    } else if (c == 'd' || c == 'y') {
      date = true;
    } else if (c == 'h' || c == 's') {
      time = true;
    } else if (c == 'm') {
      month = true;
    }
  }
  if (month && !time) {
    date = true; // "mmm yyyy", "mmmm": months, not minutes
  }
  if (date && time) {
    return NumberKind::datetime;
  }
  if (date) {
    return NumberKind::date;
  }
  if (time) {
    return NumberKind::time;
  }
  return NumberKind::number;
}

std::string decode_ooxml_escapes(std::string_view text) {
  if (text.find("_x") == std::string_view::npos) {
    return std::string(text);
  }
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '_' && i + 6 < text.size() && text[i + 1] == 'x' &&
        text[i + 6] == '_') {
      unsigned cp = 0;
      bool hex = true;
      for (std::size_t k = 2; k < 6; ++k) {
        const int v = hex_value(text[i + k]);
        if (v < 0) {
          hex = false;
          break;
        }
        cp = cp * 16 + static_cast<unsigned>(v);
      }
      if (hex) {
        core::append_utf8(out, cp);
        i += 7;
        continue;
      }
    }
    out += text[i];
    ++i;
  }
  return out;
}

std::optional<std::size_t> column_index(std::string_view ref) {
  std::size_t value = 0;
  std::size_t letters = 0;
  while (letters < ref.size()) {
    const char c = lower(ref[letters]);
    if (c < 'a' || c > 'z') {
      break;
    }
    value = value * 26 + static_cast<std::size_t>(c - 'a' + 1);
    ++letters;
    if (letters > 3) {
      return std::nullopt;
    }
  }
  if (letters == 0 || value > 16384) {
    return std::nullopt;
  }
  return value - 1;
}

std::string column_name(std::size_t index) {
  std::string name;
  std::size_t n = index + 1;
  while (n > 0) {
    const std::size_t rem = (n - 1) % 26;
    name.insert(name.begin(), static_cast<char>('A' + rem));
    n = (n - 1) / 26;
  }
  return name;
}

} // namespace pecbatch::contacts::detail

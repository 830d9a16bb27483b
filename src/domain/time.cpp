#include "domain/time.h"

#include <cstdio>

namespace sc {
namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

// The supported range, as UTC instants: 0001-01-01T00:00:00Z up to (not including) 10000-01-01.
// PostgreSQL's date and timestamptz cannot store year 0 or BC dates as ISO text, and a year past
// 9999 would not print as four digits.
constexpr Date kFirstDate{std::chrono::year{1} / 1 / 1};
constexpr Date kEndDate{std::chrono::year{10000} / 1 / 1};

}  // namespace

std::string formatDate(Date d) {
  std::chrono::year_month_day ymd{d};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::optional<Date> parseDate(std::string_view s) {
  int y, m, d;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  if (!digits(s, 0, 4, y) || !digits(s, 5, 2, m) || !digits(s, 8, 2, d)) return std::nullopt;
  if (y < 1) return std::nullopt;  // years 0001-9999 only (no year 0, no BC dates)
  std::chrono::year_month_day ymd{std::chrono::year{y},
                                  std::chrono::month{static_cast<unsigned>(m)},
                                  std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return Date{ymd};
}

std::string formatTimestamp(Timestamp t) {
  auto day = std::chrono::floor<std::chrono::days>(t);
  auto tod = t - day;
  auto h = std::chrono::duration_cast<std::chrono::hours>(tod);
  auto mi = std::chrono::duration_cast<std::chrono::minutes>(tod - h);
  auto se = std::chrono::duration_cast<std::chrono::seconds>(tod - h - mi);
  auto us = (tod - h - mi - se).count();
  char buf[48];
  if (us == 0) {
    std::snprintf(buf, sizeof buf, "%sT%02ld:%02ld:%02ldZ", formatDate(day).c_str(),
                  static_cast<long>(h.count()), static_cast<long>(mi.count()),
                  static_cast<long>(se.count()));
  } else {
    std::snprintf(buf, sizeof buf, "%sT%02ld:%02ld:%02ld.%06ldZ", formatDate(day).c_str(),
                  static_cast<long>(h.count()), static_cast<long>(mi.count()),
                  static_cast<long>(se.count()), static_cast<long>(us));
  }
  return buf;
}

std::optional<Timestamp> parseTimestamp(std::string_view s) {
  if (s.size() < 20) return std::nullopt;
  auto date = parseDate(s.substr(0, 10));
  if (!date || (s[10] != 'T' && s[10] != 't' && s[10] != ' ')) return std::nullopt;
  int hh, mm, ss;
  if (!digits(s, 11, 2, hh) || s[13] != ':' || !digits(s, 14, 2, mm) || s[16] != ':' ||
      !digits(s, 17, 2, ss))
    return std::nullopt;
  if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  size_t i = 19;
  long micros = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 6) micros = micros * 10 + (s[i] - '0');
      ++n;
      ++i;
    }
    if (i == start || n > 9) return std::nullopt;
    for (; n < 6; ++n) micros *= 10;
  }
  if (i >= s.size()) return std::nullopt;
  long offset_min = 0;
  if (s[i] == 'Z' || s[i] == 'z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int oh, om;
    if (!digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !digits(s, i + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  if (ss == 60) ss = 59;  // leap second: clamp, as PostgreSQL does not represent it either
  Timestamp t = startOf(*date) + std::chrono::hours(hh) + std::chrono::minutes(mm) +
                std::chrono::seconds(ss) + std::chrono::microseconds(micros) -
                std::chrono::minutes(offset_min);
  // An offset can carry a date at the range's edge out of it ("0001-01-01T00:30:00+01:00").
  if (t < startOf(kFirstDate) || t >= startOf(kEndDate)) return std::nullopt;
  return t;
}

}  // namespace sc

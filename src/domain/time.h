#pragma once
// Timestamps (UTC, microsecond precision, like PostgreSQL's timestamptz) and calendar dates,
// with RFC 3339 / ISO 8601 text forms. Clock is the injectable source of "now".
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sc {

using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;
using Date = std::chrono::sys_days;
using Duration = std::chrono::microseconds;

// "2024-11-17T16:30:00Z" (fraction printed only when non-zero, as ".123456").
std::string formatTimestamp(Timestamp t);
// Accepts RFC 3339: date 'T' time, optional fraction (up to 9 digits, truncated to µs), and 'Z' or
// a numeric offset. Returns nullopt when malformed, not a real calendar date/time, or (with the
// offset applied) outside 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z, the range
// PostgreSQL and formatTimestamp share.
std::optional<Timestamp> parseTimestamp(std::string_view s);
// "2024-11-19"
std::string formatDate(Date d);
// "YYYY-MM-DD", a real proleptic Gregorian date with a year from 0001 to 9999; nullopt otherwise.
std::optional<Date> parseDate(std::string_view s);
// "2024-11-19T00:00:00Z", the spec's rendering of a settlement date.
inline std::string formatDateAsTimestamp(Date d) {
  return formatTimestamp(std::chrono::time_point_cast<Duration>(d));
}
inline Date dateOf(Timestamp t) { return std::chrono::floor<std::chrono::days>(t); }
inline Timestamp startOf(Date d) { return std::chrono::time_point_cast<Duration>(d); }

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  }
};

// Elapsed time (never jumps with the wall clock): how long a batch has held its lease.
class MonotonicClock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~MonotonicClock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public MonotonicClock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  // The process-wide instance (stateless).
  static const SteadyClock& instance() {
    static const SteadyClock c;
    return c;
  }
};

}  // namespace sc

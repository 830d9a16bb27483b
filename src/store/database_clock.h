#pragma once
// The database's clock as the application's (DESIGN §8): every instance of a cluster stamps and
// compares times — a settlement's creation and deadline, when a retry is due, event times — on
// PostgreSQL's timeline, so a host whose clock is minutes off neither fails settlements early nor
// delays their retries (leases are already set and judged by the server's clock_timestamp()).
//
// now() = the server's `SELECT clock_timestamp()` at a sample + the time elapsed since, on this
// host's steady clock: the server's reading is paired with the midpoint of the steady readings
// around the round trip (error at most half the round trip, well under a millisecond on one
// network). A step of this host's wall clock (an NTP step, a VM resumed) therefore moves nothing.
// sync() samples (three times, the shortest round trip wins); start() re-samples every `interval`
// on its own thread, and keeps the last sample while the database is unreachable. now() never
// goes backwards: a new sample that would move it back holds it until the database's time has
// caught up (a step forward is taken at once). Before the first sample it is this host's clock.
// The offset (the database's clock minus this host's wall clock at the sample) is exported as
// the gauge sc_clock_offset_milliseconds, and a skew over `warn_above` is logged.
#include <atomic>
#include <chrono>

#include "common/metrics.h"
#include "common/periodic.h"
#include "domain/result.h"
#include "domain/time.h"
#include "store/pool.h"

namespace sc::store {

class DatabaseClock final : public Clock {
 public:
  explicit DatabaseClock(pg::ConnectionPool& pool, const Clock& local = systemClock(),
                         const MonotonicClock& steady = SteadyClock::instance(),
                         std::chrono::milliseconds interval = std::chrono::seconds(10),
                         std::chrono::milliseconds warn_above = std::chrono::seconds(1));
  ~DatabaseClock() override;
  DatabaseClock(const DatabaseClock&) = delete;
  DatabaseClock& operator=(const DatabaseClock&) = delete;

  Timestamp now() const override;
  // Samples the database's clock now; an error leaves the last sample in place.
  Result<void> sync();
  void start();  // re-measures every interval until stop()
  void stop();
  Duration offset() const { return Duration(offset_us_.load()); }

 private:
  static const Clock& systemClock();

  pg::ConnectionPool& pool_;
  const Clock& local_;
  const MonotonicClock& steady_;
  std::chrono::milliseconds interval_, warn_above_;
  std::atomic<int64_t> offset_us_{0};
  // The database's time minus the steady clock's at the last sample (µs), once there is one.
  std::atomic<int64_t> anchor_us_{0};
  std::atomic<bool> anchored_{false};
  mutable std::atomic<int64_t> latest_us_{0};  // the greatest now() returned since anchored
  metrics::Probe probe_{"clock"};
  metrics::Gauge offset_gauge_ = probe_.gauge(
      "sc_clock_offset_milliseconds", "The database's clock minus this host's, as last measured");
  Periodic periodic_;
};

}  // namespace sc::store

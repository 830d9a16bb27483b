#pragma once
// The database's clock as the application's (DESIGN §8): every instance of a cluster stamps and
// compares times — a settlement's creation and deadline, when a retry is due, event times — on
// PostgreSQL's timeline, so a host whose clock is minutes off neither fails settlements early nor
// delays their retries (leases are already set and judged by the server's clock_timestamp()).
//
// now() = this host's clock + an offset measured against `SELECT clock_timestamp()`: the server's
// reading minus the midpoint of the local readings around the round trip (error at most half the
// round trip, well under a millisecond on one network). sync() measures it (three samples, the one
// with the shortest round trip wins); start() re-measures every `interval` on its own thread, and
// keeps the last offset while the database is unreachable. The offset is exported as the gauge
// sc_clock_offset_milliseconds, and a skew over `warn_above` is logged.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "domain/result.h"
#include "domain/time.h"
#include "store/pool.h"

namespace sc::store {

class DatabaseClock final : public Clock {
 public:
  explicit DatabaseClock(pg::ConnectionPool& pool, const Clock& local = systemClock(),
                         std::chrono::milliseconds interval = std::chrono::seconds(10),
                         std::chrono::milliseconds warn_above = std::chrono::seconds(1));
  ~DatabaseClock() override;
  DatabaseClock(const DatabaseClock&) = delete;
  DatabaseClock& operator=(const DatabaseClock&) = delete;

  Timestamp now() const override { return local_.now() + Duration(offset_us_.load()); }
  // Measures the offset now; an error leaves the last one in place.
  Result<void> sync();
  void start();  // re-measures every interval until stop()
  void stop();
  Duration offset() const { return Duration(offset_us_.load()); }

 private:
  static const Clock& systemClock();

  pg::ConnectionPool& pool_;
  const Clock& local_;
  std::chrono::milliseconds interval_, warn_above_;
  std::atomic<int64_t> offset_us_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sc::store

#pragma once
// Clocks that move only when a test moves them: FakeClock (wall time, Clock) and FakeElapsed
// (MonotonicClock, how long a batch has held its lease). Thread-safe.
#include <atomic>

#include "domain/time.h"

namespace sc::test {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(Timestamp t) : now_(t.time_since_epoch().count()) {}
  Timestamp now() const override { return Timestamp(Duration(now_.load())); }
  void set(Timestamp t) { now_ = t.time_since_epoch().count(); }
  void advance(Duration d) { now_ += d.count(); }

 private:
  std::atomic<Duration::rep> now_;
};

class FakeElapsed final : public MonotonicClock {
 public:
  TimePoint now() const override { return TimePoint(TimePoint::duration(ticks_.load())); }
  void advance(std::chrono::nanoseconds d) {
    ticks_ += std::chrono::duration_cast<TimePoint::duration>(d).count();
  }

 private:
  std::atomic<TimePoint::duration::rep> ticks_{0};
};

}  // namespace sc::test

#pragma once
// This instance's live throughput for GET /overview (the dashboard): trades accepted, settlements
// confirmed and settled, and the confirmation latency (accepted → confirmed, i.e. created_at →
// confirmed_at), over a sliding window of the last kSlots seconds kept in memory. Intake feeds the
// accepted trades and Workflow the committed transitions to CONFIRMED and SETTLED, each with the
// time of its own clock (the database's, shared by every instance).
//
// Bounded: one slot per second, each a fixed histogram of latencies in log-linear buckets (8 per
// power of two from 8 µs, exact below), so a percentile is reported as the upper bound of its
// bucket: at most 12.5 % above the exact value, and never above the largest latency of the
// window. A window covers whole seconds before the current one (the current second is still
// filling).
//
// Concurrency: one mutex; the record calls are O(1), window() is O(seconds × buckets).
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "domain/time.h"

namespace sc::workflow {

class Throughput {
 public:
  static constexpr int kSlots = 300;  // seconds kept: the longest window
  static constexpr int kBuckets = 8 + 33 * 8;

  Throughput();

  void accepted(Timestamp at, int64_t n = 1);
  void confirmed(Timestamp at, Duration latency);
  void settled(Timestamp at, int64_t n = 1);

  struct Window {
    std::chrono::seconds span{0};  // the whole seconds covered
    int64_t accepted = 0, confirmed = 0, settled = 0;
    int64_t latency_count = 0;
    // Confirmation latency percentiles (bucket upper bounds) and maximum; nullopt without any
    // confirmation in the window.
    std::optional<Duration> p50, p90, p99, max;
    double perSecond(int64_t n) const {
      return span.count() > 0 ? static_cast<double>(n) / static_cast<double>(span.count()) : 0;
    }
  };
  // The `span` whole seconds (clamped to 1..kSlots) before the second of `now`.
  Window window(Timestamp now, std::chrono::seconds span) const;

  // Per second, oldest first: the `seconds` whole seconds (clamped to 1..kSlots) before the
  // second of `now`, for a live chart.
  struct Second {
    Timestamp at{};  // the second's start
    int64_t accepted = 0, confirmed = 0, settled = 0;
  };
  std::vector<Second> series(Timestamp now, int seconds) const;

  // The bucket of a latency and the largest latency that bucket holds (exposed for tests).
  static int bucketOf(Duration latency);
  static Duration bucketUpperBound(int bucket);

 private:
  struct Slot {
    int64_t second = INT64_MIN;  // which second this slot holds (stale slots are reset on write)
    int64_t accepted = 0, confirmed = 0, settled = 0;
    Duration max_latency{0};
    std::array<uint32_t, kBuckets> latency{};
  };
  Slot& slotFor(Timestamp at);  // under mu_

  mutable std::mutex mu_;
  std::vector<Slot> slots_;
};

}  // namespace sc::workflow

#pragma once
// Records the trades POST /trades rejects (issue 13) without ever changing or delaying the
// answer: submit() only admits and queues, one thread of its own writes the queue to the
// RejectionRepository in batches. Abuse is bounded twice: each remote address may have at most
// `per_address_per_minute` rejections recorded (a token bucket: that many at once, refilled
// evenly over a minute; REJECTIONS_HTTP_PER_MINUTE), and at most `queue_capacity` wait to be
// written. What is not recorded is counted (and logged at most once a minute); a write that fails
// is logged with its reasons, trade ids and addresses, and counted. The table itself is bounded by
// store::RejectionRetention.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "common/metrics.h"
#include "domain/time.h"
#include "store/rejection.h"

namespace sc::api {

struct RejectionRecorderOptions {
  int per_address_per_minute = 60;  // 0: no HTTP rejection is recorded
  size_t queue_capacity = 1000;     // rejections waiting to be written
  size_t max_addresses = 10000;     // token buckets kept; a new address past it is not recorded
};

struct RejectionRecorderMetrics {
  metrics::Probe probe{"rejection_recorder"};
  metrics::Counter recorded =
      probe.counter("sc_rejections_http_recorded_total", "HTTP rejections written to the table");
  metrics::Counter rate_limited =
      probe.counter("sc_rejections_http_rate_limited_total",
                    "HTTP rejections not recorded: their address was over its rate");
  metrics::Counter queue_full = probe.counter("sc_rejections_http_queue_full_total",
                                              "HTTP rejections not recorded: the queue was full");
  metrics::Counter write_failures = probe.counter("sc_rejections_http_write_failures_total",
                                                  "HTTP rejections whose write failed (logged)");
};

class RejectionRecorder {
 public:
  RejectionRecorder(store::RejectionRepository& repo, const Clock& clock,
                    RejectionRecorderOptions options);
  ~RejectionRecorder();  // stop()
  RejectionRecorder(const RejectionRecorder&) = delete;
  RejectionRecorder& operator=(const RejectionRecorder&) = delete;

  // Queues `r` (source http, remote_address set) unless its address is over its rate or the
  // queue is full; never blocks on the database. Whether it was queued.
  bool submit(store::Rejection r);
  // Waits until every rejection queued before the call has been written (or has failed).
  void flush();
  // Writes what is queued, then ends the writer thread. Later submits are not recorded.
  void stop();

  const RejectionRecorderMetrics& metrics() const { return metrics_; }

 private:
  struct Bucket {
    int64_t micro_tokens;  // 1,000,000 per rejection
    Timestamp at;
  };
  bool admit(const std::string& address, Timestamp now);  // mu_ held
  void run();

  store::RejectionRepository& repo_;
  const Clock& clock_;
  RejectionRecorderOptions options_;
  std::mutex mu_;
  std::condition_variable wake_, written_cv_;
  std::deque<store::Rejection> queue_;
  std::unordered_map<std::string, Bucket> buckets_;
  uint64_t queued_ = 0, written_ = 0;  // totals: flush() waits for written_ to catch up
  bool stopping_ = false;
  bool finished_ = false;  // the writer thread has ended
  Timestamp last_drop_log_{};
  RejectionRecorderMetrics metrics_;
  std::thread thread_;  // last: starts once everything above is ready
};

}  // namespace sc::api

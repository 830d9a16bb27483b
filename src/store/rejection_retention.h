#pragma once
// Bounds the rejections table (issue 13, DESIGN §7.6): every `interval` it deletes the rejections
// older than REJECTIONS_RETENTION_DAYS and all but the newest REJECTIONS_MAX_ROWS
// (RejectionRepository::prune), on its own thread. Every instance may run one: deleting is
// idempotent. Deletions are counted in sc_rejections_pruned_total, failures in
// sc_rejections_prune_failures_total (and logged); a failed pass is retried at the next interval.
#include <chrono>

#include "common/metrics.h"
#include "common/periodic.h"
#include "domain/result.h"
#include "domain/time.h"
#include "store/rejection.h"

namespace sc::store {

struct RejectionRetentionOptions {
  Duration max_age = std::chrono::days(30);  // REJECTIONS_RETENTION_DAYS
  int64_t max_rows = 1000000;                // REJECTIONS_MAX_ROWS
  std::chrono::milliseconds interval = std::chrono::minutes(1);
};

struct RejectionRetentionMetrics {
  metrics::Probe probe{"rejection_retention"};
  metrics::Counter pruned =
      probe.counter("sc_rejections_pruned_total", "Rejections deleted by retention (age or cap)");
  metrics::Counter failures = probe.counter("sc_rejections_prune_failures_total",
                                            "Retention passes over the rejections that failed");
};

class RejectionRetention {
 public:
  RejectionRetention(RejectionRepository& repo, RejectionRetentionOptions options);
  ~RejectionRetention();  // stop()
  RejectionRetention(const RejectionRetention&) = delete;
  RejectionRetention& operator=(const RejectionRetention&) = delete;

  // One pass now: how many rejections it deleted.
  Result<int64_t> runOnce();
  void start();  // a first pass at once, then one every interval until stop()
  void stop();
  const RejectionRetentionMetrics& metrics() const { return metrics_; }

 private:
  RejectionRepository& repo_;
  RejectionRetentionOptions options_;
  Periodic periodic_;
  RejectionRetentionMetrics metrics_;
};

}  // namespace sc::store

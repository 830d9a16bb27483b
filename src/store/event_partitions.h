#pragma once
// Keeps settlement_events' monthly partitions (migration 0010) ahead of the clock and, with
// EVENTS_RETENTION_MONTHS set, drops the months retention no longer needs (issue 12). On its own
// thread every `interval` (an hour); every instance may run one: the SQL functions serialize on
// an advisory lock and on the cut's row, and creating or dropping what is already there or gone
// is a no-op.
//  - ensure: the partitions of this month and the next `months_ahead` (the database clock's
//    month, in UTC), so inserts never fall into the default partition while this runs; rows that
//    did (sc_event_partitions_default_rows) are reported, and retention stops before them;
//  - drop: the months that ended before the first of (this month - retention_months), oldest
//    first, stopping at the first one still needed: one with an event of an active settlement,
//    one with an event not yet delivered to Kafka, and, when the reconciler runs here or has run
//    on any instance, one with an event it has not compared yet (sc_event_partitions_droppable
//    in the migration). The cut (event_retention.dropped_before) moves to the end of the last
//    month dropped: a settlement created before it has lost its history, or the part of it
//    before the cut, and can no longer be retried (history_dropped).
//    Each month is then detached and dropped in one short transaction (lock_timeout 2 s).
//    Settlements rows are never dropped: they keep each trade's final state and its intake
//    idempotency.
// Counted in sc_event_partitions_{created,dropped}_total; a failed pass in
// sc_event_partition_failures_total (and logged), retried at the next interval.
#include <chrono>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/periodic.h"
#include "domain/result.h"
#include "domain/time.h"
#include "store/pool.h"

namespace sc::store {

struct EventPartitionsOptions {
  int months_ahead = 2;
  int retention_months = 0;  // EVENTS_RETENTION_MONTHS; 0: every month is kept
  std::chrono::milliseconds interval = std::chrono::hours(1);
  // The reconciler runs on this instance (REC_ENABLED): what it has not compared is kept from
  // the start. Otherwise it is kept once the reconciler has run on any instance.
  bool reconciler_here = false;
};

struct EventPartitionsMetrics {
  metrics::Probe probe{"event_partitions"};
  metrics::Counter created = probe.counter("sc_event_partitions_created_total",
                                           "Monthly partitions of settlement_events created");
  metrics::Counter dropped =
      probe.counter("sc_event_partitions_dropped_total",
                    "Monthly partitions of settlement_events dropped by EVENTS_RETENTION_MONTHS");
  metrics::Counter failures = probe.counter("sc_event_partition_failures_total",
                                            "Partition maintenance passes that failed");
  metrics::Gauge in_default =
      probe.gauge("sc_event_partitions_default_rows",
                  "Events in settlement_events_default (their month had no partition)");
};

struct EventPartitionsPass {
  int created = 0;
  std::vector<std::string> dropped;  // partition names, oldest first
  int64_t in_default = 0;            // rows in settlement_events_default
};

class EventPartitions {
 public:
  // `clock`: the database's (DatabaseClock), whose month the partitions follow.
  EventPartitions(pg::ConnectionPool& pool, const Clock& clock, EventPartitionsOptions options);
  ~EventPartitions();  // stop()
  EventPartitions(const EventPartitions&) = delete;
  EventPartitions& operator=(const EventPartitions&) = delete;

  Result<EventPartitionsPass> runOnce();
  void start();  // a first pass at once, then one every interval until stop()
  void stop();
  const EventPartitionsMetrics& metrics() const { return metrics_; }

 private:
  Result<EventPartitionsPass> pass();

  pg::ConnectionPool& pool_;
  const Clock& clock_;
  EventPartitionsOptions options_;
  Periodic periodic_;
  EventPartitionsMetrics metrics_;
};

}  // namespace sc::store

#pragma once
// The outbox without Kafka (issue 12). With KAFKA_BOOTSTRAP_SERVERS unset nothing relays
// settlement_outbox, and every transition would add a row for good. Decision: the outbox is still
// written (one code path for both set-ups; configuring Kafka later relays what the cap kept), but
// bounded: every `interval` this drops the undelivered events beyond the newest OUTBOX_MAX_ROWS
// (OutboxRepository::trim), counts them in sc_outbox_dropped_total, and /ready's details say so.
// settlement_events, the audit trail that GET /settlements/{id} and the reconciler read, keeps
// every event. Never run with Kafka configured: there the backlog is work the relay still owes.
#include <atomic>
#include <chrono>
#include <string>

#include "common/metrics.h"
#include "common/periodic.h"
#include "domain/result.h"
#include "store/repository.h"

namespace sc::store {

struct OutboxCapOptions {
  int64_t max_rows = 100000;  // OUTBOX_MAX_ROWS
  std::chrono::milliseconds interval = std::chrono::seconds(10);
};

struct OutboxCapMetrics {
  metrics::Probe probe{"outbox_cap"};
  metrics::Counter dropped =
      probe.counter("sc_outbox_dropped_total",
                    "Undelivered outbox events dropped beyond OUTBOX_MAX_ROWS (no Kafka)");
  metrics::Counter failures =
      probe.counter("sc_outbox_cap_failures_total", "Outbox cap passes that failed");
};

class OutboxCap {
 public:
  OutboxCap(OutboxRepository& outbox, OutboxCapOptions options);
  ~OutboxCap();  // stop()
  OutboxCap(const OutboxCap&) = delete;
  OutboxCap& operator=(const OutboxCap&) = delete;

  // One pass now: how many events it dropped.
  Result<int64_t> runOnce();
  void start();  // a first pass at once, then one every interval until stop()
  void stop();
  // For /ready's details: what the cap has done ("no Kafka: outbox capped at N, M dropped").
  std::string describe() const;

 private:
  OutboxRepository& outbox_;
  OutboxCapOptions options_;
  std::atomic<int64_t> dropped_{0};
  OutboxCapMetrics metrics_;
  Periodic periodic_;
};

}  // namespace sc::store

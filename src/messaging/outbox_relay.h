#pragma once
// Relays settlement_events from the outbox to settlement.events (DESIGN §6) with librdkafka's
// idempotent producer (acks=all, infinite message timeout: a broker outage stalls the relay, never
// drops an event), key = settlement id. A batch is read by outbox position, produced in that order,
// and marked published once delivered. A crash re-sends only events whose delivery was not yet
// recorded, with the same event_id.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include <librdkafka/rdkafkacpp.h>

#include "common/metrics.h"
#include "domain/result.h"
#include "domain/time.h"
#include "messaging/kafka_options.h"
#include "store/repository.h"

namespace sc {

struct RelayMetrics {
  metrics::Counter published, delivery_failures, store_errors, batches;
  metrics::Gauge backlog;
};

class OutboxRelay {
 public:
  OutboxRelay(KafkaOptions options, OutboxRepository& outbox, const Clock& clock);
  ~OutboxRelay();
  void start();  // throws std::runtime_error on bad Kafka configuration
  void wake();
  void stop();   // stops after the batch in progress (undelivered events stay in the outbox)
  // Broker reachable (metadata request), for /ready.
  Result<void> ping();

  const RelayMetrics& metrics() const { return metrics_; }

 private:
  void run();
  bool waitForWork(std::chrono::milliseconds d);

  KafkaOptions opt_;
  OutboxRepository& outbox_;
  const Clock& clock_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wakeups_ = 0;
  RelayMetrics metrics_;
};

}  // namespace sc

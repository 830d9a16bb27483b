#pragma once
// Relays audit events from the outbox (settlement_outbox) to settlement.events (DESIGN §6) with
// librdkafka's idempotent producer (acks=all, infinite message timeout: a broker outage stalls the
// relay, never drops an event), key = settlement id. A batch is read by outbox position, produced
// in that order, and marked published once delivered — except, per settlement, every event after
// one that was not delivered: that one is re-sent first next time, so each settlement's events stay
// in order. Kafka never receives a later event of a settlement before an earlier one: a batch is
// produced in waves that hold at most one event of each settlement in flight, and an event that
// fails (refused by produce() or by the broker) holds back its settlement's later events. A crash
// re-sends only events whose delivery was not yet recorded, with the same event_id. A fatal
// producer error (idempotence state lost) replaces the producer; undelivered events are re-read.
//
// Several instances (DESIGN §8): with electWith(), only the holder of a PostgreSQL session-level
// advisory lock relays; the others are standbys that try the lock every kStandbyRetry. Why two
// relays never reorder a settlement's events, even in the moment both may be producing: see
// outbox_relay.cpp, "Leadership".
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "domain/result.h"
#include "domain/time.h"
#include "messaging/kafka_options.h"
#include "store/advisory_lock.h"
#include "store/repository.h"

namespace sc::messaging {

// The relay's probe (STYLE 8): one per OutboxRelay, its series removed with it.
struct RelayMetrics {
  metrics::Probe probe{"relay"};
  metrics::Counter published =
      probe.counter("sc_relay_published_total", "Settlement events delivered to Kafka");
  metrics::Counter delivery_failures =
      probe.counter("sc_relay_delivery_failures_total", "Event deliveries that failed (retried)");
  metrics::Counter store_errors =
      probe.counter("sc_relay_store_errors_total", "Outbox reads/updates that failed");
  metrics::Counter batches = probe.counter("sc_relay_batches_total", "Outbox batches relayed");
  metrics::Counter producer_restarts =
      probe.counter("sc_relay_producer_restarts_total", "Producers replaced after a fatal error");
  metrics::Gauge backlog =
      probe.gauge("sc_relay_last_batch_size", "Events in the last relayed batch");
  metrics::Gauge leader =  // 1 while this relay is the active one
      probe.gauge("sc_relay_leader",
                  "1 while this instance is the active outbox relay, 0 while standby");
  metrics::Counter leadership_changes =  // leadership taken or lost
      probe.counter("sc_relay_leadership_changes_total",
                    "Outbox relay leadership taken or lost by this instance");
  metrics::Histogram batch_size = metrics::batchSize(probe, "relay");
};

// The relay producer's librdkafka properties: defaults, then options.extra, then the settings the
// relay's guarantees rest on (idempotence, acks=all, no message timeout), which extras cannot
// change.
std::map<std::string, std::string> relayProducerProps(const KafkaOptions& options);

// Delivery state of one produced event.
// kSkipped: not produced, because produce() refused an earlier event of the same settlement.
enum class Delivery : int8_t { kPending = 0, kDelivered = 1, kFailed = -1, kSkipped = -2 };

// Which events of a batch (in outbox order, keys[i] = settlement of event i) may be marked
// published: the delivered ones that no undelivered (failed or still pending) event of the same
// key precedes. Indices in increasing order. Events from keys.size() on count as not produced.
std::vector<size_t> markableEvents(std::span<const Delivery> state,
                                   std::span<const std::string> keys);

class OutboxRelay {
 public:
  OutboxRelay(KafkaOptions options, store::OutboxRepository& outbox, const Clock& clock);
  ~OutboxRelay();
  // Before start(): relay only while holding `lock` (one active relay per database). Without it
  // the relay is always active (a single instance, tests).
  void electWith(std::unique_ptr<store::SessionAdvisoryLock> lock);
  void start();  // throws std::runtime_error on bad Kafka configuration
  void wake();   // new events are in the outbox: look now instead of after relay_idle_poll_ms
  void stop();   // stops after the batch in progress (undelivered events stay in the outbox)
  // Broker reachable (metadata request), for /ready.
  Result<void> ping();

  const RelayMetrics& metrics() const { return metrics_; }
  bool leader() const { return metrics_.leader.value() == 1; }
  std::string role() const { return leader() ? "leader" : "standby"; }  // for /ready

  // A standby tries the lock this often; a leader re-confirms it at least every kConfirmEvery
  // while it produces (and before each batch).
  static constexpr std::chrono::milliseconds kStandbyRetry{1000};
  static constexpr std::chrono::milliseconds kConfirmEvery{250};

  // Tests only: raises a fabricated librdkafka fatal error on the current producer
  // (rd_kafka_test_fatal_error; real ones cannot be provoked on purpose).
  void injectFatalErrorForTest();

 private:
  struct Deliveries;
  void run();
  bool waitForWork(std::chrono::milliseconds d);
  void sleepUnlessStopping(std::chrono::milliseconds d);
  std::shared_ptr<RdKafka::Producer> createProducer();
  std::shared_ptr<RdKafka::Producer> producer();
  void replaceProducer(const std::string& why);
  // Whether this relay may produce now: acquires or re-confirms the lock (re-confirmation at most
  // every kConfirmEvery unless `now`). Logs and counts every change.
  bool stillLeader(bool now = false);
  // Leadership lost mid-batch: drop whatever the producer still holds, so nothing more of ours
  // reaches Kafka, and start a fresh producer.
  void abandonProducer();

  KafkaOptions opt_;
  store::OutboxRepository& outbox_;
  const Clock& clock_;
  std::unique_ptr<Deliveries> deliveries_;  // outlives every producer (their dr_cb)
  std::mutex producer_mu_;                  // guards producer_ (swapped by the relay thread)
  std::shared_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<store::SessionAdvisoryLock> lock_;  // null: always active
  std::chrono::steady_clock::time_point confirmed_at_{};
  std::optional<std::chrono::steady_clock::time_point> lost_at_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wakeups_ = 0;
  RelayMetrics metrics_;
};

}  // namespace sc::messaging

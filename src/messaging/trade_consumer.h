#pragma once
// Consumes trade.events with a consumer group and manual offset commits (DESIGN §3, issue 4):
// a batch of messages goes through Intake in one store transaction; rejected messages go to the
// dead-letter topic (original key, value and headers plus the reason and source coordinates);
// only then are the batch's offsets committed. At-least-once delivery, exactly-once effect (the
// intake is idempotent per trade_id). A bad message never blocks its partition.
//
// A dead letter that cannot be written never stalls other messages (issue 11): one the DLQ
// refuses as too large is sent again with its value cut to 1 KiB and headers saying so
// (dlq.truncated, dlq.original_value_bytes, ...); any other failure (topic missing, access
// denied, not acknowledged in time, a fatal producer error, after which the producer is replaced)
// holds back only its own partition: that partition is committed up to the message, rewound to
// it and paused for 0.5 s, doubling to 30 s while it keeps failing, and logged with its
// coordinates; the other partitions of the batch are committed and go on. A store failure
// rewinds the whole batch.
//
// With recordRejectionsIn(), every rejected message is also recorded in PostgreSQL (the
// operator's view, GET /rejections) with its reason and coordinates, after the intake and before
// its dead letter and offset commit; a failure to record rewinds the whole batch, as a store
// failure of the intake does (trade_consumer.cpp, recordRejections, says why not in the intake's
// transaction).
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "common/metrics.h"
#include "domain/result.h"
#include "messaging/kafka_options.h"
#include "store/rejection.h"
#include "workflow/intake.h"

namespace sc::messaging {

// The consumer's probe (STYLE 8): one per TradeConsumer, its series removed with it.
struct ConsumerMetrics {
  metrics::Probe probe{"consumer"};
  metrics::Counter messages =
      probe.counter("sc_consumer_messages_total", "Trade messages consumed");
  metrics::Counter batches = probe.counter("sc_consumer_batches_total", "Trade batches processed");
  metrics::Counter dead_lettered =
      probe.counter("sc_consumer_dead_lettered_total", "Messages sent to the dead-letter topic");
  metrics::Counter intake_failures =
      probe.counter("sc_consumer_intake_failures_total", "Batches the store failed (re-consumed)");
  metrics::Counter dlq_failures = probe.counter(
      "sc_consumer_dlq_failures_total", "Batches whose dead-lettering failed (re-consumed)");
  metrics::Counter commits = probe.counter("sc_consumer_commits_total", "Offset commits");
  metrics::Counter commit_failures =
      probe.counter("sc_consumer_commit_failures_total", "Failed offset commits");
  metrics::Counter pauses = probe.counter("sc_consumer_pauses_total", "Back-pressure pauses");
  metrics::Counter dlq_producer_restarts = probe.counter(
      "sc_consumer_dlq_producer_restarts_total", "DLQ producers replaced after a fatal error");
  metrics::Counter revoked_uncommitted =
      probe.counter("sc_consumer_revoked_uncommitted_total",
                    "Batch partitions revoked mid-batch: stored, offset left to the new owner");
  metrics::Counter dlq_truncated =
      probe.counter("sc_consumer_dlq_truncated_total",
                    "Dead letters written with their value cut (too large for the DLQ)");
  metrics::Counter dlq_partition_backoffs =
      probe.counter("sc_consumer_dlq_partition_backoffs_total",
                    "Times a partition was paused because a dead letter of it failed");
  metrics::Counter rejection_record_failures =
      probe.counter("sc_consumer_rejection_record_failures_total",
                    "Batches whose rejections could not be recorded (re-consumed)");
  metrics::Gauge paused =
      probe.gauge("sc_consumer_paused", "1 while consumption is paused for back-pressure");
  metrics::Gauge fatal = probe.gauge(
      "sc_consumer_fatal", "1 once the consumer hit a fatal error: no intake until a restart");
  metrics::Gauge dlq_blocked_partitions =
      probe.gauge("sc_consumer_dlq_blocked_partitions",
                  "Partitions paused now because a dead letter of theirs failed");
  metrics::Gauge lag =
      probe.gauge("sc_consumer_lag",
                  "Trade messages on the assigned partitions not yet consumed (-1: unknown)");
  metrics::Gauge pending_backlog =
      probe.gauge("sc_consumer_pending_backlog",
                  "Settlements waiting for the workflow, as the back-pressure check last read it");
};

// The librdkafka properties of the consumer and of the DLQ producer: the defaults, then
// options.extra (KAFKA_PROPERTY_*, security), then what the guarantees rest on (manual offset
// commits; an idempotent, acks=all producer), which extra cannot change.
std::map<std::string, std::string> consumerProps(const KafkaOptions& options);
std::map<std::string, std::string> dlqProducerProps(const KafkaOptions& options);

class TradeConsumer {
 public:
  // pending_backlog: how many settlements wait for the workflow; above
  // options.max_pending_backlog consumption pauses (back-pressure) until it halves.
  TradeConsumer(KafkaOptions options, workflow::Intake& intake,
                std::function<Result<int64_t>()> pending_backlog);
  ~TradeConsumer();
  // Records every rejected message in `rejections` too (call before start()); it must outlive
  // the consumer. Without it, rejections go to the dead-letter topic only.
  void recordRejectionsIn(store::RejectionRepository& rejections) { rejections_ = &rejections; }
  void start();  // throws std::runtime_error on bad Kafka configuration
  void stop();   // finishes the current batch, commits, leaves the group

  const ConsumerMetrics& metrics() const { return metrics_; }
  // Messages of the assigned partitions not consumed yet (high watermark minus position, from
  // librdkafka's cached figures, refreshed by the consumer thread at most every 0.5 s); nullopt
  // until a position and watermark of an assigned partition are known. For GET /overview.
  std::optional<int64_t> lag() const {
    const int64_t v = lag_.load(std::memory_order_relaxed);
    return v < 0 ? std::nullopt : std::optional<int64_t>(v);
  }

  // True once a fatal error ended this consumer's intake (see reportFatal()); for GET /ready.
  bool failed() const { return fatal_.load(); }

 private:
  class DlqDeliveries;
  class Rebalance;
  void run();
  void closeConsumer();
  std::unique_ptr<RdKafka::Producer> createDlqProducer();
  void replaceDlqProducer(const std::string& why);
  // Writes the batch's dead letters; returns, per partition, the offset of its first message
  // whose dead letter was not written (empty: all written).
  std::map<int32_t, int64_t> deadLetter(const std::vector<RdKafka::Message*>& msgs,
                                        const std::vector<workflow::IntakeDecision>& d);
  // Records the batch's rejected messages in rejections_ (when set), idempotently by coordinates.
  Result<void> recordRejections(const std::vector<RdKafka::Message*>& msgs,
                                const std::vector<workflow::IntakeDecision>& d);
  // After a failed batch: waits backoff_ms (interrupted by stop()) and doubles it, up to 5 s.
  void waitBeforeRetry(int& backoff_ms);
  void backOff(const std::map<int32_t, int64_t>& blocked);
  void resumeBackedOff();
  void refreshBlockedGauge();
  void rewind(const std::vector<RdKafka::Message*>& msgs);
  void checkBackPressure();
  void refreshLag();
  void reportFatal();

  KafkaOptions opt_;
  workflow::Intake& intake_;
  std::function<Result<int64_t>()> backlog_;
  store::RejectionRepository* rejections_ = nullptr;
  // Callbacks first: they must outlive the clients that call them.
  std::unique_ptr<DlqDeliveries> dlq_reports_;
  std::unique_ptr<Rebalance> rebalance_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<RdKafka::Producer> dlq_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> fatal_{false};
  bool paused_ = false;  // consumer thread only (also read by the rebalance callback, run there)
  std::chrono::steady_clock::time_point last_backlog_check_{};
  std::chrono::steady_clock::time_point last_lag_check_{};  // consumer thread only
  std::atomic<int64_t> lag_{-1};                            // -1: unknown
  struct DlqBackoff {
    std::chrono::milliseconds delay{0};
    std::chrono::steady_clock::time_point until{};
    bool paused = false;
  };
  std::map<int32_t, DlqBackoff> dlq_backoff_;  // by partition; consumer thread only
  ConsumerMetrics metrics_;
};

}  // namespace sc::messaging

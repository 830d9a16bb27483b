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
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "common/metrics.h"
#include "domain/result.h"
#include "messaging/kafka_options.h"
#include "workflow/intake.h"

namespace sc::messaging {

struct ConsumerMetrics {
  metrics::Counter messages, batches, dead_lettered, intake_failures, dlq_failures, commits,
      commit_failures, pauses, dlq_producer_restarts, revoked_uncommitted, dlq_truncated,
      dlq_partition_backoffs;
  metrics::Gauge paused, dlq_blocked_partitions;
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
  void start();  // throws std::runtime_error on bad Kafka configuration
  void stop();   // finishes the current batch, commits, leaves the group

  const ConsumerMetrics& metrics() const { return metrics_; }

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
  void backOff(const std::map<int32_t, int64_t>& blocked);
  void resumeBackedOff();
  void refreshBlockedGauge();
  void rewind(const std::vector<RdKafka::Message*>& msgs);
  void checkBackPressure();

  KafkaOptions opt_;
  workflow::Intake& intake_;
  std::function<Result<int64_t>()> backlog_;
  // Callbacks first: they must outlive the clients that call them.
  std::unique_ptr<DlqDeliveries> dlq_reports_;
  std::unique_ptr<Rebalance> rebalance_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<RdKafka::Producer> dlq_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  bool paused_ = false;  // consumer thread only (also read by the rebalance callback, run there)
  std::chrono::steady_clock::time_point last_backlog_check_{};
  struct DlqBackoff {
    std::chrono::milliseconds delay{0};
    std::chrono::steady_clock::time_point until{};
    bool paused = false;
  };
  std::map<int32_t, DlqBackoff> dlq_backoff_;  // by partition; consumer thread only
  ConsumerMetrics metrics_;
};

}  // namespace sc::messaging

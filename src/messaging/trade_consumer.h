#pragma once
// Consumes trade.events with a consumer group and manual offset commits (DESIGN §3, issue 4):
// a batch of messages goes through Intake in one store transaction; rejected messages go to the
// dead-letter topic (original key, value and headers plus the reason and source coordinates);
// only then are the batch's offsets committed. At-least-once delivery, exactly-once effect (the
// intake is idempotent per trade_id). A bad message never blocks its partition. A batch whose dead
// letters are not all acknowledged (delivery report) is rewound and consumed again; a DLQ producer
// that hit a fatal error is replaced first.
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "common/metrics.h"
#include "domain/result.h"
#include "messaging/kafka_options.h"
#include "workflow/intake.h"

namespace sc::messaging {

struct ConsumerMetrics {
  metrics::Counter messages, batches, dead_lettered, intake_failures, dlq_failures, commits,
      commit_failures, pauses, dlq_producer_restarts, revoked_uncommitted;
  metrics::Gauge paused;
};

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
  std::unique_ptr<RdKafka::Producer> createDlqProducer();
  void replaceDlqProducer(const std::string& why);
  bool deadLetter(const std::vector<RdKafka::Message*>& msgs,
                  const std::vector<workflow::IntakeDecision>& d);
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
  ConsumerMetrics metrics_;
};

}  // namespace sc::messaging

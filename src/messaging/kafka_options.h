#pragma once
// Settings of the Kafka side of the service (from Config), and librdkafka property helpers.
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <memory>
#include <string>

namespace sc::messaging {

struct KafkaOptions {
  std::string bootstrap_servers;
  std::string trade_topic = "trade.events";
  std::string dlq_topic = "trade.events.dlq";
  std::string settlement_topic = "settlement.events";
  std::string consumer_group = "settlement-coordinator";
  // The consumer's static membership id (KIP-345, group.instance.id); empty: dynamic membership.
  // A member that restarts with its id within the session timeout gets its partitions back
  // without a rebalance; two live members with one id fence each other.
  std::string group_instance_id;
  int consume_batch = 500;              // trades per intake transaction at most
  int consume_batch_wait_ms = 20;       // how long a batch may wait to fill
  int64_t max_pending_backlog = 50000;  // pause consumption above this many PENDING settlements
  int relay_batch = 1000;               // events per outbox read
  int relay_idle_poll_ms = 50;
  // How long stop() lets a consumer that joined its group finish its first SyncGroup (see
  // TradeConsumer::closeConsumer()).
  int shutdown_sync_wait_ms = 10000;
  std::map<std::string, std::string> extra;  // extra librdkafka properties
};

// Builds a librdkafka Conf from key/values; throws std::runtime_error naming the bad property.
std::unique_ptr<RdKafka::Conf> makeKafkaConf(const std::map<std::string, std::string>& props);

// A producer configured with `props` that reports every delivery to `reports` (which must outlive
// it). Throws std::runtime_error starting with `what` (e.g. "Kafka DLQ") when librdkafka refuses
// the configuration or the producer (start-up errors; a replacement's caller logs and retries).
std::unique_ptr<RdKafka::Producer> makeKafkaProducer(
    const std::map<std::string, std::string>& props, RdKafka::DeliveryReportCb* reports,
    const std::string& what);

}  // namespace sc::messaging

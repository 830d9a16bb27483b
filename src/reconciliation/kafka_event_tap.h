#pragma once
// KafkaEventTap: the reconciler's reader of settlement.events (librdkafka), in its own consumer
// group (REC_CONSUMER_GROUP) so it never takes messages from anyone. It assigns itself every
// partition of the topic at the topic's end as open() finds it (explicit offsets from the high
// watermarks, so nothing produced after open() returns is skipped) and reads on from there; what
// it read lives in the reconciler's memory, so a new tap starts afresh (EventTracker's floor) and
// its offsets are committed for Kafka's lag tools only. Used by one thread (the reconciler's).
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "messaging/kafka_options.h"
#include "reconciliation/event_tap.h"

namespace sc::reconciliation {

class KafkaEventTap final : public EventTap {
 public:
  // Errors: kafka_unavailable (retryable) when the topic's metadata or watermarks cannot be read;
  // a configuration librdkafka refuses, permanent, naming the property.
  static Result<std::unique_ptr<KafkaEventTap>> open(const messaging::KafkaOptions& options,
                                                     const std::string& group,
                                                     std::chrono::milliseconds timeout);
  ~KafkaEventTap() override;

  Result<std::vector<TapMessage>> poll(int max) override;
  Result<TapMark> mark() override;
  bool reached(const TapMark& m) const override;

 private:
  KafkaEventTap() = default;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::string topic_;
  std::chrono::milliseconds timeout_{5000};
  TapMark next_;  // per partition, the offset after the last message returned
};

}  // namespace sc::reconciliation

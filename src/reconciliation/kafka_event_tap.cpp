#include "reconciliation/kafka_event_tap.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "messaging/errors.h"

namespace sc::reconciliation {
namespace {

Error unavailable(const std::string& what) {
  return Error::transient(std::string(messaging::kKafkaUnavailable), what);
}

// How long one poll() waits for a first message.
constexpr int kPollWaitMs = 100;

// A partition's watermarks. A topic just created (or a partition whose leader moved) answers
// "not leader" or "leader not available" until its election is known: asked again, with fresh
// metadata, until `timeout` has passed, as for any other moment the broker cannot answer yet.
Result<int64_t> highWatermark(RdKafka::KafkaConsumer& consumer, const std::string& topic,
                              int32_t partition, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int64_t low = 0, high = 0;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    auto code = consumer.query_watermark_offsets(
        topic, partition, &low, &high, static_cast<int>(std::max<int64_t>(1, left.count())));
    if (code == RdKafka::ERR_NO_ERROR) return high;
    const bool electing =
        code == RdKafka::ERR_NOT_LEADER_FOR_PARTITION || code == RdKafka::ERR_LEADER_NOT_AVAILABLE;
    if (!electing || std::chrono::steady_clock::now() + std::chrono::milliseconds(100) >= until)
      return unavailable("watermarks of " + topic + "[" + std::to_string(partition) +
                         "]: " + RdKafka::err2str(code));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the broker's pace, not a wait
  }
}

}  // namespace

Result<std::unique_ptr<KafkaEventTap>> KafkaEventTap::open(const messaging::KafkaOptions& options,
                                                           const std::string& group,
                                                           std::chrono::milliseconds timeout) {
  std::map<std::string, std::string> props;
  for (const auto& [k, v] : options.extra) props[k] = v;
  props["bootstrap.servers"] = options.bootstrap_servers;
  props["group.id"] = group;
  props["enable.auto.commit"] = "true";  // for lag tools only: a new tap starts at the end
  props["enable.partition.eof"] = "false";
  // Every message up to the high watermark, so reached() can compare offsets with it (the relay's
  // producer is idempotent, not transactional: there are no aborted messages to hide).
  props["isolation.level"] = "read_uncommitted";
  std::unique_ptr<RdKafka::Conf> conf;
  try {
    conf = messaging::makeKafkaConf(props);
  } catch (const std::exception& e) {
    return Error::permanent(
        "invalid_kafka_property",
        std::string("reconciler consumer: ") + e.what() + " (check KAFKA_PROPERTY_*, REC_*)");
  }
  std::string err;
  std::unique_ptr<KafkaEventTap> tap(new KafkaEventTap());
  tap->topic_ = options.settlement_topic;
  tap->timeout_ = timeout;
  tap->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!tap->consumer_) return unavailable("reconciler consumer: " + err);

  // Every partition of the topic, each at its end now.
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(tap->consumer_.get(), tap->topic_, nullptr, err));
  if (!handle) return unavailable("topic " + tap->topic_ + ": " + err);
  RdKafka::Metadata* raw = nullptr;
  auto code =
      tap->consumer_->metadata(false, handle.get(), &raw, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (code != RdKafka::ERR_NO_ERROR || !metadata || metadata->topics()->empty())
    return unavailable("metadata of " + tap->topic_ + ": " + RdKafka::err2str(code));
  const auto* topic = metadata->topics()->front();
  if (topic->err() != RdKafka::ERR_NO_ERROR)
    return unavailable("topic " + tap->topic_ + ": " + RdKafka::err2str(topic->err()));
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto* p : *topic->partitions()) {
    auto high = highWatermark(*tap->consumer_, tap->topic_, p->id(), timeout);
    if (!high) {
      RdKafka::TopicPartition::destroy(parts);
      return high.error();
    }
    parts.push_back(RdKafka::TopicPartition::create(tap->topic_, p->id(), *high));
    tap->next_[p->id()] = *high;
  }
  code = tap->consumer_->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  if (code != RdKafka::ERR_NO_ERROR)
    return unavailable("assigning " + tap->topic_ + ": " + RdKafka::err2str(code));
  return tap;
}

KafkaEventTap::~KafkaEventTap() {
  if (consumer_) consumer_->close();
}

Result<std::vector<TapMessage>> KafkaEventTap::poll(int max) {
  std::vector<TapMessage> out;
  int wait = kPollWaitMs;
  while (static_cast<int>(out.size()) < max) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(wait));
    wait = 0;  // only the first message is waited for
    if (m->err() == RdKafka::ERR__TIMED_OUT) break;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      if (!out.empty()) break;  // hand over what was read; the error comes back next time
      return unavailable("reading " + topic_ + ": " + m->errstr());
    }
    TapMessage t;
    if (m->key()) t.key = *m->key();
    if (m->payload()) t.payload.assign(static_cast<const char*>(m->payload()), m->len());
    t.partition = m->partition();
    t.offset = m->offset();
    next_[t.partition] = std::max(next_[t.partition], t.offset + 1);
    out.push_back(std::move(t));
  }
  return out;
}

Result<TapMark> KafkaEventTap::mark() {
  TapMark m;
  for (const auto& [partition, next] : next_) {
    auto high = highWatermark(*consumer_, topic_, partition, timeout_);
    if (!high) return high.error();
    m[partition] = *high;
  }
  return m;
}

bool KafkaEventTap::reached(const TapMark& m) const {
  for (const auto& [partition, high] : m) {
    auto it = next_.find(partition);
    if (it == next_.end() || it->second < high) return false;
  }
  return true;
}

}  // namespace sc::reconciliation

#include "messaging/outbox_relay.h"

#include <map>

#include "common/log.h"
#include "messaging/event_payload.h"

namespace sc {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("messaging");
  return l;
}

// Records the delivery result of each message of the current batch by its index (msg_opaque).
class BatchDeliveries : public RdKafka::DeliveryReportCb {
 public:
  void reset(size_t n) {
    state.assign(n, 0);
    pending = n;
  }
  void dr_cb(RdKafka::Message& m) override {
    auto i = reinterpret_cast<uintptr_t>(m.msg_opaque());
    if (i >= state.size()) return;
    state[i] = m.err() == RdKafka::ERR_NO_ERROR ? 1 : -1;
    if (m.err() != RdKafka::ERR_NO_ERROR) error = m.errstr();
    --pending;
  }
  std::vector<int8_t> state;  // 0 pending, 1 delivered, -1 failed
  size_t pending = 0;
  std::string error;
};

BatchDeliveries& deliveries() {
  static BatchDeliveries d;  // one relay per process; touched only by the relay thread
  return d;
}

}  // namespace

OutboxRelay::OutboxRelay(KafkaOptions options, OutboxRepository& outbox, const Clock& clock)
    : opt_(std::move(options)), outbox_(outbox), clock_(clock) {
  metrics::registerCounter("sc_relay_published_total", "Settlement events delivered to Kafka", &metrics_.published);
  metrics::registerCounter("sc_relay_delivery_failures_total", "Event deliveries that failed (retried)", &metrics_.delivery_failures);
  metrics::registerCounter("sc_relay_store_errors_total", "Outbox reads/updates that failed", &metrics_.store_errors);
  metrics::registerCounter("sc_relay_batches_total", "Outbox batches relayed", &metrics_.batches);
  metrics::registerGauge("sc_relay_last_batch_size", "Events in the last relayed batch", &metrics_.backlog);
}

OutboxRelay::~OutboxRelay() { stop(); }

void OutboxRelay::start() {
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", opt_.bootstrap_servers},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"message.timeout.ms", "0"},  // never give up on an event: the outbox keeps order
      {"linger.ms", "2"},
      {"batch.num.messages", "10000"},
      {"compression.type", "lz4"},
      {"client.id", "settlement-coordinator-relay"},
  };
  for (auto& [k, v] : opt_.extra) props[k] = v;
  auto conf = makeKafkaConf(props);
  std::string err;
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&deliveries()), err) !=
      RdKafka::Conf::CONF_OK)
    throw std::runtime_error("Kafka relay dr_cb: " + err);
  producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!producer_) throw std::runtime_error("Kafka relay producer: " + err);
  thread_ = std::thread([this] { run(); });
  logger()->info("relaying the outbox to {}", opt_.settlement_topic);
}

void OutboxRelay::wake() {
  {
    std::lock_guard l(mu_);
    ++wakeups_;
  }
  cv_.notify_all();
}

void OutboxRelay::stop() {
  if (stopping_.exchange(true)) return;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (producer_) {
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    producer_->poll(0);
  }
}

Result<void> OutboxRelay::ping() {
  if (!producer_) return Error::transient("kafka_unavailable", "Kafka producer not started");
  RdKafka::Metadata* md = nullptr;
  auto rc = producer_->metadata(false, nullptr, &md, 2000);
  std::unique_ptr<RdKafka::Metadata> guard(md);
  if (rc != RdKafka::ERR_NO_ERROR)
    return Error::transient("kafka_unavailable",
                            "Kafka at " + opt_.bootstrap_servers + ": " + RdKafka::err2str(rc));
  return {};
}

bool OutboxRelay::waitForWork(std::chrono::milliseconds d) {
  std::unique_lock l(mu_);
  uint64_t seen = wakeups_;
  cv_.wait_for(l, d, [&] { return stopping_ || wakeups_ != seen; });
  return !stopping_;
}

void OutboxRelay::run() {
  int errors = 0;
  while (!stopping_) {
    auto batch = outbox_.pending(opt_.relay_batch);
    if (!batch) {
      metrics_.store_errors.inc();
      if (errors++ % 50 == 0) logger()->error("outbox read failed: {}", batch.error().message);
      waitForWork(std::chrono::milliseconds(500));
      continue;
    }
    errors = 0;
    if (batch->empty()) {
      waitForWork(std::chrono::milliseconds(opt_.relay_idle_poll_ms));
      continue;
    }
    auto& events = *batch;
    metrics_.backlog.set(static_cast<int64_t>(events.size()));
    BatchDeliveries& d = deliveries();
    d.reset(events.size());
    size_t produced = 0;
    for (size_t i = 0; i < events.size() && !stopping_; ++i) {
      std::string payload = buildEventPayload(events[i]);
      std::string key = eventKey(events[i]);
      RdKafka::Headers* headers = RdKafka::Headers::create();
      headers->add("event_type", std::string(eventTypeFor(events[i].status)));
      for (;;) {
        auto rc = producer_->produce(
            opt_.settlement_topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
            payload.data(), payload.size(), key.data(), key.size(), 0, headers,
            reinterpret_cast<void*>(static_cast<uintptr_t>(i)));
        if (rc == RdKafka::ERR_NO_ERROR) break;
        if (rc == RdKafka::ERR__QUEUE_FULL && !stopping_) {
          producer_->poll(20);
          continue;
        }
        delete headers;
        logger()->error("produce to {} failed: {}", opt_.settlement_topic, RdKafka::err2str(rc));
        d.state[i] = -1;
        --d.pending;
        break;
      }
      ++produced;
    }
    // Wait for the broker (indefinitely while it is down, unless we are stopping).
    while (d.pending > 0 && !stopping_) producer_->poll(20);
    if (stopping_) producer_->flush(2000);
    std::vector<int64_t> delivered;
    delivered.reserve(events.size());
    for (size_t i = 0; i < produced; ++i) {
      if (d.state[i] == 1) delivered.push_back(events[i].position);
      else metrics_.delivery_failures.inc();
    }
    if (!delivered.empty()) {
      auto marked = outbox_.markPublished(delivered, clock_.now());
      if (!marked) {
        // Delivered but not recorded: they will be re-sent (same event_id) — at-least-once.
        metrics_.store_errors.inc();
        logger()->error("recording {} deliveries failed: {}", delivered.size(),
                        marked.error().message);
      } else {
        metrics_.published.inc(delivered.size());
      }
    }
    metrics_.batches.inc();
    if (delivered.size() < events.size() && !stopping_) {
      logger()->warn("{} of {} events not delivered ({}); retrying", events.size() - delivered.size(),
                     events.size(), d.error);
      waitForWork(std::chrono::milliseconds(500));
    }
  }
}

}  // namespace sc

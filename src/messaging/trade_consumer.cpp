#include "messaging/trade_consumer.h"

#include <algorithm>
#include <map>
#include <set>

#include "common/log.h"
#include "domain/time.h"

namespace sc::messaging {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("messaging");
  return l;
}

}  // namespace

// The delivery report of each dead letter of the current round (msg_opaque = round and index: a
// late report of an earlier, abandoned round is not counted). Runs inside dlq_ poll/flush, on the
// consumer thread.
class TradeConsumer::DlqDeliveries : public RdKafka::DeliveryReportCb {
 public:
  struct Outcome {
    bool reported = false;
    RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
    std::string error;
  };
  void startRound(size_t n) {
    ++round_;
    outcomes.assign(n, Outcome{});
    reported = 0;
  }
  void* tag(size_t i) const {
    return reinterpret_cast<void*>(static_cast<uintptr_t>((round_ << kIndexBits) | i));
  }
  void dr_cb(RdKafka::Message& m) override {
    auto v = reinterpret_cast<uintptr_t>(m.msg_opaque());
    size_t i = v & ((uintptr_t{1} << kIndexBits) - 1);
    if ((v >> kIndexBits) != round_ || i >= outcomes.size() || outcomes[i].reported) return;
    outcomes[i] = {true, m.err(), m.err() == RdKafka::ERR_NO_ERROR ? "" : m.errstr()};
    ++reported;
  }
  static constexpr int kIndexBits = 24;  // a batch holds far fewer messages
  std::vector<Outcome> outcomes;
  size_t reported = 0;

 private:
  uint64_t round_ = 0;
};

// Applies (cooperative: incremental) assignment changes, and keeps back-pressure on partitions
// assigned while consumption is paused. Runs inside consume(), on the consumer thread.
class TradeConsumer::Rebalance : public RdKafka::RebalanceCb {
 public:
  explicit Rebalance(const bool& paused) : paused_(paused) {}
  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    synced_ = true;
    const bool cooperative = c->rebalance_protocol() == "COOPERATIVE";
    // Which partitions this instance takes and gives up: what an operator reads when intake
    // stops or moves (one line per rebalance that changes this member's share).
    if (!parts.empty()) {
      std::string list;
      for (const auto* tp : parts)
        list += (list.empty() ? "" : ",") + std::to_string(tp->partition());
      logger()->info("consumer group: {} {} partition(s) of {} [{}] ({})",
                     err == RdKafka::ERR__ASSIGN_PARTITIONS ? "assigned" : "revoked", parts.size(),
                     parts.empty() ? std::string("its topic") : parts.front()->topic(), list,
                     cooperative ? "incremental" : "eager");
    }
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      if (cooperative) {
        std::unique_ptr<RdKafka::Error> e(c->incremental_assign(parts));
        if (e) logger()->error("incremental assign: {}", e->str());
      } else if (auto rc = c->assign(parts); rc != RdKafka::ERR_NO_ERROR) {
        logger()->error("assign: {}", RdKafka::err2str(rc));
      }
      if (paused_ && !parts.empty()) {
        c->pause(parts);
        logger()->info("back-pressure: pausing {} newly assigned partition(s)", parts.size());
      }
    } else {
      if (cooperative) {
        std::unique_ptr<RdKafka::Error> e(c->incremental_unassign(parts));
        if (e) logger()->error("incremental unassign: {}", e->str());
      } else {
        c->unassign();
      }
    }
  }

  // A rebalance callback only ever follows a SyncGroup response (cooperative: even an empty
  // first assignment is delivered).
  bool synced() const { return synced_; }

 private:
  const bool& paused_;
  bool synced_ = false;
};

TradeConsumer::TradeConsumer(KafkaOptions options, workflow::Intake& intake,
                             std::function<Result<int64_t>()> pending_backlog)
    : opt_(std::move(options)), intake_(intake), backlog_(std::move(pending_backlog)) {}

std::map<std::string, std::string> consumerProps(const KafkaOptions& o) {
  std::map<std::string, std::string> props = {
      {"auto.offset.reset", "earliest"}, {"partition.assignment.strategy", "cooperative-sticky"},
      {"fetch.wait.max.ms", "10"},       {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "1000"}, {"client.id", "settlement-coordinator-consumer"},
  };
  for (const auto& [k, v] : o.extra) props[k] = v;
  // What exactly-once intake rests on (offsets committed only after the trades are stored):
  // not overridable.
  props["bootstrap.servers"] = o.bootstrap_servers;
  props["group.id"] = o.consumer_group;
  if (!o.group_instance_id.empty()) props["group.instance.id"] = o.group_instance_id;
  props["enable.auto.commit"] = "false";
  props["enable.auto.offset.store"] = "false";
  return props;
}

std::map<std::string, std::string> dlqProducerProps(const KafkaOptions& o) {
  std::map<std::string, std::string> props = {
      {"linger.ms", "1"},
      {"message.timeout.ms", "30000"},
      {"client.id", "settlement-coordinator-dlq"},
  };
  for (const auto& [k, v] : o.extra) props[k] = v;
  props["bootstrap.servers"] = o.bootstrap_servers;
  props["enable.idempotence"] = "true";
  props["acks"] = "all";
  return props;
}

TradeConsumer::~TradeConsumer() { stop(); }

void TradeConsumer::start() {
  std::string err;
  auto conf = makeKafkaConf(consumerProps(opt_));
  rebalance_ = std::make_unique<Rebalance>(paused_);
  if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(rebalance_.get()), err) !=
      RdKafka::Conf::CONF_OK)
    throw std::runtime_error("Kafka consumer rebalance_cb: " + err);
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer_) throw std::runtime_error("Kafka consumer: " + err);

  dlq_reports_ = std::make_unique<DlqDeliveries>();
  dlq_ = createDlqProducer();

  auto rc = consumer_->subscribe({opt_.trade_topic});
  if (rc != RdKafka::ERR_NO_ERROR)
    throw std::runtime_error("subscribe to " + opt_.trade_topic + ": " + RdKafka::err2str(rc));
  thread_ = std::thread([this] { run(); });
  logger()->info("consuming {} as group {}", opt_.trade_topic, opt_.consumer_group);
}

std::unique_ptr<RdKafka::Producer> TradeConsumer::createDlqProducer() {
  return makeKafkaProducer(dlqProducerProps(opt_), dlq_reports_.get(), "Kafka DLQ");
}

void TradeConsumer::replaceDlqProducer(const std::string& why) {
  logger()->error(
      "dead-letter producer fatal error: {}; replacing the producer, the partitions of its "
      "dead letters back off",
      why);
  metrics_.dlq_producer_restarts.inc();
  dlq_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  dlq_->poll(0);
  dlq_.reset();
  try {
    dlq_ = createDlqProducer();
  } catch (const std::exception& e) {
    // The configuration worked before: retried before the next dead letter.
    logger()->error("recreating the dead-letter producer: {}", e.what());
  }
}

void TradeConsumer::stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  if (consumer_) closeConsumer();
  if (dlq_) dlq_->flush(5000);
}

// librdkafka before 2.3 (Debian 12 ships 2.0.2) aborts in rd_kafka_destroy() with "Assertion
// `assignor_state' failed" when a cooperative-sticky member got its JoinGroup response but never a
// SyncGroup one: the JoinGroup response selects the assignor, the SyncGroup response creates its
// state, and destroy frees that state unchecked (librdkafka issue 4312, fixed in 2.3). Under
// instance churn a rebalance is often in flight at SIGTERM. So a member that has not synced yet is
// polled until it has (messages read here are dropped uncommitted: the group re-delivers them),
// and one that still has not after shutdown_sync_wait_ms leaves the group and keeps its handle
// until the process ends, rather than taking the process down.
void TradeConsumer::closeConsumer() {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(opt_.shutdown_sync_wait_ms);
  while (!rebalance_->synced() && std::chrono::steady_clock::now() < deadline)
    std::unique_ptr<RdKafka::Message>(consumer_->consume(100));
  consumer_->close();
  if (!rebalance_->synced()) {
    logger()->warn(
        "Kafka consumer never completed its group sync; its handle is kept (librdkafka "
        "< 2.3 cannot destroy it safely)");
    (void)consumer_.release();  // deliberately kept: see above
  }
}

void TradeConsumer::refreshLag() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_lag_check_ < std::chrono::milliseconds(500)) return;
  last_lag_check_ = now;
  std::vector<RdKafka::TopicPartition*> owned;
  if (consumer_->assignment(owned) != RdKafka::ERR_NO_ERROR) return;
  if (!owned.empty()) consumer_->position(owned);
  int64_t lag = 0;
  bool known = false;
  for (auto* tp : owned) {
    int64_t low = 0, high = 0;
    // Cached from the last fetch response: no broker round trip.
    if (tp->offset() < 0 ||
        consumer_->get_watermark_offsets(tp->topic(), tp->partition(), &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high < 0)
      continue;
    lag += std::max<int64_t>(0, high - tp->offset());
    known = true;
  }
  RdKafka::TopicPartition::destroy(owned);
  lag_.store(known ? lag : -1, std::memory_order_relaxed);
  metrics_.lag.set(known ? lag : -1);
}

void TradeConsumer::checkBackPressure() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_backlog_check_ < std::chrono::milliseconds(500)) return;
  last_backlog_check_ = now;
  auto backlog = backlog_();
  if (!backlog) return;
  metrics_.pending_backlog.set(*backlog);
  std::vector<RdKafka::TopicPartition*> parts;
  if (paused_ && *backlog > opt_.max_pending_backlog / 2) {
    // Still paused: partitions assigned since (a rebalance) are paused too (no-op for the others).
    consumer_->assignment(parts);
    if (!parts.empty()) consumer_->pause(parts);
  } else if (!paused_ && *backlog > opt_.max_pending_backlog) {
    consumer_->assignment(parts);
    consumer_->pause(parts);
    paused_ = true;
    metrics_.pauses.inc();
    metrics_.paused.set(1);
    logger()->warn("back-pressure: {} settlements pending, pausing {}", *backlog, opt_.trade_topic);
  } else if (paused_ && *backlog <= opt_.max_pending_backlog / 2) {
    consumer_->assignment(parts);
    // A partition still backing off after a failed dead letter stays paused.
    std::erase_if(parts, [&](RdKafka::TopicPartition* tp) {
      auto it = dlq_backoff_.find(tp->partition());
      bool keep_paused =
          tp->topic() == opt_.trade_topic && it != dlq_backoff_.end() && it->second.paused;
      if (keep_paused) delete tp;
      return keep_paused;
    });
    consumer_->resume(parts);
    paused_ = false;
    metrics_.paused.set(0);
    logger()->info("back-pressure relieved: {} pending, resuming", *backlog);
  }
  RdKafka::TopicPartition::destroy(parts);
}

void TradeConsumer::rewind(const std::vector<RdKafka::Message*>& msgs) {
  std::map<int32_t, int64_t> first;
  for (auto* m : msgs) {
    auto it = first.find(m->partition());
    if (it == first.end() || m->offset() < it->second) first[m->partition()] = m->offset();
  }
  for (auto& [p, off] : first) {
    std::unique_ptr<RdKafka::TopicPartition> tp(
        RdKafka::TopicPartition::create(opt_.trade_topic, p, off));
    consumer_->seek(*tp, 5000);
  }
}

namespace {

// A dead letter: the rejected message's key and value, its headers, the reason and where it came
// from. `truncated`: the DLQ refused it as too large, so the value (and a long key) is cut to
// kDlqTruncatedBytes and the original headers are dropped, with headers saying so.
constexpr size_t kDlqTruncatedBytes = 1024;

RdKafka::Headers* deadLetterHeaders(RdKafka::Message& m, const workflow::IntakeDecision& d,
                                    bool truncated) {
  RdKafka::Headers* headers = RdKafka::Headers::create();
  size_t original_headers = m.headers() ? m.headers()->get_all().size() : 0;
  if (m.headers() && !truncated) {
    for (const auto& h : m.headers()->get_all()) headers->add(h.key(), h.value(), h.value_size());
  }
  const Error& why = *d.rejection;
  headers->add("dlq.reason_code", why.code);
  headers->add("dlq.reason", why.message.substr(0, truncated ? 256 : std::string::npos));
  if (!why.field.empty()) headers->add("dlq.field", why.field.substr(0, 256));
  headers->add("dlq.source_topic", m.topic_name());
  headers->add("dlq.source_partition", std::to_string(m.partition()));
  headers->add("dlq.source_offset", std::to_string(m.offset()));
  headers->add("dlq.trade_id", d.trade_id.substr(0, truncated ? 256 : std::string::npos));
  if (truncated) {
    headers->add("dlq.truncated", "true");
    headers->add("dlq.original_value_bytes", std::to_string(m.len()));
    headers->add("dlq.original_key_bytes", std::to_string(m.key_len()));
    headers->add("dlq.original_headers_dropped", std::to_string(original_headers));
  }
  return headers;
}

}  // namespace

std::map<int32_t, int64_t> TradeConsumer::deadLetter(
    const std::vector<RdKafka::Message*>& msgs,
    const std::vector<workflow::IntakeDecision>& decisions) {
  std::vector<size_t> todo;  // indexes into msgs of the rejected messages
  for (size_t i = 0; i < msgs.size(); ++i)
    if (decisions[i].kind == store::IntakeKind::kRejected) todo.push_back(i);
  std::map<int32_t, int64_t> blocked;
  auto block = [&](size_t i, const std::string& why) {
    RdKafka::Message* m = msgs[i];
    auto [it, first] = blocked.emplace(m->partition(), m->offset());
    if (!first) it->second = std::min(it->second, m->offset());
    logger()->error("dead letter of {}[{}]@{} (trade '{}') not written to {}: {}", m->topic_name(),
                    m->partition(), m->offset(), log::escape(decisions[i].trade_id), opt_.dlq_topic,
                    why);
  };
  if (todo.empty()) return blocked;
  if (!dlq_) {
    try {
      dlq_ = createDlqProducer();
    } catch (const std::exception& e) {
      for (size_t i : todo) block(i, std::string("no producer: ") + e.what());
      return blocked;
    }
  }
  DlqDeliveries& reports = *dlq_reports_;
  std::string fatal;
  auto isFatal = [&] {
    if (fatal.empty() && dlq_->fatal_error(fatal) == RdKafka::ERR_NO_ERROR) fatal.clear();
    return !fatal.empty();
  };
  // Round 0 sends the dead letters whole; round 1 sends, cut, those the DLQ refused as too large.
  for (int round = 0; round < 2 && !todo.empty(); ++round) {
    const bool truncated = round == 1;
    reports.startRound(todo.size());
    std::vector<size_t> too_large;
    std::vector<bool> sent(todo.size(), false);
    for (size_t k = 0; k < todo.size(); ++k) {
      RdKafka::Message* m = msgs[todo[k]];
      RdKafka::Headers* headers = deadLetterHeaders(*m, decisions[todo[k]], truncated);
      const size_t value_len = truncated ? std::min(m->len(), kDlqTruncatedBytes) : m->len();
      const size_t key_len = truncated ? std::min(m->key_len(), kDlqTruncatedBytes) : m->key_len();
      for (;;) {
        auto rc =
            dlq_->produce(opt_.dlq_topic, RdKafka::Topic::PARTITION_UA,
                          RdKafka::Producer::RK_MSG_COPY, m->payload(), value_len, m->key_pointer(),
                          key_len, m->timestamp().timestamp, headers, reports.tag(k));
        if (rc == RdKafka::ERR_NO_ERROR) {  // headers now owned by librdkafka
          sent[k] = true;
          break;
        }
        if (rc == RdKafka::ERR__QUEUE_FULL && !stopping_ && !isFatal()) {
          dlq_->poll(50);
          continue;
        }
        delete headers;
        if (rc == RdKafka::ERR_MSG_SIZE_TOO_LARGE && !truncated) {
          too_large.push_back(todo[k]);
        } else {
          block(todo[k], stopping_ && rc == RdKafka::ERR__QUEUE_FULL
                             ? std::string("stopping with the dead-letter queue full")
                             : "produce: " + RdKafka::err2str(rc));
        }
        break;
      }
    }
    // Wait for the delivery report of every dead letter sent before committing the offsets: the
    // reports, not an empty queue, say whether they were written (a message can also leave the
    // queue by failing: unknown topic, too large, denied, timed out). Stopping leaves them 2 s
    // more at most (the broker may be down): what is unacknowledged then is not committed, and
    // consumed again after the restart.
    size_t expected = std::count(sent.begin(), sent.end(), true);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool stop_noted = false;
    std::string unfinished;
    while (reports.reported < expected) {
      auto now = std::chrono::steady_clock::now();
      if (stopping_ && !stop_noted) {
        stop_noted = true;
        deadline = std::min(deadline, now + std::chrono::seconds(2));
      }
      if (isFatal()) {
        unfinished = "producer fatal error: " + fatal;
        break;
      }
      if (now >= deadline) {
        unfinished = "not acknowledged in time";
        break;
      }
      dlq_->flush(100);  // serves the delivery reports
    }
    for (size_t k = 0; k < todo.size(); ++k) {
      if (!sent[k]) continue;
      const auto& o = reports.outcomes[k];
      if (!o.reported) {
        block(todo[k], unfinished);
      } else if (o.err == RdKafka::ERR_MSG_SIZE_TOO_LARGE && !truncated) {
        too_large.push_back(todo[k]);
      } else if (o.err != RdKafka::ERR_NO_ERROR) {
        block(todo[k], o.error);
      } else {
        metrics_.dead_lettered.inc();
        if (truncated) metrics_.dlq_truncated.inc();
      }
    }
    if (!unfinished.empty()) {
      if (isFatal()) {
        replaceDlqProducer(fatal);
      } else {
        // Whatever is still queued would only duplicate the dead letters sent again later.
        dlq_->purge(RdKafka::Producer::PURGE_QUEUE);
        dlq_->poll(0);
      }
      for (size_t i : too_large) block(i, unfinished);
      break;
    }
    if (!too_large.empty())
      logger()->warn("{} dead letter(s) too large for {}: sending them cut to {} bytes",
                     too_large.size(), opt_.dlq_topic, kDlqTruncatedBytes);
    todo = std::move(too_large);
  }
  return blocked;
}

void TradeConsumer::waitBeforeRetry(int& backoff_ms) {
  for (int waited = 0; waited < backoff_ms && !stopping_; waited += 50)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  backoff_ms = std::min(backoff_ms * 2, 5000);
}

// Why not in the intake's own transaction: the intake decides a trade_conflict (and whether an
// account rejection is really a duplicate) from what its final round trip reads, and that round
// trip commits (settlement_intake.cpp), so recording the rejections inside it would hold every
// batch's transaction open for one more round trip, for the rare batch that has rejections.
// Recording them right after, before the dead letters and before any offset is committed, gives
// the same guarantees under at-least-once delivery: if the process dies in between or this fails,
// the batch is consumed again (its trades are then duplicates, nothing accepted is lost) and the
// rejections are recorded then; the table's unique topic/partition/offset (ON CONFLICT DO
// NOTHING) records a redelivered message once, also when another instance took the partition.
Result<void> TradeConsumer::recordRejections(
    const std::vector<RdKafka::Message*>& msgs,
    const std::vector<workflow::IntakeDecision>& decisions) {
  if (!rejections_) return {};
  std::vector<store::Rejection> rows;
  for (size_t i = 0; i < msgs.size(); ++i) {
    const workflow::IntakeDecision& d = decisions[i];
    if (d.kind != store::IntakeKind::kRejected || !d.rejection) continue;
    RdKafka::Message& m = *msgs[i];
    store::Rejection r = store::rejectionOf(
        std::string_view(static_cast<const char*>(m.payload()), m.len()), *d.rejection, d.trade_id);
    r.source = store::RejectionSource::kKafka;
    r.topic = m.topic_name();
    r.partition = m.partition();
    r.offset = m.offset();
    rows.push_back(std::move(r));
  }
  if (rows.empty()) return {};
  auto added = rejections_->record(rows);
  if (!added) return added.error();
  return {};
}

void TradeConsumer::backOff(const std::map<int32_t, int64_t>& blocked) {
  auto now = std::chrono::steady_clock::now();
  for (const auto& [p, offset] : blocked) {
    DlqBackoff& b = dlq_backoff_[p];
    b.delay = b.delay.count() == 0 ? std::chrono::milliseconds(500)
                                   : std::min(b.delay * 2, std::chrono::milliseconds(30000));
    b.until = now + b.delay;
    b.paused = true;
    std::vector<RdKafka::TopicPartition*> parts{
        RdKafka::TopicPartition::create(opt_.trade_topic, p, offset)};
    consumer_->pause(parts);
    // The partition's next message is the one whose dead letter failed: nothing after it is
    // committed, and the messages already fetched after it are dropped (and consumed again).
    consumer_->seek(*parts[0], 5000);
    RdKafka::TopicPartition::destroy(parts);
    metrics_.dlq_partition_backoffs.inc();
    logger()->warn("{}[{}] backs off {} ms from offset {}: its dead letter was not written",
                   opt_.trade_topic, p, b.delay.count(), offset);
  }
  refreshBlockedGauge();
}

void TradeConsumer::resumeBackedOff() {
  auto now = std::chrono::steady_clock::now();
  for (auto& [p, b] : dlq_backoff_) {
    if (!b.paused || now < b.until) continue;
    b.paused = false;
    if (paused_) continue;  // back-pressure resumes it with the others
    std::vector<RdKafka::TopicPartition*> parts{
        RdKafka::TopicPartition::create(opt_.trade_topic, p)};
    consumer_->resume(parts);
    RdKafka::TopicPartition::destroy(parts);
    logger()->info("{}[{}] resumes after its back-off", opt_.trade_topic, p);
  }
  refreshBlockedGauge();
}

void TradeConsumer::refreshBlockedGauge() {
  int64_t n = 0;
  for (const auto& [p, b] : dlq_backoff_) n += b.paused ? 1 : 0;
  metrics_.dlq_blocked_partitions.set(n);
}

// A fatal consumer error ends intake on this instance: librdkafka's handle cannot consume again.
// The one a configuration causes is a static member fenced by another live member with its
// KAFKA_GROUP_INSTANCE_ID; a new handle would fence that one in turn. Logged once with the cause,
// shown by sc_consumer_fatal, and the loop waits instead of spinning.
void TradeConsumer::reportFatal() {
  if (!fatal_) {
    std::string why;
    RdKafka::ErrorCode code = consumer_->fatal_error(why);
    logger()->error(
        "Kafka consumer fatal error ({}): {}; this instance takes no more trades from {} until it "
        "is restarted{}",
        RdKafka::err2str(code), why, opt_.trade_topic,
        code == RdKafka::ERR_FENCED_INSTANCE_ID
            ? " (another live instance uses KAFKA_GROUP_INSTANCE_ID=" + opt_.group_instance_id + ")"
            : "");
    metrics_.fatal.set(1);
    fatal_ = true;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

void TradeConsumer::run() {
  int backoff_ms = 100;
  while (!stopping_) {
    checkBackPressure();
    refreshLag();
    resumeBackedOff();
    std::vector<RdKafka::Message*> msgs;
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(opt_.consume_batch_wait_ms);
    int wait_ms = 100;
    while (static_cast<int>(msgs.size()) < opt_.consume_batch && !stopping_) {
      RdKafka::Message* m = consumer_->consume(wait_ms);
      if (m->err() == RdKafka::ERR_NO_ERROR) {
        msgs.push_back(m);
      } else {
        if (m->err() == RdKafka::ERR__FATAL) {
          reportFatal();
        } else if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF) {
          logger()->warn("consume: {}", m->errstr());
        }
        delete m;
        // Nothing more now: hand back to the outer loop, which also lifts back-pressure (while
        // paused nothing arrives, so waiting here for a first message would never resume).
        break;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (!msgs.empty()) wait_ms = static_cast<int>(std::max<int64_t>(0, left));
      if (!msgs.empty() && left <= 0) {
        // batch window over: take only what is already buffered
        wait_ms = 0;
      }
    }
    if (msgs.empty()) continue;
    metrics_.messages.inc(msgs.size());
    metrics_.batches.inc();

    std::vector<std::string_view> raw;
    raw.reserve(msgs.size());
    for (auto* m : msgs) raw.emplace_back(static_cast<const char*>(m->payload()), m->len());
    auto decisions = intake_.submit(raw);
    if (!decisions.ok()) {
      // The store failed the whole batch: every partition of it is consumed again.
      metrics_.intake_failures.inc();
      logger()->error("intake of {} trades failed, will re-consume: {}", msgs.size(),
                      decisions.error().message);
      rewind(msgs);
      for (auto* m : msgs) delete m;
      waitBeforeRetry(backoff_ms);
      continue;
    }
    if (auto recorded = recordRejections(msgs, *decisions); !recorded) {
      // Before any dead letter and any commit: the batch is consumed again, its trades are
      // idempotent duplicates then, and its rejections are recorded once.
      metrics_.rejection_record_failures.inc();
      logger()->error("recording the rejections of {} messages failed, will re-consume: {}",
                      msgs.size(), recorded.error().message);
      rewind(msgs);
      for (auto* m : msgs) delete m;
      waitBeforeRetry(backoff_ms);
      continue;
    }
    backoff_ms = 100;
    // A dead letter that cannot be written holds back only its own partition: nothing of that
    // partition from its message on is committed, and the partition pauses with a growing delay.
    std::map<int32_t, int64_t> blocked = deadLetter(msgs, *decisions);
    if (!blocked.empty()) {
      metrics_.dlq_failures.inc();
      backOff(blocked);
    }
    for (auto* m : msgs)
      if (!blocked.contains(m->partition())) dlq_backoff_.erase(m->partition());
    refreshBlockedGauge();
    // Rebalances (cooperative-sticky: only the partitions that move are revoked) run inside
    // consume(), so a batch may hold messages of a partition revoked while it was collected. Its
    // trades are stored now (storing is idempotent), but its offset is not committed: the new
    // owner consumes from the last committed offset, and a late commit of ours could move that
    // owner's committed offset back or past what it has stored. Only offsets of partitions still
    // assigned are committed, and only after the batch's trades are stored (above): an offset is
    // never committed before its trades are in PostgreSQL, whoever owns the partition.
    std::vector<RdKafka::TopicPartition*> owned;
    consumer_->assignment(owned);
    std::set<int32_t> assigned;
    for (auto* tp : owned)
      if (tp->topic() == opt_.trade_topic) assigned.insert(tp->partition());
    RdKafka::TopicPartition::destroy(owned);
    std::map<int32_t, int64_t> next;
    for (auto* m : msgs) next[m->partition()] = std::max(next[m->partition()], m->offset() + 1);
    // A blocked partition is committed up to its message whose dead letter failed, when the
    // batch got that far in it.
    for (const auto& [p, offset] : blocked) {
      bool progress = false;
      for (auto* m : msgs) progress = progress || (m->partition() == p && m->offset() < offset);
      if (progress) {
        next[p] = offset;
      } else {
        next.erase(p);
      }
    }
    std::vector<RdKafka::TopicPartition*> offsets;
    for (auto& [p, off] : next) {
      if (assigned.contains(p)) {
        offsets.push_back(RdKafka::TopicPartition::create(opt_.trade_topic, p, off));
      } else {
        metrics_.revoked_uncommitted.inc();
        logger()->info("partition {} was revoked during the batch: stored, not committed", p);
      }
    }
    if (offsets.empty()) {
      for (auto* m : msgs) delete m;
      continue;
    }
    auto rc = consumer_->commitSync(offsets);
    if (rc != RdKafka::ERR_NO_ERROR) {
      // Not fatal: the trades are recorded; a re-delivery is an idempotent duplicate.
      metrics_.commit_failures.inc();
      logger()->warn("offset commit failed: {}", RdKafka::err2str(rc));
    } else {
      metrics_.commits.inc();
    }
    RdKafka::TopicPartition::destroy(offsets);
    for (auto* m : msgs) delete m;
  }
}

}  // namespace sc::messaging

#include "messaging/trade_consumer.h"

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

// Counts the DLQ delivery reports of the current batch (msg_opaque = batch number: a late report
// of an earlier, abandoned batch is not counted). Runs inside dlq_ poll/flush, on the consumer
// thread.
class TradeConsumer::DlqDeliveries : public RdKafka::DeliveryReportCb {
 public:
  void startBatch() {
    ++batch;
    ok = failed = 0;
    error.clear();
  }
  void* tag() const { return reinterpret_cast<void*>(static_cast<uintptr_t>(batch)); }
  void dr_cb(RdKafka::Message& m) override {
    if (m.msg_opaque() != tag()) return;
    if (m.err() == RdKafka::ERR_NO_ERROR) {
      ok++;
    } else {
      failed++;
      if (error.empty()) error = m.errstr();
    }
  }
  uintptr_t batch = 0;
  int ok = 0, failed = 0;
  std::string error;  // the first failure of the batch
};

// Applies (cooperative: incremental) assignment changes, and keeps back-pressure on partitions
// assigned while consumption is paused. Runs inside consume(), on the consumer thread.
class TradeConsumer::Rebalance : public RdKafka::RebalanceCb {
 public:
  explicit Rebalance(const bool& paused) : paused_(paused) {}
  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    const bool cooperative = c->rebalance_protocol() == "COOPERATIVE";
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

 private:
  const bool& paused_;
};

TradeConsumer::TradeConsumer(KafkaOptions options, workflow::Intake& intake,
                             std::function<Result<int64_t>()> pending_backlog)
    : opt_(std::move(options)), intake_(intake), backlog_(std::move(pending_backlog)) {
  metrics::registerCounter("sc_consumer_messages_total", "Trade messages consumed",
                           &metrics_.messages);
  metrics::registerCounter("sc_consumer_batches_total", "Trade batches processed",
                           &metrics_.batches);
  metrics::registerCounter("sc_consumer_dead_lettered_total",
                           "Messages sent to the dead-letter topic", &metrics_.dead_lettered);
  metrics::registerCounter("sc_consumer_intake_failures_total",
                           "Batches the store failed (re-consumed)", &metrics_.intake_failures);
  metrics::registerCounter("sc_consumer_dlq_failures_total",
                           "Batches whose dead-lettering failed (re-consumed)",
                           &metrics_.dlq_failures);
  metrics::registerCounter("sc_consumer_commits_total", "Offset commits", &metrics_.commits);
  metrics::registerCounter("sc_consumer_commit_failures_total", "Failed offset commits",
                           &metrics_.commit_failures);
  metrics::registerCounter("sc_consumer_pauses_total", "Back-pressure pauses", &metrics_.pauses);
  metrics::registerCounter(
      "sc_consumer_revoked_uncommitted_total",
      "Batch partitions revoked mid-batch: stored, offset left to the new owner",
      &metrics_.revoked_uncommitted);
  metrics::registerCounter("sc_consumer_dlq_producer_restarts_total",
                           "DLQ producers replaced after a fatal error",
                           &metrics_.dlq_producer_restarts);
  metrics::registerGauge("sc_consumer_paused", "1 while consumption is paused for back-pressure",
                         &metrics_.paused);
}

TradeConsumer::~TradeConsumer() { stop(); }

void TradeConsumer::start() {
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", opt_.bootstrap_servers},
      {"group.id", opt_.consumer_group},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"fetch.wait.max.ms", "10"},
      {"session.timeout.ms", "10000"},
      {"heartbeat.interval.ms", "1000"},
      {"client.id", "settlement-coordinator-consumer"},
  };
  for (auto& [k, v] : opt_.extra) props[k] = v;
  std::string err;
  auto conf = makeKafkaConf(props);
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
  return makeKafkaProducer({{"bootstrap.servers", opt_.bootstrap_servers},
                            {"enable.idempotence", "true"},
                            {"acks", "all"},
                            {"linger.ms", "1"},
                            {"message.timeout.ms", "30000"},
                            {"client.id", "settlement-coordinator-dlq"}},
                           dlq_reports_.get(), "Kafka DLQ");
}

void TradeConsumer::replaceDlqProducer(const std::string& why) {
  logger()->error(
      "dead-letter producer fatal error: {}; replacing the producer and re-consuming "
      "the batch",
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
  if (consumer_) consumer_->close();
  if (dlq_) dlq_->flush(5000);
}

void TradeConsumer::checkBackPressure() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_backlog_check_ < std::chrono::milliseconds(500)) return;
  last_backlog_check_ = now;
  auto backlog = backlog_();
  if (!backlog) return;
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

bool TradeConsumer::deadLetter(const std::vector<RdKafka::Message*>& msgs,
                               const std::vector<workflow::IntakeDecision>& decisions) {
  bool any = false;
  for (size_t i = 0; i < msgs.size() && !any; ++i)
    any = decisions[i].kind == store::IntakeKind::kRejected;
  if (!any) return true;
  if (!dlq_) {
    try {
      dlq_ = createDlqProducer();
    } catch (const std::exception& e) {
      logger()->error("dead-letter producer: {}", e.what());
      return false;
    }
  }
  DlqDeliveries& reports = *dlq_reports_;
  reports.startBatch();
  std::string fatal;
  auto isFatal = [&] {
    if (fatal.empty() && dlq_->fatal_error(fatal) == RdKafka::ERR_NO_ERROR) fatal.clear();
    return !fatal.empty();
  };
  auto fail = [&](const std::string& why) {
    if (isFatal()) {
      replaceDlqProducer(fatal);
    } else {
      // Whatever of this batch is still queued would only duplicate the re-sent dead letters.
      dlq_->purge(RdKafka::Producer::PURGE_QUEUE);
      dlq_->poll(0);
      logger()->error("dead-lettering failed, will re-consume the batch: {}", why);
    }
    return false;
  };
  int sent = 0;
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (decisions[i].kind != store::IntakeKind::kRejected) continue;
    RdKafka::Message* m = msgs[i];
    const Error& why = *decisions[i].rejection;
    RdKafka::Headers* headers = RdKafka::Headers::create();
    if (m->headers()) {
      for (const auto& h : m->headers()->get_all())
        headers->add(h.key(), h.value(), h.value_size());
    }
    headers->add("dlq.reason_code", why.code);
    headers->add("dlq.reason", why.message);
    if (!why.field.empty()) headers->add("dlq.field", why.field);
    headers->add("dlq.source_topic", m->topic_name());
    headers->add("dlq.source_partition", std::to_string(m->partition()));
    headers->add("dlq.source_offset", std::to_string(m->offset()));
    headers->add("dlq.trade_id", decisions[i].trade_id);
    for (;;) {
      auto rc =
          dlq_->produce(opt_.dlq_topic, RdKafka::Topic::PARTITION_UA,
                        RdKafka::Producer::RK_MSG_COPY, m->payload(), m->len(), m->key_pointer(),
                        m->key_len(), m->timestamp().timestamp, headers, reports.tag());
      if (rc == RdKafka::ERR_NO_ERROR) break;  // headers now owned by librdkafka
      if (rc == RdKafka::ERR__QUEUE_FULL && !stopping_ && !isFatal()) {
        dlq_->poll(50);
        continue;
      }
      delete headers;
      return fail(stopping_ && rc == RdKafka::ERR__QUEUE_FULL
                      ? std::string("stopping with the dead-letter queue full")
                      : "produce: " + RdKafka::err2str(rc));
    }
    ++sent;
  }
  // Wait until every dead letter of this batch is acknowledged before committing offsets: the
  // delivery reports, not an empty queue, say whether they were written (a message can also leave
  // the queue by failing: unknown topic, too large, timed out).
  // Stopping leaves them 2 s more at most (the broker may be down): the batch is then not
  // committed, and consumed again after the restart.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool stop_noted = false;
  while (reports.ok + reports.failed < sent) {
    auto now = std::chrono::steady_clock::now();
    if (stopping_ && !stop_noted) {
      stop_noted = true;
      deadline = std::min(deadline, now + std::chrono::seconds(2));
    }
    if (isFatal()) return fail(fatal);
    if (now >= deadline) return fail("dead letters not acknowledged in time");
    dlq_->flush(100);  // serves the delivery reports
  }
  if (reports.failed > 0)
    return fail(std::to_string(reports.failed) + " of " + std::to_string(sent) +
                " dead letters not delivered: " + reports.error);
  metrics_.dead_lettered.inc(sent);
  return true;
}

void TradeConsumer::run() {
  int backoff_ms = 100;
  while (!stopping_) {
    checkBackPressure();
    std::vector<RdKafka::Message*> msgs;
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(opt_.consume_batch_wait_ms);
    int wait_ms = 100;
    while (static_cast<int>(msgs.size()) < opt_.consume_batch && !stopping_) {
      RdKafka::Message* m = consumer_->consume(wait_ms);
      if (m->err() == RdKafka::ERR_NO_ERROR) {
        msgs.push_back(m);
      } else {
        if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF)
          logger()->warn("consume: {}", m->errstr());
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
    bool ok = decisions.ok();
    if (!ok) {
      metrics_.intake_failures.inc();
      logger()->error("intake of {} trades failed, will re-consume: {}", msgs.size(),
                      decisions.error().message);
    } else if (!deadLetter(msgs, *decisions)) {
      metrics_.dlq_failures.inc();
      ok = false;
    }
    if (!ok) {
      rewind(msgs);
      for (auto* m : msgs) delete m;
      for (int waited = 0; waited < backoff_ms && !stopping_; waited += 50)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      backoff_ms = std::min(backoff_ms * 2, 5000);
      continue;
    }
    backoff_ms = 100;
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

#include "messaging/outbox_relay.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <unordered_set>

#include "common/log.h"
#include "messaging/errors.h"
#include "messaging/event_payload.h"

namespace sc::messaging {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("messaging");
  return l;
}

// Purges what the producer still holds and destroys it (the dr_cb of purged messages runs here).
void retire(std::shared_ptr<RdKafka::Producer>& p) {
  if (!p) return;
  p->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  p->poll(0);
  p.reset();
}

}  // namespace

// Records the delivery result of each message of the current batch by its index (msg_opaque).
// Touched only by the relay thread (dr_cb runs inside its poll/flush calls).
struct OutboxRelay::Deliveries : public RdKafka::DeliveryReportCb {
  void reset(size_t n) {
    state.assign(n, Delivery::kPending);
    pending = 0;
    error.clear();
  }
  void produced() { ++pending; }
  // produce() refused message i: no report will come.
  void refused(size_t i, std::string why) {
    state[i] = Delivery::kFailed;
    if (error.empty()) error = std::move(why);
  }
  // Message i was not produced: an earlier event of its settlement was refused.
  void skipped(size_t i) { state[i] = Delivery::kSkipped; }
  void dr_cb(RdKafka::Message& m) override {
    auto i = reinterpret_cast<uintptr_t>(m.msg_opaque());
    if (i >= state.size() || state[i] != Delivery::kPending) return;
    --pending;
    if (m.err() == RdKafka::ERR_NO_ERROR) {
      state[i] = Delivery::kDelivered;
    } else {
      state[i] = Delivery::kFailed;
      if (error.empty()) error = m.errstr();
    }
  }
  std::vector<Delivery> state;  // per event of the batch
  size_t pending = 0;           // produced, not yet reported
  std::string error;            // the first failure of the batch
};

std::map<std::string, std::string> relayProducerProps(const KafkaOptions& o) {
  std::map<std::string, std::string> props = {
      {"bootstrap.servers", o.bootstrap_servers},
      {"linger.ms", "2"},
      {"batch.num.messages", "10000"},
      {"compression.type", "lz4"},
      {"client.id", "settlement-coordinator-relay"},
  };
  for (const auto& [k, v] : o.extra) props[k] = v;
  // What the relay's guarantees rest on (ordered, unduplicated, never dropped): not overridable.
  props["enable.idempotence"] = "true";
  props["acks"] = "all";
  props["message.timeout.ms"] = "0";  // never give up on an event: the outbox keeps order
  return props;
}

std::vector<size_t> markableEvents(std::span<const Delivery> state,
                                   std::span<const std::string> keys) {
  std::vector<size_t> out;
  std::unordered_set<std::string_view> blocked;
  const size_t n = std::min(state.size(), keys.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (state[i] != Delivery::kDelivered) {
      blocked.insert(keys[i]);
    } else if (!blocked.contains(keys[i])) {
      out.push_back(i);
    }
  }
  return out;
}

OutboxRelay::OutboxRelay(KafkaOptions options, store::OutboxRepository& outbox, const Clock& clock)
    : opt_(std::move(options)),
      outbox_(outbox),
      clock_(clock),
      deliveries_(std::make_unique<Deliveries>()) {
  metrics_.leader.set(1);  // until electWith(): the only relay
}

// ---- Leadership ---------------------------------------------------------------------------------
//
// One relay per database is active: the one whose dedicated connection holds the session-level
// advisory lock store::kOutboxRelayLockKey. PostgreSQL releases the lock the moment that session
// ends: the holder killed (-9: the kernel closes its socket), its backend terminated, the server
// restarted. A standby tries pg_try_advisory_lock every kStandbyRetry, so it takes over within
// about a second of that. The leader confirms the lock (pg_locks, on the same connection, bounded
// by its 2 s I/O timeout) before each batch and, while producing or waiting for acknowledgements,
// at least every kConfirmEvery; once it cannot, it stops: it purges what its producer still holds
// and produces nothing more until it holds the lock again.
//
// Can two relays produce at once? Briefly, yes, and nothing can rule that out without fencing at
// the broker: the server may end the leader's session (pg_terminate_backend, restart) up to
// kConfirmEvery before the leader notices, or a leader on the far side of a partition may keep
// producing until its confirmation times out while the server already freed the lock. Usually the
// old leader stops first (the standby's next try is up to kStandbyRetry away), but the window
// exists. What holds anyway, because order comes from the outbox and not from who produces:
//   - an outbox row is deleted only after Kafka acknowledged it, and every relay reads the outbox
//     in position order and, per settlement, produces the next event only after the previous one
//     was acknowledged (waves) or is gone from the outbox (acknowledged before);
//   - so whoever produces event n of a settlement does so after event n-1 is in the partition's
//     log (same key, same partition, later offset). The first copy of every event therefore
//     follows the first copy of its predecessor: per-settlement order holds across a takeover.
// Two relays in the window can only duplicate: both send an event neither has deleted yet (same
// event_id, so a consumer drops the copy), and a copy of an earlier event may land after a later
// event's first copy — a duplicate of an already-seen event_id, never a first sighting out of
// order. Nothing is lost: rows stay in the outbox until someone's delivery is recorded, and the
// new leader starts from the outbox. (Kafka transactions with one transactional.id would fence the
// old producer at the broker; the outbox already gives the order, at no extra round trips.)

void OutboxRelay::electWith(std::unique_ptr<store::SessionAdvisoryLock> lock) {
  lock_ = std::move(lock);
  metrics_.leader.set(0);
}

bool OutboxRelay::stillLeader(bool now) {
  if (!lock_) return true;
  const auto t = std::chrono::steady_clock::now();
  if (lock_->held()) {
    if (!now && t - confirmed_at_ < kConfirmEvery) return true;
    auto r = lock_->confirm();
    if (r.ok() && *r) {
      confirmed_at_ = t;
      return true;
    }
    metrics_.leader.set(0);
    metrics_.leadership_changes.inc();
    lost_at_ = t;
    logger()->warn("outbox relay leadership lost ({}); standing by",
                   r.ok() ? "the lock is no longer held" : r.error().message);
    return false;
  }
  // Having just lost it, leave the lock to a standby for one retry period (less flapping; if no
  // standby is alive, this relay takes it back then).
  if (lost_at_ && t - *lost_at_ < kStandbyRetry) return false;
  auto r = lock_->tryAcquire();
  if (!r.ok() || !*r) return false;  // another instance relays (or the database is away)
  confirmed_at_ = t;
  metrics_.leader.set(1);
  metrics_.leadership_changes.inc();
  logger()->info("outbox relay leadership taken: this instance relays the outbox");
  return true;
}

void OutboxRelay::abandonProducer() {
  std::shared_ptr<RdKafka::Producer> old;
  {
    std::lock_guard l(producer_mu_);
    old = std::move(producer_);
  }
  retire(old);  // purges queued and in-flight messages: none of ours is sent after this
  try {
    auto fresh = createProducer();
    std::lock_guard l(producer_mu_);
    producer_ = std::move(fresh);
  } catch (const std::exception& e) {
    logger()->error("recreating the relay producer: {}", e.what());  // retried by run()
  }
}

OutboxRelay::~OutboxRelay() { stop(); }

std::shared_ptr<RdKafka::Producer> OutboxRelay::createProducer() {
  return makeKafkaProducer(relayProducerProps(opt_), deliveries_.get(), "Kafka relay");
}

std::shared_ptr<RdKafka::Producer> OutboxRelay::producer() {
  std::lock_guard l(producer_mu_);
  return producer_;
}

void OutboxRelay::replaceProducer(const std::string& why) {
  logger()->error(
      "relay producer fatal error: {}; replacing the producer (undelivered events "
      "stay in the outbox and are re-sent)",
      why);
  metrics_.producer_restarts.inc();
  std::shared_ptr<RdKafka::Producer> old;
  {
    std::lock_guard l(producer_mu_);
    old = std::move(producer_);
  }
  retire(old);
  try {
    auto fresh = createProducer();
    std::lock_guard l(producer_mu_);
    producer_ = std::move(fresh);
  } catch (const std::exception& e) {
    // The configuration worked before: retried on the next batch.
    logger()->error("recreating the relay producer: {}", e.what());
  }
}

void OutboxRelay::start() {
  auto p = createProducer();
  {
    std::lock_guard l(producer_mu_);
    producer_ = std::move(p);
  }
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
  {
    // Under mu_ so that a waiter cannot miss the notification between its check and its wait.
    std::lock_guard l(mu_);
    if (stopping_.exchange(true)) return;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (lock_) {
    lock_->release();  // a standby takes over now, not when this process exits
    metrics_.leader.set(0);
  }
  std::shared_ptr<RdKafka::Producer> p;
  {
    std::lock_guard l(producer_mu_);
    p = std::move(producer_);
  }
  retire(p);
}

void OutboxRelay::injectFatalErrorForTest() {
  if (auto p = producer())
    rd_kafka_test_fatal_error(p->c_ptr(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                              "injected by a test");
}

Result<void> OutboxRelay::ping() {
  auto p = producer();
  if (!p)
    return Error::transient(std::string(messaging::kKafkaUnavailable),
                            "Kafka producer not started");
  RdKafka::Metadata* md = nullptr;
  auto rc = p->metadata(false, nullptr, &md, 2000);
  std::unique_ptr<RdKafka::Metadata> guard(md);
  if (rc != RdKafka::ERR_NO_ERROR)
    return Error::transient(std::string(messaging::kKafkaUnavailable),
                            "Kafka at " + opt_.bootstrap_servers + ": " + RdKafka::err2str(rc));
  return {};
}

bool OutboxRelay::waitForWork(std::chrono::milliseconds d) {
  std::unique_lock l(mu_);
  uint64_t seen = wakeups_;
  cv_.wait_for(l, d, [&] { return stopping_ || wakeups_ != seen; });
  return !stopping_;
}

void OutboxRelay::sleepUnlessStopping(std::chrono::milliseconds d) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, d, [&] { return stopping_.load(); });
}

void OutboxRelay::run() {
  int errors = 0;
  auto backoff = std::chrono::milliseconds(100);
  Deliveries& d = *deliveries_;
  while (!stopping_) {
    if (!stillLeader(true)) {
      sleepUnlessStopping(kStandbyRetry);
      continue;
    }
    auto producer = this->producer();
    if (!producer) {
      replaceProducer("no producer");  // a recreation failed earlier
      sleepUnlessStopping(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
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
    metrics_.batch_size.observe(static_cast<double>(events.size()));
    d.reset(events.size());
    std::vector<std::string> keys;
    keys.reserve(events.size());
    for (const auto& e : events) keys.push_back(eventKey(e));
    std::string fatal;
    auto isFatal = [&] {
      if (fatal.empty() && producer->fatal_error(fatal) == RdKafka::ERR_NO_ERROR) fatal.clear();
      return !fatal.empty();
    };
    // Produces event i; false when produce() refused it (no report will come).
    auto produceOne = [&](size_t i) {
      std::string payload = buildEventPayload(events[i]);
      const std::string& key = keys[i];
      RdKafka::Headers* headers = RdKafka::Headers::create();
      headers->add("event_type", std::string(eventTypeFor(events[i].status)));
      for (;;) {
        auto rc = producer->produce(opt_.settlement_topic, RdKafka::Topic::PARTITION_UA,
                                    RdKafka::Producer::RK_MSG_COPY, payload.data(), payload.size(),
                                    key.data(), key.size(), 0, headers,
                                    reinterpret_cast<void*>(static_cast<uintptr_t>(i)));
        if (rc == RdKafka::ERR_NO_ERROR) {  // headers now owned by librdkafka
          d.produced();
          return true;
        }
        if (rc == RdKafka::ERR__QUEUE_FULL && !stopping_ && !isFatal()) {
          producer->poll(20);
          continue;
        }
        delete headers;
        if (rc == RdKafka::ERR__FATAL) {
          isFatal();
          if (fatal.empty()) fatal = RdKafka::err2str(rc);
        } else {
          logger()->error("produce to {} failed: {}", opt_.settlement_topic, RdKafka::err2str(rc));
        }
        d.refused(i, RdKafka::err2str(rc));
        return false;
      }
    };
    // In waves: each wave produces, per settlement, only its next event, and waits until the
    // broker has answered for all of them. A settlement therefore never has two events in flight,
    // so no broker or client behaviour can put a later event ahead of an earlier one; an event
    // that fails holds back its settlement's later events (re-read first next time), and other
    // settlements go on. A batch has as many waves as the most events one settlement has in it.
    std::vector<bool> produced(events.size(), false);
    std::unordered_set<std::string> held_back;  // settlements whose event of this batch failed
    bool lost = false;
    auto leading = [&] {  // re-confirmed at most every kConfirmEvery
      if (!lost) lost = !stillLeader();
      return !lost;
    };
    for (bool any = true; any && !stopping_ && !isFatal() && leading();) {
      any = false;
      std::vector<size_t> wave;
      std::unordered_set<std::string_view> in_wave;
      for (size_t i = 0; i < events.size(); ++i) {
        if (produced[i] || held_back.contains(keys[i]) || in_wave.contains(keys[i])) continue;
        in_wave.insert(keys[i]);
        wave.push_back(i);
      }
      for (size_t i : wave) {
        if (stopping_ || isFatal() || !leading()) break;
        produced[i] = true;
        any = true;
        if (!produceOne(i)) held_back.insert(keys[i]);
      }
      // Wait for the broker (indefinitely while it is down, unless we are stopping or the
      // producer has failed for good: then what is still pending will never be reported).
      while (d.pending > 0 && !stopping_ && !isFatal() && leading()) producer->poll(20);
      for (size_t i : wave)
        if (produced[i] && d.state[i] != Delivery::kDelivered) held_back.insert(keys[i]);
    }
    if (lost) {
      producer.reset();
      abandonProducer();  // what was not acknowledged stays in the outbox for the new leader
    } else if (stopping_ && !isFatal()) {
      producer->flush(2000);
    }
    if (producer) producer->poll(0);
    for (size_t i = 0; i < events.size(); ++i)
      if (!produced[i]) d.skipped(i);

    auto markable = markableEvents(d.state, keys);
    std::vector<int64_t> delivered;
    delivered.reserve(markable.size());
    for (size_t i : markable) delivered.push_back(events[i].position);
    size_t failed = 0;
    for (size_t i = 0; i < keys.size(); ++i) failed += d.state[i] == Delivery::kFailed;
    size_t skipped = 0;
    for (size_t i = 0; i < keys.size(); ++i) skipped += d.state[i] == Delivery::kSkipped;
    metrics_.delivery_failures.inc(failed);
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
    if (lost) continue;  // standing by from the next turn on
    if (isFatal()) replaceProducer(fatal);
    if (delivered.size() < events.size() && !stopping_) {
      logger()->warn(
          "{} of {} events not recorded as delivered ({} failed: {}; {} held back behind "
          "an earlier event of their settlement); retrying in {} ms",
          events.size() - delivered.size(), events.size(), failed, fatal.empty() ? d.error : fatal,
          skipped, backoff.count());
      // Not cut short by wake(): new events do not make a failing broker or topic work again.
      sleepUnlessStopping(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    } else {
      backoff = std::chrono::milliseconds(100);
    }
  }
}

}  // namespace sc::messaging

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>

#include "messaging/outbox_relay.h"
#include "messaging/trade_consumer.h"
#include "support/memory_rejections.h"
#include "support/memory_store.h"
#include "support/trade_json.h"
#include "support/wait_for.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using D = messaging::Delivery;

std::vector<size_t> markable(std::vector<D> state, std::vector<std::string> keys) {
  return messaging::markableEvents(state, keys);
}

TEST(MarkableEvents, AllDeliveredAreMarked) {
  EXPECT_EQ(markable({D::kDelivered, D::kDelivered, D::kDelivered}, {"a", "b", "a"}),
            (std::vector<size_t>{0, 1, 2}));
}

TEST(MarkableEvents, NothingOfAKeyAfterItsFirstUndeliveredEvent) {
  // a: delivered, failed, delivered, delivered → only the first; b unaffected by a's failure.
  EXPECT_EQ(markable({D::kDelivered, D::kFailed, D::kDelivered, D::kDelivered, D::kDelivered},
                     {"a", "a", "b", "a", "b"}),
            (std::vector<size_t>{0, 2, 4}));
  // A still pending event (stopping) blocks its key like a failed one.
  EXPECT_EQ(markable({D::kPending, D::kDelivered, D::kDelivered}, {"a", "a", "b"}),
            (std::vector<size_t>{2}));
}

TEST(MarkableEvents, EventsNotProducedAreNotMarked) {
  // Three events read, two produced (keys of the produced ones only).
  EXPECT_EQ(markable({D::kDelivered, D::kDelivered, D::kPending}, {"a", "b"}),
            (std::vector<size_t>{0, 1}));
  EXPECT_TRUE(markable({}, {}).empty());
}

// KAFKA_PROPERTY_* and the security settings reach every client, but none can switch off what the
// intake (manual commits after storing) and the producers (idempotent, acks=all, the relay never
// giving up) rest on.
TEST(KafkaClientProps, ExtrasReachEveryClientButCannotWeakenItsGuarantees) {
  messaging::KafkaOptions o;
  o.bootstrap_servers = "broker:9092";
  o.consumer_group = "group-a";
  o.extra = {{"enable.auto.commit", "true"},
             {"enable.auto.offset.store", "true"},
             {"group.id", "other"},
             {"session.timeout.ms", "30000"},
             {"message.timeout.ms", "5000"},
             {"enable.idempotence", "false"},
             {"acks", "1"},
             {"linger.ms", "20"},
             {"security.protocol", "ssl"}};
  auto c = messaging::consumerProps(o);
  EXPECT_EQ(c["enable.auto.commit"], "false");
  EXPECT_EQ(c["enable.auto.offset.store"], "false");
  EXPECT_EQ(c["group.id"], "group-a");
  EXPECT_EQ(c["session.timeout.ms"], "30000");  // other settings can be tuned
  auto d = messaging::dlqProducerProps(o);
  EXPECT_EQ(d["message.timeout.ms"], "5000");
  auto r = messaging::relayProducerProps(o);
  EXPECT_EQ(r["message.timeout.ms"], "0");
  EXPECT_EQ(r["linger.ms"], "20");
  for (auto* p : {&d, &r}) {
    EXPECT_EQ((*p)["enable.idempotence"], "true");
    EXPECT_EQ((*p)["acks"], "all");
  }
  for (auto* p : {&c, &d, &r}) {
    EXPECT_EQ((*p)["security.protocol"], "ssl");
    EXPECT_EQ((*p)["bootstrap.servers"], "broker:9092");
  }
}

// Static membership (KAFKA_GROUP_INSTANCE_ID) is the intake consumer's alone: without it the
// member is dynamic; the producers never carry it.
TEST(KafkaClientProps, AGroupInstanceIdMakesOnlyTheConsumerAStaticMember) {
  messaging::KafkaOptions o;
  o.bootstrap_servers = "broker:9092";
  EXPECT_EQ(messaging::consumerProps(o).count("group.instance.id"), 0u);
  o.group_instance_id = "sc-host-1";
  EXPECT_EQ(messaging::consumerProps(o)["group.instance.id"], "sc-host-1");
  EXPECT_EQ(messaging::dlqProducerProps(o).count("group.instance.id"), 0u);
  EXPECT_EQ(messaging::relayProducerProps(o).count("group.instance.id"), 0u);
  // librdkafka takes the property (a typo in its name would throw here).
  EXPECT_NO_THROW(messaging::makeKafkaConf(messaging::consumerProps(o)));
}

// --- against librdkafka's mock cluster ----------------------------------------------------------

class MockCluster {
 public:
  MockCluster() {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    mc_ = rd_kafka_mock_cluster_new(rk_, 1);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(mc_); }
  void createTopic(const std::string& t, int partitions = 3) {
    rd_kafka_mock_topic_create(mc_, t.c_str(), partitions, 1);
  }
  rd_kafka_mock_cluster_t* get() { return mc_; }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
};

struct Record {
  std::string value;
  std::map<std::string, std::string> headers;
};

// Reads a topic's records with their headers from the beginning (3 partitions, no group).
std::vector<Record> readRecords(const std::string& bootstrap, const std::string& topic, size_t want,
                                std::chrono::milliseconds timeout) {
  auto conf = messaging::makeKafkaConf(
      {{"bootstrap.servers", bootstrap}, {"group.id", "reader"}, {"enable.auto.commit", "false"}});
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < 3; ++p)
    parts.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  c->assign(parts);
  RdKafka::TopicPartition::destroy(parts);
  std::vector<Record> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(c->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    Record r{std::string(static_cast<const char*>(m->payload()), m->len()), {}};
    if (m->headers())
      for (const auto& h : m->headers()->get_all())
        r.headers[h.key()] = std::string(static_cast<const char*>(h.value()), h.value_size());
    out.push_back(std::move(r));
  }
  c->close();
  return out;
}

// The values of readRecords.
std::vector<std::string> readAll(const std::string& bootstrap, const std::string& topic,
                                 size_t want, std::chrono::milliseconds timeout) {
  std::vector<std::string> out;
  for (auto& r : readRecords(bootstrap, topic, want, timeout)) out.push_back(std::move(r.value));
  return out;
}

class FakeOutbox : public store::OutboxRepository {
 public:
  void add(int n) {
    std::lock_guard l(mu_);
    for (int i = 0; i < n; ++i) {
      SettlementEvent e;
      e.id = Uuid::generateV7();
      e.settlement_id = settlements_[next_ % settlements_.size()];
      e.status = Status::kPending;
      e.details = "{}";
      e.position = ++next_;
      unpublished_.insert(e.position);
      events_.push_back(e);
    }
  }
  Result<std::vector<SettlementEvent>> pending(int limit) override {
    std::lock_guard l(mu_);
    std::vector<SettlementEvent> out;
    for (auto& e : events_)
      if (unpublished_.count(e.position) && static_cast<int>(out.size()) < limit) out.push_back(e);
    return out;
  }
  Result<void> markPublished(std::span<const int64_t> positions, Timestamp) override {
    std::lock_guard l(mu_);
    for (auto p : positions) unpublished_.erase(p);
    return {};
  }
  Result<int64_t> backlog() override {
    std::lock_guard l(mu_);
    return static_cast<int64_t>(unpublished_.size());
  }
  Result<int64_t> trim(int64_t keep) override {
    std::lock_guard l(mu_);
    int64_t dropped = 0;
    while (static_cast<int64_t>(unpublished_.size()) > keep) {
      unpublished_.erase(unpublished_.begin());
      ++dropped;
    }
    return dropped;
  }
  size_t unpublished() {
    std::lock_guard l(mu_);
    return unpublished_.size();
  }
  // One event of `settlement` whose details carry `tag` (and `padding` bytes of filler).
  int64_t addEvent(const Uuid& settlement, const std::string& tag, size_t padding = 0) {
    std::lock_guard l(mu_);
    SettlementEvent e;
    e.id = Uuid::generateV7();
    e.settlement_id = settlement;
    e.status = Status::kInitiated;
    e.details = R"({"tag":")" + tag + R"(","pad":")" + std::string(padding, 'x') + R"("})";
    e.position = ++next_;
    unpublished_.insert(e.position);
    events_.push_back(e);
    return e.position;
  }
  bool isUnpublished(int64_t position) {
    std::lock_guard l(mu_);
    return unpublished_.count(position) > 0;
  }

 private:
  std::mutex mu_;
  std::vector<Uuid> settlements_{Uuid::generateV7(), Uuid::generateV7(), Uuid::generateV7()};
  std::vector<SettlementEvent> events_;
  std::set<int64_t> unpublished_;
  int64_t next_ = 0;
};

TEST(OutboxRelayMock, ReplacesTheProducerAfterAFatalErrorAndLosesNothing) {
  MockCluster mc;
  mc.createTopic("settlement.events");
  messaging::KafkaOptions o;
  o.bootstrap_servers = mc.bootstrap();
  FakeOutbox outbox;
  SystemClock clock;
  messaging::OutboxRelay relay(o, outbox, clock);
  outbox.add(50);
  relay.start();
  ASSERT_TRUE(waitFor([&] { return outbox.unpublished() == 0; }, 20s)) << outbox.unpublished();
  EXPECT_TRUE(relay.ping().ok());

  relay.injectFatalErrorForTest();  // produce() now answers ERR__FATAL for good
  outbox.add(50);
  relay.wake();
  ASSERT_TRUE(waitFor([&] { return outbox.unpublished() == 0; }, 20s)) << outbox.unpublished();
  EXPECT_EQ(relay.metrics().producer_restarts.value(), 1u);
  EXPECT_TRUE(relay.ping().ok());
  relay.stop();
  EXPECT_EQ(readAll(o.bootstrap_servers, o.settlement_topic, 100, 10s).size(), 100u);
}

// Reads the topic and returns, per settlement key, the tags in the order Kafka holds them.
std::map<std::string, std::vector<std::string>> tagsByKey(const std::string& bootstrap,
                                                          const std::string& topic, size_t want,
                                                          std::chrono::milliseconds timeout) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& v : readAll(bootstrap, topic, want, timeout)) {
    auto j = nlohmann::json::parse(v);
    out[j["settlement_id"].get<std::string>()].push_back(j["tag"].get<std::string>());
  }
  return out;
}

// produce() refuses an event of settlement K (too large for message.max.bytes): K's later events
// must not reach Kafka before it, while another settlement's events flow on.
TEST(OutboxRelayMock, NoLaterEventOfASettlementIsProducedAfterOneWasRefused) {
  MockCluster mc;
  mc.createTopic("settlement.events");
  messaging::KafkaOptions o;
  o.bootstrap_servers = mc.bootstrap();
  o.extra["message.max.bytes"] = "2000";
  FakeOutbox outbox;
  SystemClock clock;
  const Uuid k = Uuid::generateV7(), j = Uuid::generateV7();
  outbox.addEvent(k, "k1");
  int64_t k2 = outbox.addEvent(k, "k2", 5000);  // refused by produce()
  int64_t k3 = outbox.addEvent(k, "k3");
  outbox.addEvent(j, "j1");
  outbox.addEvent(j, "j2");
  messaging::OutboxRelay relay(o, outbox, clock);
  relay.start();
  ASSERT_TRUE(waitFor([&] { return outbox.unpublished() == 2; }, 20s)) << outbox.unpublished();
  EXPECT_TRUE(outbox.isUnpublished(k2));
  EXPECT_TRUE(outbox.isUnpublished(k3));
  // A few more passes: the refused event is retried first, and still holds k3 back.
  relay.wake();
  ASSERT_TRUE(waitFor([&] { return relay.metrics().batches.value() >= 3; }, 20s));
  relay.stop();
  auto tags = tagsByKey(o.bootstrap_servers, o.settlement_topic, 100, 3s);  // all there is
  EXPECT_EQ(tags[k.prefixed(kSettlementPrefix)], (std::vector<std::string>{"k1"}));
  EXPECT_EQ(tags[j.prefixed(kSettlementPrefix)], (std::vector<std::string>{"j1", "j2"}));
}

// The broker fails a produce request for good: what the relay sent after it in the same partition
// must not be delivered ahead of it. Each event travels in its own request here.
TEST(OutboxRelayMock, ABatchTheBrokerRejectsDeliversNothingOfItsSettlementAheadOfIt) {
  MockCluster mc;
  rd_kafka_mock_topic_create(mc.get(), "settlement.events", 1, 1);
  messaging::KafkaOptions o;
  o.bootstrap_servers = mc.bootstrap();
  o.extra["linger.ms"] = "0";
  o.extra["batch.num.messages"] = "1";
  FakeOutbox outbox;
  SystemClock clock;
  const Uuid k = Uuid::generateV7();
  for (int i = 1; i <= 6; ++i) outbox.addEvent(k, "k" + std::to_string(i));
  // The first produce request fails with a permanent error (not retried by librdkafka).
  rd_kafka_mock_push_request_errors(mc.get(), /*Produce*/ 0, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
  messaging::OutboxRelay relay(o, outbox, clock);
  relay.start();
  ASSERT_TRUE(waitFor([&] { return outbox.unpublished() == 0; }, 30s)) << outbox.unpublished();
  relay.stop();
  auto tags =
      tagsByKey(o.bootstrap_servers, o.settlement_topic, 1000, 3s)[k.prefixed(kSettlementPrefix)];
  ASSERT_FALSE(tags.empty());
  // In Kafka's order, each event's first copy comes after the first copy of every earlier one
  // (re-sent duplicates of an event are allowed; a later event overtaking an earlier one is not).
  std::vector<std::string> first_copies;
  for (const auto& t : tags)
    if (std::find(first_copies.begin(), first_copies.end(), t) == first_copies.end())
      first_copies.push_back(t);
  EXPECT_EQ(first_copies, (std::vector<std::string>{"k1", "k2", "k3", "k4", "k5", "k6"}))
      << ::testing::PrintToString(tags);
}

// A TradeConsumer of group "test-group" on the mock cluster, with a `trade_partitions`-partition
// trade topic and a DLQ, over an in-memory store that knows acc_buyer and acc_seller. `tune`
// adjusts the options before the consumer is made.
struct MockConsumerRig {
  explicit MockConsumerRig(int trade_partitions = 3,
                           const std::function<void(messaging::KafkaOptions&)>& tune = {}) {
    mc.createTopic(o.trade_topic, trade_partitions);
    mc.createTopic(o.dlq_topic);
    o.bootstrap_servers = mc.bootstrap();
    o.consumer_group = "test-group";
    if (tune) tune(o);
    accounts.put("acc_buyer");
    accounts.put("acc_seller");
    consumer = std::make_unique<messaging::TradeConsumer>(
        o, intake, [] { return Result<int64_t>(int64_t{0}); });
  }
  MockCluster mc;
  messaging::KafkaOptions o;
  MemoryAccounts accounts;
  MemoryStore store{accounts};
  SystemClock clock;
  workflow::Intake intake{store, clock, TradeRules{{"AAPL/USDC"}}, std::chrono::seconds(300)};
  std::unique_ptr<messaging::TradeConsumer> consumer;
};

void produceTo(const std::string& bootstrap, const std::string& topic,
               const std::vector<std::string>& values) {
  auto conf = messaging::makeKafkaConf({{"bootstrap.servers", bootstrap}});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  for (size_t i = 0; i < values.size(); ++i) {
    std::string key = "k" + std::to_string(i);
    ASSERT_EQ(p->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                         const_cast<char*>(values[i].data()), values[i].size(), key.data(),
                         key.size(), 0, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(p->flush(10000), RdKafka::ERR_NO_ERROR);
}

TEST(TradeConsumerMock, AFailedDeadLetterIsRetriedUntilItIsDelivered) {
  MockConsumerRig rig;
  auto [mc, o, consumer] = std::tie(rig.mc, rig.o, *rig.consumer);
  // The next five produce requests (the DLQ producer's: the trades are produced before) fail
  // for good: each attempt at the batch uses one or two (one per partition leader request), so
  // the first two attempts fail in their delivery reports, whatever the batching.
  const rd_kafka_resp_err_t denied = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
  produceTo(o.bootstrap_servers, o.trade_topic, {"not json", "{\"also\": \"bad\"}"});
  rd_kafka_mock_push_request_errors(mc.get(), /*Produce*/ 0, 5, denied, denied, denied, denied,
                                    denied);
  consumer.start();
  ASSERT_TRUE(waitFor([&] { return consumer.metrics().dlq_failures.value() >= 2; }, 30s))
      << "dlq failures " << consumer.metrics().dlq_failures.value();
  EXPECT_EQ(consumer.metrics().dead_lettered.value(), 0u);
  EXPECT_EQ(consumer.metrics().commits.value(), 0u) << "offsets committed for lost dead letters";

  ASSERT_TRUE(waitFor([&] { return consumer.metrics().dead_lettered.value() >= 2; }, 60s));
  ASSERT_TRUE(waitFor([&] { return consumer.metrics().commits.value() >= 1; }, 30s));
  EXPECT_EQ(consumer.metrics().dead_lettered.value(), 2u);
  consumer.stop();
  auto dlq = readAll(o.bootstrap_servers, o.dlq_topic, 2, 10s);
  EXPECT_EQ(std::set<std::string>(dlq.begin(), dlq.end()),
            (std::set<std::string>{"not json", "{\"also\": \"bad\"}"}));
}

// The committed offset of `group` on topic[partition] (-1001 = none).
int64_t committedOffset(const std::string& bootstrap, const std::string& group,
                        const std::string& topic, int partition) {
  auto conf = messaging::makeKafkaConf({{"bootstrap.servers", bootstrap}, {"group.id", group}});
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  std::vector<RdKafka::TopicPartition*> parts{RdKafka::TopicPartition::create(topic, partition)};
  int64_t offset = -2;
  if (c->committed(parts, 5000) == RdKafka::ERR_NO_ERROR) offset = parts[0]->offset();
  RdKafka::TopicPartition::destroy(parts);
  c->close();
  return offset;
}

void produceToPartition(const std::string& bootstrap, const std::string& topic, int partition,
                        const std::vector<std::string>& values,
                        const std::map<std::string, std::string>& headers = {}) {
  auto conf = messaging::makeKafkaConf({{"bootstrap.servers", bootstrap}});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  for (const auto& v : values) {
    RdKafka::Headers* h = RdKafka::Headers::create();
    for (const auto& [k, hv] : headers) h->add(k, hv);
    ASSERT_EQ(p->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY,
                         const_cast<char*>(v.data()), v.size(), nullptr, 0, 0, h, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(p->flush(10000), RdKafka::ERR_NO_ERROR);
}

TEST(TradeConsumerMock, ADeadLetterTooLargeForTheDlqIsWrittenCutWithHeadersSayingSo) {
  MockConsumerRig rig;
  auto [mc, o, consumer] = std::tie(rig.mc, rig.o, *rig.consumer);
  const std::string big = "not json " + std::string(5000, 'x');
  produceToPartition(o.bootstrap_servers, o.trade_topic, 1, {big}, {{"trace", "t-1"}});
  // The broker refuses the whole dead letter as too large (as a DLQ topic with a small
  // max.message.bytes does).
  rd_kafka_mock_push_request_errors(mc.get(), /*Produce*/ 0, 1,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  consumer.start();
  ASSERT_TRUE(waitFor([&] { return consumer.metrics().commits.value() >= 1; }, 30s));
  consumer.stop();
  EXPECT_EQ(consumer.metrics().dead_lettered.value(), 1u);
  EXPECT_EQ(consumer.metrics().dlq_truncated.value(), 1u);
  EXPECT_EQ(consumer.metrics().dlq_partition_backoffs.value(), 0u);
  auto dlq = readRecords(o.bootstrap_servers, o.dlq_topic, 1, 10s);
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].value, big.substr(0, 1024));
  EXPECT_EQ(dlq[0].headers["dlq.truncated"], "true");
  EXPECT_EQ(dlq[0].headers["dlq.original_value_bytes"], "5009");
  EXPECT_EQ(dlq[0].headers["dlq.original_headers_dropped"], "1");
  EXPECT_EQ(dlq[0].headers["dlq.source_partition"], "1");
  EXPECT_EQ(dlq[0].headers["dlq.source_offset"], "0");
  EXPECT_EQ(dlq[0].headers["dlq.reason_code"], "invalid_json");
  EXPECT_EQ(dlq[0].headers.count("trace"), 0u);
  EXPECT_EQ(committedOffset(o.bootstrap_servers, o.consumer_group, o.trade_topic, 1), 1);
}

TEST(TradeConsumerMock, AnUnwritableDeadLetterHoldsBackOnlyItsOwnPartition) {
  MockConsumerRig rig(2, [](messaging::KafkaOptions& o) { o.consume_batch = 4; });
  auto [mc, o, consumer] = std::tie(rig.mc, rig.o, *rig.consumer);
  auto& store = rig.store;
  // Partition 0: a bad message between two good trades; partition 1: 20 good trades.
  std::vector<std::string> p0, p1;
  auto trade = [](const std::string& id) {
    TradeEvent t;
    t.trade_id = id;
    return t.json().dump();
  };
  produceToPartition(o.bootstrap_servers, o.trade_topic, 0,
                     {trade("p0_a"), "not json", trade("p0_b")});
  for (int i = 0; i < 20; ++i) p1.push_back(trade("p1_" + std::to_string(i)));
  produceToPartition(o.bootstrap_servers, o.trade_topic, 1, p1);
  // Every dead letter is denied until the errors are cleared.
  std::vector<rd_kafka_resp_err_t> denied(10000, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  rd_kafka_mock_push_request_errors_array(mc.get(), /*Produce*/ 0, denied.size(), denied.data());
  consumer.start();

  auto stored = [&](const std::string& id) {
    auto s = store.findByTradeId(id);
    return s.ok() && s->has_value();
  };
  ASSERT_TRUE(waitFor([&] { return stored("p1_19") && stored("p0_a"); }, 30s));
  ASSERT_TRUE(waitFor(
      [&] {
        return committedOffset(o.bootstrap_servers, o.consumer_group, o.trade_topic, 1) == 20;
      },
      30s))
      << "the other partition is held back by a dead letter it does not have";
  ASSERT_TRUE(waitFor([&] { return consumer.metrics().dlq_partition_backoffs.value() >= 2; }, 30s));
  EXPECT_EQ(consumer.metrics().dead_lettered.value(), 0u);
  EXPECT_EQ(consumer.metrics().dlq_blocked_partitions.value(), 1);
  // Partition 0 is committed up to the bad message, never past it.
  EXPECT_EQ(committedOffset(o.bootstrap_servers, o.consumer_group, o.trade_topic, 0), 1);

  rd_kafka_mock_clear_request_errors(mc.get(), /*Produce*/ 0);
  ASSERT_TRUE(waitFor(
      [&] { return committedOffset(o.bootstrap_servers, o.consumer_group, o.trade_topic, 0) == 3; },
      60s));
  EXPECT_EQ(consumer.metrics().dead_lettered.value(), 1u);
  EXPECT_TRUE(stored("p0_b"));
  EXPECT_EQ(consumer.metrics().dlq_blocked_partitions.value(), 0);
  consumer.stop();
  auto dlq = readRecords(o.bootstrap_servers, o.dlq_topic, 1, 10s);
  ASSERT_GE(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].value, "not json");
  EXPECT_EQ(dlq[0].headers["dlq.source_partition"], "0");
  EXPECT_EQ(dlq[0].headers["dlq.source_offset"], "1");
}

// Rejected messages are recorded for GET /rejections (issue 13) with their coordinates, reason
// and bytes; a consumer group that reads the topic again (every message redelivered) adds nothing.
TEST(TradeConsumerMock, RejectedMessagesAreRecordedOnceWithTheirCoordinates) {
  MockConsumerRig rig(1);
  auto [mc, o, consumer] = std::tie(rig.mc, rig.o, *rig.consumer);
  MemoryRejections rejections;
  consumer.recordRejectionsIn(rejections);
  TradeEvent good;
  good.trade_id = "trd_ok";
  nlohmann::json missing = good.json();
  missing["trade_id"] = "trd_missing";
  missing.erase("quantity");
  produceToPartition(o.bootstrap_servers, o.trade_topic, 0,
                     {"not json", good.json().dump(), missing.dump()});
  consumer.start();
  ASSERT_TRUE(waitFor(
      [&] { return committedOffset(o.bootstrap_servers, o.consumer_group, o.trade_topic, 0) == 3; },
      30s));
  consumer.stop();
  EXPECT_EQ(consumer.metrics().dead_lettered.value(), 2u);
  auto rows = rejections.rows();
  ASSERT_EQ(rows.size(), 2u);
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
  for (const auto& r : rows) {
    EXPECT_EQ(r.source, store::RejectionSource::kKafka);
    EXPECT_EQ(r.topic, o.trade_topic);
    EXPECT_EQ(r.partition, 0);
  }
  EXPECT_EQ(rows[0].offset, 0);
  EXPECT_EQ(rows[0].reason, "invalid_json");
  EXPECT_EQ(rows[0].trade_id, "");
  EXPECT_EQ(rows[0].excerpt, "not json");
  EXPECT_EQ(rows[1].offset, 2);
  EXPECT_EQ(rows[1].reason, "missing_field");
  EXPECT_EQ(rows[1].field, "quantity");
  EXPECT_EQ(rows[1].trade_id, "trd_missing");
  EXPECT_EQ(rows[1].excerpt, missing.dump());
  EXPECT_EQ(rows[1].original_size, static_cast<int64_t>(missing.dump().size()));

  messaging::KafkaOptions o2 = o;
  o2.consumer_group = "second-group";
  messaging::TradeConsumer again(o2, rig.intake, [] { return Result<int64_t>(int64_t{0}); });
  again.recordRejectionsIn(rejections);
  again.start();
  ASSERT_TRUE(waitFor(
      [&] { return committedOffset(o.bootstrap_servers, "second-group", o.trade_topic, 0) == 3; },
      30s));
  again.stop();
  EXPECT_EQ(again.metrics().dead_lettered.value(), 2u) << "the DLQ gets its copies again";
  EXPECT_EQ(rejections.rows().size(), 2u) << "but each message is recorded once";
}

// Recording comes before the dead letters and the commit: while it fails the batch is consumed
// again and nothing of it is dead-lettered or committed; once it works, each is recorded once.
TEST(TradeConsumerMock, AFailedRecordingReconsumesTheBatchBeforeAnyDeadLetterOrCommit) {
  MockConsumerRig rig(1);
  auto [mc, o, consumer] = std::tie(rig.mc, rig.o, *rig.consumer);
  MemoryRejections rejections;
  rejections.failWith(Error::transient("database_unavailable", "db down"));
  consumer.recordRejectionsIn(rejections);
  TradeEvent good;
  good.trade_id = "trd_ok";
  // The bad message first: whichever batches the consumer fetches, every one holds it, so no
  // offset may be committed while its recording fails (a good message fetched alone first would
  // be committed, rightly).
  produceToPartition(o.bootstrap_servers, o.trade_topic, 0, {"not json", good.json().dump()});
  consumer.start();
  ASSERT_TRUE(
      waitFor([&] { return consumer.metrics().rejection_record_failures.value() >= 2; }, 30s));
  EXPECT_EQ(consumer.metrics().dead_lettered.value(), 0u);
  EXPECT_EQ(consumer.metrics().commits.value(), 0u);
  EXPECT_TRUE(rejections.rows().empty());
  EXPECT_TRUE(waitFor([&] { return rig.store.findByTradeId("trd_ok")->has_value(); }, 30s))
      << "the trade itself is stored";

  rejections.failWith(std::nullopt);
  ASSERT_TRUE(waitFor(
      [&] { return committedOffset(o.bootstrap_servers, o.consumer_group, o.trade_topic, 0) == 2; },
      30s));
  consumer.stop();
  EXPECT_EQ(consumer.metrics().dead_lettered.value(), 1u);
  auto rows = rejections.rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].offset, 0);
  EXPECT_EQ(rows[0].reason, "invalid_json");
  auto created = rig.store.rows();
  EXPECT_EQ(created.size(), 1u) << "re-consumed trades are duplicates, not new settlements";
}

// librdkafka 2.0.2 aborts ("Assertion `assignor_state' failed") when a cooperative-sticky member
// is destroyed after its JoinGroup response and before any SyncGroup response. Here every
// SyncGroup fails until the errors are cleared, so once the consumer has joined it stays in that
// window; stop() must neither abort nor hang.
TEST(TradeConsumerMock, StoppingBetweenJoinAndSyncDoesNotAbort) {
  MockConsumerRig rig(3, [](messaging::KafkaOptions& o) { o.shutdown_sync_wait_ms = 2000; });
  std::vector<rd_kafka_resp_err_t> rebalancing(10000, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
  rd_kafka_mock_push_request_errors_array(rig.mc.get(), /*SyncGroup*/ 14, rebalancing.size(),
                                          rebalancing.data());
  rig.consumer->start();
  // Not a race to win: the mock coordinator answers a group's first JoinGroup after 3 s, and from
  // then until the end of the test the member is between join and sync (each SyncGroup fails and
  // it rejoins), so any moment after that exercises the window.
  std::this_thread::sleep_for(4500ms);
  rig.consumer->stop();
  SUCCEED() << "stop() returned without librdkafka aborting the process";
}

}  // namespace
}  // namespace sc::test

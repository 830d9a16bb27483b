// Kafka intake scale-out against the real broker and PostgreSQL (DESIGN §8): consumers of one
// group share a 6-partition trade topic (cooperative-sticky), and join and leave while trades
// flow, so partitions are revoked in the middle of batches. Every trade is stored exactly once,
// and at no moment is an offset committed whose trades are not yet stored: a checker samples the
// group's committed offsets and compares them with PostgreSQL throughout the run.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "e2e/kafka_test_client.h"
#include "messaging/trade_consumer.h"
#include "pg_kafka_test.h"
#include "support/fake_clock.h"
#include "support/trade_json.h"
#include "workflow/intake.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr int kPartitions = 6;

class ConsumerGroup : public PgKafkaTest {
 protected:
  void SetUp() override {
    PgKafkaTest::SetUp();
    if (HasFatalFailure()) return;
    opt_.bootstrap_servers = bootstrap_;
    opt_.trade_topic = "trade.events.grp." + db_.name();
    opt_.dlq_topic = opt_.trade_topic + ".dlq";
    opt_.consumer_group = "grp-" + db_.name();
    opt_.consume_batch = 40;
    std::string err;
    ASSERT_TRUE(sc::test::createTopics(bootstrap_, {opt_.trade_topic}, kPartitions, err)) << err;
    ASSERT_TRUE(sc::test::createTopics(bootstrap_, {opt_.dlq_topic}, 1, err)) << err;
    intake_ = std::make_unique<workflow::Intake>(repo(), clock_, TradeRules{}, kDeadline);
  }
  void TearDown() override {
    consumers_.clear();
    StoreTest::TearDown();
  }

  messaging::TradeConsumer& addConsumer() {
    consumers_.push_back(std::make_unique<messaging::TradeConsumer>(
        opt_, *intake_, [this]() -> Result<int64_t> { return int64_t{0}; }));
    consumers_.back()->start();
    return *consumers_.back();
  }

  void produceTrades(int first, int n) {
    std::vector<sc::test::KafkaRecord> recs;
    for (int i = first; i < first + n; ++i) {
      sc::test::TradeEvent t;
      t.trade_id = "trd_" + std::to_string(i);
      recs.push_back({t.trade_id, t.text(), {}, -1, -1});
    }
    std::string err;
    ASSERT_TRUE(sc::test::produceAll(bootstrap_, opt_.trade_topic, recs, err)) << err;
  }

  std::set<std::string> storedTradeIds() {
    std::set<std::string> out;
    auto c = pg::Connection::connect(db_.conninfo());
    if (!c) return out;
    auto r = (*c)->exec("SELECT trade_id FROM settlements");
    if (!r) return out;
    for (int i = 0; i < r->size(); ++i) out.emplace(r->text(i, 0));
    return out;
  }
  int64_t settlementRows() {
    auto c = pg::Connection::connect(db_.conninfo());
    auto r = (*c)->exec("SELECT count(*) FROM settlements");
    return r ? std::stoll(std::string(r->text(0, 0))) : -1;
  }

  messaging::KafkaOptions opt_;
  sc::test::FakeClock clock_{kT0};
  std::unique_ptr<workflow::Intake> intake_;
  std::vector<std::unique_ptr<messaging::TradeConsumer>> consumers_;
};

// The group's committed offsets (without joining it: OffsetFetch only).
class CommittedOffsets {
 public:
  CommittedOffsets(const std::string& bootstrap, const std::string& group, std::string topic)
      : topic_(std::move(topic)) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string err;
    conf->set("bootstrap.servers", bootstrap, err);
    conf->set("group.id", group, err);
    conf->set("enable.auto.commit", "false", err);
    c_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  }
  ~CommittedOffsets() {
    if (c_) c_->close();
  }
  // partition → committed offset (absent: none yet); false when the fetch failed.
  bool fetch(std::map<int32_t, int64_t>& out) {
    std::vector<RdKafka::TopicPartition*> parts;
    for (int p = 0; p < kPartitions; ++p)
      parts.push_back(RdKafka::TopicPartition::create(topic_, p));
    bool ok = c_ && c_->committed(parts, 5000) == RdKafka::ERR_NO_ERROR;
    out.clear();
    for (auto* tp : parts)
      if (ok && tp->offset() >= 0) out[tp->partition()] = tp->offset();
    RdKafka::TopicPartition::destroy(parts);
    return ok;
  }

 private:
  std::string topic_;
  std::unique_ptr<RdKafka::KafkaConsumer> c_;
};

TEST_F(ConsumerGroup, RebalancesMidBatchStoreEveryTradeOnceAndNeverCommitAhead) {
  constexpr int kChunk = 100, kTotal = 3000;
  std::atomic<int> produced{0};
  std::atomic<bool> done{false};
  std::thread producer([&] {
    for (int i = 0; i < kTotal && !::testing::Test::HasFatalFailure(); i += kChunk) {
      produceTrades(i, kChunk);
      produced += kChunk;
      std::this_thread::sleep_for(40ms);  // pacing: trades keep flowing across the rebalances
    }
  });
  // Which trade sits at each offset (the topic read back), for the checker.
  std::map<std::pair<int32_t, int64_t>, std::string> at;
  std::mutex at_mu;
  std::atomic<int> samples{0}, violations{0};
  std::string first_violation;
  std::thread checker([&] {
    CommittedOffsets committed(bootstrap_, opt_.consumer_group, opt_.trade_topic);
    sc::test::TopicReader reader(bootstrap_, opt_.trade_topic);
    while (!done) {
      reader.drainFor(50ms);
      {
        std::lock_guard l(at_mu);
        for (const auto& m : reader.messages()) at[{m.partition, m.offset}] = m.key;
      }
      std::map<int32_t, int64_t> offs;
      if (!committed.fetch(offs)) continue;
      auto stored = storedTradeIds();  // read after the offsets: a commit ahead of storage shows
      std::lock_guard l(at_mu);
      for (auto [p, off] : offs) {
        for (int64_t o = 0; o < off; ++o) {
          auto it = at.find({p, o});
          if (it == at.end()) continue;  // not read back yet
          if (!stored.contains(it->second)) {
            if (violations++ == 0)
              first_violation = "partition " + std::to_string(p) + " committed at " +
                                std::to_string(off) + " but " + it->second + " (offset " +
                                std::to_string(o) + ") is not stored";
          }
        }
      }
      ++samples;
    }
  });
  struct Joiner {
    std::atomic<bool>& done;
    std::thread &a, &b;
    ~Joiner() {
      done = true;
      if (a.joinable()) a.join();
      if (b.joinable()) b.join();
    }
  } joiner{done, producer, checker};

  messaging::TradeConsumer& a = addConsumer();
  ASSERT_TRUE(waitFor([&] { return settlementRows() >= 300; }, 60s));
  messaging::TradeConsumer& b =
      addConsumer();  // takes over some of a's partitions (incremental revoke)
  ASSERT_TRUE(waitFor([&] { return b.metrics().messages.value() > 0; }, 60s))
      << "the second consumer got no partition";
  ASSERT_TRUE(waitFor([&] { return settlementRows() >= 1500; }, 60s));
  a.stop();  // leaves the group: its partitions move to b
  messaging::TradeConsumer& c = addConsumer();
  ASSERT_TRUE(waitFor([&] { return c.metrics().messages.value() > 0; }, 60s))
      << "the third consumer got no partition";
  ASSERT_TRUE(waitFor([&] { return settlementRows() >= kTotal; }, 120s))
      << settlementRows() << " of " << kTotal << " stored";
  producer.join();
  // Everything stored is eventually committed: the group ends at the end of every partition.
  CommittedOffsets committed(bootstrap_, opt_.consumer_group, opt_.trade_topic);
  std::map<int32_t, int64_t> offs;
  EXPECT_TRUE(waitFor(
      [&] {
        int64_t sum = 0;
        if (committed.fetch(offs))
          for (auto [p, off] : offs) sum += off;
        return sum == kTotal;
      },
      30s))
      << "committed offsets do not cover all " << kTotal << " trades";
  ASSERT_TRUE(waitFor([&] { return samples >= 5; }, 30s));
  done = true;
  checker.join();

  EXPECT_EQ(settlementRows(), kTotal) << "a trade stored twice or not at all";
  EXPECT_EQ(storedTradeIds().size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(violations.load(), 0) << first_violation;
  EXPECT_GT(a.metrics().messages.value(), 0u);
  std::printf(
      "[consumer group] %d trades; consumed a=%llu b=%llu c=%llu; %d commit samples, "
      "%llu revoked-mid-batch partitions left uncommitted\n",
      kTotal, static_cast<unsigned long long>(a.metrics().messages.value()),
      static_cast<unsigned long long>(b.metrics().messages.value()),
      static_cast<unsigned long long>(c.metrics().messages.value()), samples.load(),
      static_cast<unsigned long long>(a.metrics().revoked_uncommitted.value() +
                                      b.metrics().revoked_uncommitted.value() +
                                      c.metrics().revoked_uncommitted.value()));
}

}  // namespace
}  // namespace sc::test

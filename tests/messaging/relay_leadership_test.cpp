// Outbox relay leadership against the real PostgreSQL and Kafka (DESIGN §8): two relays on one
// database, each with its own pool and advisory-lock connection, as two instances would have.
// Only the lock holder produces; when its session is terminated (pg_terminate_backend) or it stops,
// the standby takes over within a bound; nothing is lost and, per settlement, the first copy of
// every event in Kafka follows the first copy of its predecessor (DESIGN §6).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "e2e/kafka_test_client.h"
#include "messaging/outbox_relay.h"
#include "pg_kafka_test.h"
#include "store/advisory_lock.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

const std::vector<Status> kPath = {
    Status::kPending,         Status::kInitiated, Status::kSellerSecuritiesLocked,
    Status::kBuyerCashLocked, Status::kExecuting, Status::kConfirmed,
    Status::kSettled};

class RelayLeadership : public PgKafkaTest {
 protected:
  void SetUp() override {
    PgKafkaTest::SetUp();
    if (HasFatalFailure()) return;
    topic_ = "settlement.events.lead." + db_.name();
    std::string err;
    ASSERT_TRUE(sc::test::createTopics(bootstrap_, {topic_}, 3, err)) << err;
  }
  void TearDown() override {
    for (auto& r : relays_) r->stop();
    relays_.clear();
    others_.clear();
    StoreTest::TearDown();
  }

  // A relay with its own database handle and its own lock connection.
  messaging::OutboxRelay& addRelay() {
    auto d = Database::open(db_.conninfo(), 2);
    EXPECT_TRUE(d.ok()) << d.error().message;
    others_.push_back(std::move(d).value());
    messaging::KafkaOptions o;
    o.bootstrap_servers = bootstrap_;
    o.settlement_topic = topic_;
    o.relay_batch = 50;  // several batches, so a takeover can fall between and inside them
    auto r = std::make_unique<messaging::OutboxRelay>(o, others_.back()->outbox(), clock_);
    r->electWith(std::make_unique<SessionAdvisoryLock>(db_.conninfo(), kOutboxRelayLockKey));
    r->start();
    relays_.push_back(std::move(r));
    return *relays_.back();
  }

  // Backend pid holding the relay lock in this database (0: none).
  int lockHolderPid() {
    auto c = pg::Connection::connect(db_.conninfo());
    if (!c) return 0;
    auto r = (*c)->exec(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND objid = oid($1::bigint & 4294967295)",
        {std::to_string(kOutboxRelayLockKey)});
    if (!r || r->size() != 1) return 0;
    return std::stoi(std::string(r->text(0, 0)));
  }
  void terminate(int pid) {
    auto c = pg::Connection::connect(db_.conninfo());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->exec("SELECT pg_terminate_backend($1::int)", {std::to_string(pid)}).ok());
  }

  // Intakes `n` trades and walks each along kPath, one write per step.
  void settle(int first, int n) {
    std::vector<Trade> trades;
    for (int i = first; i < first + n; ++i) trades.push_back(trade("trd_" + std::to_string(i)));
    auto created = repo().intake(trades, kT0, kDeadline);
    ASSERT_TRUE(created.ok()) << created.error().message;
    std::vector<Settlement> cur;
    for (auto& o : *created) cur.push_back(o.settlement);
    for (size_t step = 1; step < kPath.size(); ++step) {
      for (auto& s : cur) {
        Settlement next = s;
        next.status = kPath[step];
        store::StateWrite w{next, s.status, "{}"};
        auto r = repo().write(std::span<const store::StateWrite>(&w, 1));
        ASSERT_TRUE(r.ok() && (*r)[0]) << (r.ok() ? "guard missed" : r.error().message);
        s = next;
      }
    }
  }

  int64_t count(const std::string& sql) {
    auto c = pg::Connection::connect(db_.conninfo());
    if (!c) return -1;
    auto r = (*c)->exec(sql);
    return r && r->size() == 1 ? std::stoll(std::string(r->text(0, 0))) : -1;
  }

  // Every audit event is in Kafka, and per settlement the first sightings of its event_ids are
  // in audit order. Returns the number of duplicate copies seen.
  size_t checkTopic() {
    const int64_t total = count("SELECT count(*) FROM settlement_events");
    sc::test::TopicReader reader(bootstrap_, topic_);
    std::map<std::string, std::vector<std::string>> first;  // settlement id → event ids
    std::set<std::string> seen;
    size_t dups = 0;
    EXPECT_TRUE(reader.readUntil(
        [&](const std::vector<sc::test::KafkaRecord>& m) {
          return static_cast<int64_t>(m.size()) >= total;
        },
        60s))
        << reader.error();
    reader.drainFor(1s);
    std::sort(const_cast<std::vector<sc::test::KafkaRecord>&>(reader.messages()).begin(),
              const_cast<std::vector<sc::test::KafkaRecord>&>(reader.messages()).end(),
              [](const auto& a, const auto& b) {
                return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
              });
    for (const auto& m : reader.messages()) {
      auto j = nlohmann::json::parse(m.value);
      std::string id = j["event_id"];
      EXPECT_EQ(m.key, std::string(j["settlement_id"])) << "key is the settlement id";
      if (!seen.insert(id).second) {
        ++dups;
        continue;
      }
      first[j["settlement_id"]].push_back(id);
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), total) << "events missing from Kafka";
    int64_t checked = 0;
    for (auto& [sid, ids] : first) {
      auto uuid = Uuid::parsePrefixed(sid, kSettlementPrefix);
      EXPECT_TRUE(uuid.has_value()) << sid;
      if (!uuid) continue;
      auto events = repo().events(*uuid);
      EXPECT_TRUE(events.ok());
      if (!events.ok()) continue;
      std::vector<std::string> want;
      for (auto& e : *events) want.push_back(e.id.prefixed(kEventPrefix));
      EXPECT_EQ(ids, want) << "events of " << sid << " out of order or missing";
      checked += static_cast<int64_t>(want.size());
    }
    EXPECT_EQ(checked, total);
    return dups;
  }

  std::string topic_;
  SystemClock clock_;
  std::vector<std::unique_ptr<Database>> others_;
  std::vector<std::unique_ptr<messaging::OutboxRelay>> relays_;
};

TEST_F(RelayLeadership, OnlyTheLockHolderProduces) {
  messaging::OutboxRelay& a = addRelay();
  ASSERT_TRUE(waitFor([&] { return a.leader(); }, 10s));
  messaging::OutboxRelay& b = addRelay();
  settle(0, 20);
  ASSERT_TRUE(waitFor([&] { return count("SELECT count(*) FROM settlement_outbox") == 0; }, 30s));
  EXPECT_TRUE(a.leader());
  EXPECT_FALSE(b.leader());
  EXPECT_EQ(b.role(), "standby");
  EXPECT_EQ(a.metrics().published.value(), 20u * kPath.size());
  EXPECT_EQ(b.metrics().published.value(), 0u) << "a standby produced";
  EXPECT_EQ(b.metrics().batches.value(), 0u);
  EXPECT_EQ(checkTopic(), 0u);
}

TEST_F(RelayLeadership, StandbyTakesOverLostOrStoppedLeaderWithoutLossOrReordering) {
  messaging::OutboxRelay& a = addRelay();
  ASSERT_TRUE(waitFor([&] { return a.leader(); }, 10s));
  messaging::OutboxRelay& b = addRelay();
  std::atomic<bool> stop{false};
  std::atomic<int> produced{0};
  std::thread writer([&] {
    for (int i = 0; !stop; i += 10) {
      settle(i, 10);
      produced += 10;
      if (::testing::Test::HasFatalFailure()) return;
    }
  });
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } joiner{stop, writer};
  auto leaderAndStandby = [&]() -> std::pair<messaging::OutboxRelay*, messaging::OutboxRelay*> {
    if (a.leader() && !b.leader()) return {&a, &b};
    if (b.leader() && !a.leader()) return {&b, &a};
    return {nullptr, nullptr};
  };
  int takeovers = 0;
  // Twice: terminate the leader's lock session while events flow; the standby must lead within
  // a bound (the old leader leaves the free lock to it for a retry period) and the old leader
  // must stand by.
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(waitFor([&] { return produced >= 30 * (round + 1); }, 30s));
    auto [leader, standby] = leaderAndStandby();
    ASSERT_NE(leader, nullptr);
    const uint64_t before = standby->metrics().published.value();
    int pid = lockHolderPid();
    ASSERT_NE(pid, 0);
    auto t0 = Steady::now();
    terminate(pid);
    ASSERT_TRUE(waitFor([&] { return standby->leader(); }, 5s)) << "no takeover within 5 s";
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t0);
    EXPECT_TRUE(waitFor([&] { return !leader->leader(); }, 3s)) << "the old leader still leads";
    EXPECT_LT(took, 5s);
    ++takeovers;
    EXPECT_TRUE(waitFor([&] { return standby->metrics().published.value() > before; }, 30s))
        << "the new leader does not relay";
    std::printf("[takeover %d] after pg_terminate_backend in %lld ms\n", takeovers,
                static_cast<long long>(took.count()));
  }
  // Then the leader stops (graceful shutdown releases the lock).
  ASSERT_TRUE(waitFor([&] { return produced >= 90; }, 30s));
  auto [leader, standby] = leaderAndStandby();
  ASSERT_NE(leader, nullptr);
  auto t0 = Steady::now();
  leader->stop();
  ASSERT_TRUE(waitFor([&] { return standby->leader(); }, 5s)) << "no takeover after stop()";
  std::printf(
      "[takeover] after stop() in %lld ms\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - t0).count()));
  ASSERT_TRUE(waitFor([&] { return produced >= 120; }, 30s));
  stop = true;
  writer.join();
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_TRUE(standby->leader());
  ASSERT_TRUE(waitFor([&] { return count("SELECT count(*) FROM settlement_outbox") == 0; }, 60s))
      << "the outbox was not drained by the remaining leader";
  size_t dups = checkTopic();
  std::printf(
      "[relay leadership] %d settlements, %lld events, %d takeovers + 1 stop, %zu "
      "duplicates (same event_id)\n",
      produced.load(), static_cast<long long>(count("SELECT count(*) FROM settlement_events")),
      takeovers, dups);
}

TEST_F(RelayLeadership, LockIsExclusivePerDatabaseAndFreedWithTheSession) {
  SessionAdvisoryLock x(db_.conninfo(), kOutboxRelayLockKey),
      y(db_.conninfo(), kOutboxRelayLockKey);
  ASSERT_TRUE(*x.tryAcquire());
  EXPECT_TRUE(*x.confirm());
  EXPECT_FALSE(*y.tryAcquire()) << "two holders";
  int pid = lockHolderPid();
  ASSERT_NE(pid, 0);
  terminate(pid);
  auto c = x.confirm();
  EXPECT_FALSE(c.ok() && *c) << "leadership survived its session";
  EXPECT_FALSE(x.held());
  // The terminated backend frees its locks as it exits, a moment after the call returned.
  EXPECT_TRUE(waitFor(
      [&] {
        auto r = y.tryAcquire();
        return r.ok() && *r;
      },
      5s));
  EXPECT_FALSE(*x.tryAcquire());
  y.release();
  EXPECT_TRUE(*x.tryAcquire());
}

}  // namespace
}  // namespace sc::test

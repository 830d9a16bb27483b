// The reconciler's PostgreSQL ↔ settlement.events comparison against the real PostgreSQL and the
// real Kafka broker (labels pg, kafka): the real outbox relay publishes, the reconciler reads the
// topic with its own consumer group. An outbox row deleted before it is relayed, a forged event
// and a reordered event are each exactly their finding; a clean run reports none. Waits are for
// observable conditions, bounded; nothing sleeps for correctness.
#include <nlohmann/json.hpp>

#include "e2e/kafka_test_client.h"
#include "messaging/event_payload.h"
#include "messaging/outbox_relay.h"
#include "reconciler_fixture.h"
#include "reconciliation/kafka_event_tap.h"
#include "support/wait_for.h"

namespace sc::test {
namespace {

using Json = nlohmann::json;
using Kinds = std::vector<std::string>;

class ReconcilerKafkaTest : public ReconcilerPgTest {
 protected:
  void SetUp() override {
    bootstrap_ = kafkaBootstrapFromEnv();
    ASSERT_FALSE(bootstrap_.empty())
        << "KAFKA_BOOTSTRAP_SERVERS is not set: this test needs a Kafka broker (./scripts/test, "
           "or export the output of `./scripts/kafka start`).";
    ReconcilerPgTest::SetUp();
    if (HasFatalFailure()) return;
    static std::atomic<int> n{0};
    topic_ = "rec_events_" + std::to_string(getpid()) + "_" + std::to_string(n++) + "_" +
             std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 100000);
    std::string err;
    ASSERT_TRUE(createTopics(bootstrap_, {topic_}, 3, err)) << err;
    kopt_.bootstrap_servers = bootstrap_;
    kopt_.settlement_topic = topic_;
    reconciler_ = makeReconciler([this]() -> Result<std::unique_ptr<reconciliation::EventTap>> {
      auto t = reconciliation::KafkaEventTap::open(kopt_, "reconciler-" + topic_,
                                                   std::chrono::seconds(10));
      if (!t) return t.error();
      return std::unique_ptr<reconciliation::EventTap>(std::move(*t));
    });
    // The first pass opens the reader at the topic's end.
    auto first = reconciler_->runPass();
    ASSERT_TRUE(first.ok()) << first.error().message;
  }
  void TearDown() override {
    if (relay_) relay_->stop();
    relay_.reset();
    ReconcilerPgTest::TearDown();
  }

  // Starts the relay and waits until it has delivered the whole outbox.
  void relayAll() {
    if (!relay_) {
      relay_ = std::make_unique<messaging::OutboxRelay>(kopt_, db_->outbox(), clock_);
      relay_->start();
    }
    relay_->wake();
    ASSERT_TRUE(waitFor(
        [&] {
          auto b = db_->outbox().backlog();
          return b.ok() && *b == 0;
        },
        std::chrono::seconds(60)))
        << "the relay did not deliver the outbox";
  }
  // Passes until a finding is open or the watermark reached the last audit row with nothing
  // open (bounded).
  void reconcileUntilSettled() {
    ASSERT_TRUE(waitFor(
        [&] {
          auto r = reconciler_->runPass();
          EXPECT_TRUE(r.ok()) << r.error().message;
          return !r.ok() || (r->watermark == maxPosition() && r->blocked.empty());
        },
        std::chrono::seconds(60)));
  }
  SettlementEvent auditRow(const Uuid& settlement, Status status) {
    auto rows = repo_->eventsAfter(0, maxPosition(), 100000);
    EXPECT_TRUE(rows.ok());
    for (const auto& e : *rows)
      if (e.settlement_id == settlement && e.status == status) return e;
    ADD_FAILURE() << "no " << toString(status) << " event";
    return {};
  }
  void produce(const std::string& key, const std::string& value) {
    std::string err;
    ASSERT_TRUE(produceAll(bootstrap_, topic_, {KafkaRecord{key, value, {}, -1, -1}}, err)) << err;
  }

  std::string bootstrap_, topic_;
  messaging::KafkaOptions kopt_;
  std::unique_ptr<messaging::OutboxRelay> relay_;
};

TEST_F(ReconcilerKafkaTest, CleanRunWithEveryEventPublishedReportsNoDrift) {
  submitMany(200);
  work();
  relayAll();
  reconcileUntilSettled();
  EXPECT_EQ(kindsOf(findings()), Kinds{});
  auto st = reconciler_->status({});
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->events_checked);
  EXPECT_EQ(st->state.checked_settlements, 200);
}

TEST_F(ReconcilerKafkaTest, OutboxRowDeletedBeforeItIsRelayedIsEventMissing) {
  auto settlements = submitMany(3);
  work();
  SettlementEvent lost = auditRow(settlements[1].id, Status::kSellerSecuritiesLocked);
  sql("DELETE FROM settlement_outbox WHERE position = " + std::to_string(lost.position));
  relayAll();
  reconcileUntilSettled();
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"event_missing"});
  EXPECT_EQ(fs[0].settlement_id, settlements[1].id);
  auto ev = Json::parse(fs[0].evidence);
  EXPECT_EQ(ev["event_id"], lost.id.prefixed(kEventPrefix));
  EXPECT_EQ(ev["event_type"], "settlement_seller_securities_locked");
  EXPECT_EQ(ev["position"], lost.position);
  EXPECT_EQ(ev["topic_read_to_end"], true);

  // Published late after all (by hand, as the relay would have): the finding resolves.
  produce(messaging::eventKey(lost), messaging::buildEventPayload(lost));
  ASSERT_TRUE(waitFor(
      [&] {
        EXPECT_TRUE(reconciler_->runPass().ok());
        auto now = findings();
        return !now.empty() && now[0].status == "resolved";
      },
      std::chrono::seconds(30)));
}

TEST_F(ReconcilerKafkaTest, ForgedEventIsEventForged) {
  auto settlements = submitMany(2);
  work();
  relayAll();
  reconcileUntilSettled();
  ASSERT_EQ(kindsOf(findings()), Kinds{});
  // A "settled" event nobody wrote, for a real settlement.
  SettlementEvent fake = auditRow(settlements[0].id, Status::kSettled);
  fake.id = Uuid::generateV7();
  produce(messaging::eventKey(fake), messaging::buildEventPayload(fake));
  ASSERT_TRUE(waitFor(
      [&] {
        EXPECT_TRUE(reconciler_->runPass().ok());
        return !findings().empty();
      },
      std::chrono::seconds(30)));
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"event_forged"});
  EXPECT_EQ(fs[0].settlement_id, settlements[0].id);
  EXPECT_EQ(Json::parse(fs[0].evidence)["event_id"], fake.id.prefixed(kEventPrefix));
}

TEST_F(ReconcilerKafkaTest, AlteredCopyOfARealEventIsEventForged) {
  auto settlements = submitMany(1);
  work();
  relayAll();
  reconcileUntilSettled();
  SettlementEvent real = auditRow(settlements[0].id, Status::kConfirmed);
  auto payload = Json::parse(messaging::buildEventPayload(real));
  payload["dvp_atomic_transaction_id"] = "1220forged";
  produce(messaging::eventKey(real), payload.dump());
  ASSERT_TRUE(waitFor(
      [&] {
        EXPECT_TRUE(reconciler_->runPass().ok());
        return !findings().empty();
      },
      std::chrono::seconds(30)));
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"event_forged"});
  auto ev = Json::parse(fs[0].evidence);
  EXPECT_EQ(ev["fields"]["dvp_atomic_transaction_id"]["topic"], "1220forged");
}

TEST_F(ReconcilerKafkaTest, EventPublishedAfterALaterOneIsEventOutOfOrder) {
  auto settlements = submitMany(2);
  work();
  SettlementEvent held = auditRow(settlements[0].id, Status::kInitiated);
  sql("DELETE FROM settlement_outbox WHERE position = " + std::to_string(held.position));
  relayAll();
  // Only now, after its settlement's later events: the same event the relay would have sent.
  produce(messaging::eventKey(held), messaging::buildEventPayload(held));
  reconcileUntilSettled();
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"event_out_of_order"});
  EXPECT_EQ(fs[0].settlement_id, settlements[0].id);
  auto ev = Json::parse(fs[0].evidence);
  EXPECT_EQ(ev["event_id"], held.id.prefixed(kEventPrefix));
  EXPECT_GT(ev["seen_after_position"].get<int64_t>(), held.position);
}

}  // namespace
}  // namespace sc::test

// What GET /overview's rates and latency are made of: Intake counts the settlements it creates
// (not duplicates or rejections) and Workflow the committed transitions to CONFIRMED, with the
// latency from acceptance, and to SETTLED — on both stores, with the real ledger, on a fake clock.
#include <gtest/gtest.h>

#include "support/trade_json.h"
#include "workflow/intake.h"
#include "workflow/throughput.h"
#include "workflow_fixture.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

class ThroughputFeed : public WorkflowTest {};

TEST_F(ThroughputFeed, IntakeCountsOnlyTheSettlementsItCreates) {
  workflow::Throughput t;
  workflow::Intake intake(repo(), clock_, TradeRules{}, 300s);
  intake.setThroughput(&t);
  TradeEvent e;
  e.trade_id = "trd_feed_1";
  e.buyer = "acc_buyer";
  e.seller = "acc_seller";
  const std::string first = e.text();
  e.trade_id = "trd_feed_2";
  const std::string second = e.text();
  e.buyer = "acc_seller";  // a self-trade: rejected
  e.trade_id = "trd_feed_3";
  const std::string rejected = e.text();
  std::vector<std::string_view> batch = {first, second, first, rejected};
  auto d = intake.submit(batch);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ((*d)[2].kind, store::IntakeKind::kDuplicate);
  EXPECT_EQ((*d)[3].kind, store::IntakeKind::kRejected);
  auto w = t.window(clock_.now() + 1s, 60s);
  EXPECT_EQ(w.accepted, 2);
  EXPECT_EQ(w.confirmed, 0);
}

TEST_F(ThroughputFeed, WorkflowCountsConfirmationsWithTheirLatencyAndSettlements) {
  workflow::Throughput t;
  wf().setThroughput(&t);
  creditTheStandardTrade();
  Settlement s = submit("trd_feed_latency", "50", "7524.00");
  clock_.advance(250ms);  // accepted at kT0, confirmed a quarter of a second later
  EXPECT_EQ(drain(), 1);
  ASSERT_EQ(load(s).status, Status::kSettled);
  auto w = t.window(clock_.now() + 1s, 60s);
  EXPECT_EQ(w.confirmed, 1);
  EXPECT_EQ(w.settled, 1);
  ASSERT_TRUE(w.p50.has_value());
  EXPECT_EQ(*w.max, 250ms);
  EXPECT_GE(*w.p50, 250ms);
  EXPECT_LE(*w.p50, 250ms * 1.125);
}

TEST_F(ThroughputFeed, AFailureIsNeitherAConfirmationNorASettlement) {
  workflow::Throughput t;
  wf().setThroughput(&t);
  Settlement s = submit("trd_feed_unfunded", "50", "7524.00");  // nobody holds anything
  driveToRest(s);
  ASSERT_EQ(load(s).status, Status::kFailed);
  auto w = t.window(clock_.now() + 1s, 300s);
  EXPECT_EQ(w.confirmed, 0);
  EXPECT_EQ(w.settled, 0);
}

}  // namespace
}  // namespace sc::test

// intake(): created / duplicate / conflict / unknown and inactive accounts / repeats in a batch.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

class Intake : public StoreTest {
 protected:
  std::vector<store::IntakeOutcome> run(std::vector<Trade> trades, Timestamp now = kT0) {
    auto r = repo().intake(trades, now, kDeadline);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? std::move(r).value() : std::vector<store::IntakeOutcome>{};
  }
};

TEST_F(Intake, NewTradeBecomesPendingSettlementWithOneAuditEvent) {
  auto out = run({trade("trd_1")});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].kind, store::IntakeKind::kCreated);
  const Settlement& s = out[0].settlement;
  EXPECT_EQ(s.status, Status::kPending);
  EXPECT_EQ(s.created_at, kT0);
  EXPECT_EQ(s.next_attempt_at, kT0);
  EXPECT_EQ(s.deadline_at, kT0 + kDeadline);

  auto found = repo().find(s.id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_TRUE((*found)->trade.sameContent(trade("trd_1")));
  EXPECT_EQ((*found)->trade.event_id, "evt_trd_1");
  EXPECT_EQ((*found)->created_at, kT0);
  EXPECT_EQ((*found)->deadline_at, kT0 + kDeadline);

  auto events = repo().events(s.id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].status, Status::kPending);
  EXPECT_EQ((*events)[0].created_at, kT0);
  EXPECT_NE((*events)[0].details.find("\"trd_1\""), std::string::npos) << (*events)[0].details;
}

TEST_F(Intake, ResubmissionWithSameContentIsADuplicateOfTheExistingSettlement) {
  auto first = run({trade("trd_1")});
  Trade again = trade("trd_1");
  again.event_id = "evt_other";  // a new event for the same trade: still the same content
  auto second = run({again}, at(5));
  ASSERT_EQ(second[0].kind, store::IntakeKind::kDuplicate);
  EXPECT_EQ(second[0].settlement.id, first[0].settlement.id);
  EXPECT_EQ(second[0].settlement.created_at, kT0);
  EXPECT_FALSE(second[0].rejection.has_value());
  EXPECT_EQ(repo().events(first[0].settlement.id)->size(), 1u);
}

TEST_F(Intake, SameTradeIdWithDifferentContentIsATradeConflict) {
  auto first = run({trade("trd_1")});
  Trade changed = trade("trd_1", "acc_buyer", "acc_seller", 7);
  auto second = run({changed});
  ASSERT_EQ(second[0].kind, store::IntakeKind::kRejected);
  ASSERT_TRUE(second[0].rejection.has_value());
  EXPECT_EQ(second[0].rejection->code, reason::kTradeConflict);
  EXPECT_FALSE(second[0].rejection->retryable);
  EXPECT_EQ(second[0].settlement.id, first[0].settlement.id);
  EXPECT_TRUE(second[0].settlement.trade.sameContent(trade("trd_1")));
}

TEST_F(Intake, UnknownBuyerAccountIsRejectedNamingItAndNothingIsStored) {
  auto out = run({trade("trd_1", "acc_ghost", "acc_seller")});
  ASSERT_EQ(out[0].kind, store::IntakeKind::kRejected);
  EXPECT_EQ(out[0].rejection->code, reason::kUnknownAccount);
  EXPECT_EQ(out[0].rejection->field, "buyer_account_id");
  EXPECT_NE(out[0].rejection->message.find("acc_ghost"), std::string::npos);
  auto found = repo().findByTradeId("trd_1");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST_F(Intake, InactiveSellerAccountIsRejected) {
  addAccount("acc_dormant", false);
  auto out = run({trade("trd_1", "acc_buyer", "acc_dormant")});
  ASSERT_EQ(out[0].kind, store::IntakeKind::kRejected);
  EXPECT_EQ(out[0].rejection->code, reason::kInactiveAccount);
  EXPECT_EQ(out[0].rejection->field, "seller_account_id");
  EXPECT_NE(out[0].rejection->message.find("acc_dormant"), std::string::npos);
  // Reactivated, the same trade goes through.
  ASSERT_TRUE(database_->accounts().setStatus("acc_dormant", AccountStatus::kActive).ok());
  EXPECT_EQ(run({trade("trd_1", "acc_buyer", "acc_dormant")})[0].kind, store::IntakeKind::kCreated);
}

TEST_F(Intake, SameTradeTwiceInOneBatchIsCreatedOnceThenDuplicateOrConflict) {
  Trade t = trade("trd_1");
  Trade conflicting = trade("trd_1", "acc_buyer", "acc_seller", 9);
  auto out = run({t, trade("trd_2"), t, conflicting});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].kind, store::IntakeKind::kCreated);
  EXPECT_EQ(out[1].kind, store::IntakeKind::kCreated);
  EXPECT_EQ(out[2].kind, store::IntakeKind::kDuplicate);
  EXPECT_EQ(out[2].settlement.id, out[0].settlement.id);
  ASSERT_EQ(out[3].kind, store::IntakeKind::kRejected);
  EXPECT_EQ(out[3].rejection->code, reason::kTradeConflict);
  EXPECT_EQ(out[3].settlement.id, out[0].settlement.id);
  auto counts = repo().countByStatus();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ((*counts)[0], (std::pair{Status::kPending, int64_t{2}}));
}

TEST_F(Intake, MixedBatchAnswersInInputOrder) {
  run({trade("trd_old")});
  auto out = run({trade("trd_new"), trade("trd_x", "acc_nobody"), trade("trd_old"),
                  trade("trd_old", "acc_buyer", "acc_seller", 3)});
  EXPECT_EQ(out[0].kind, store::IntakeKind::kCreated);
  EXPECT_EQ(out[1].rejection->code, reason::kUnknownAccount);
  EXPECT_EQ(out[2].kind, store::IntakeKind::kDuplicate);
  EXPECT_EQ(out[3].rejection->code, reason::kTradeConflict);
  EXPECT_EQ(out[0].settlement.trade.trade_id, "trd_new");
}

TEST_F(Intake, ConcurrentIntakesOfTheSameTradesCreateEachOnce) {
  std::vector<Trade> batch;
  for (int i = 0; i < 200; ++i) batch.push_back(trade("trd_" + std::to_string(i)));
  std::vector<std::thread> threads;
  std::atomic<int> created{0}, duplicates{0}, errors{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      auto r = repo().intake(batch, kT0, kDeadline);
      if (!r.ok()) {
        errors++;
        return;
      }
      for (auto& o : *r) (o.kind == store::IntakeKind::kCreated ? created : duplicates)++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(created, 200);
  EXPECT_EQ(duplicates, 600);
}

TEST_F(Intake, ThousandTradesInOneCall) {
  std::vector<Trade> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back(trade("trd_" + std::to_string(i)));
  auto start = std::chrono::steady_clock::now();
  auto out = run(batch);
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  ASSERT_EQ(out.size(), 1000u);
  for (auto& o : out) ASSERT_EQ(o.kind, store::IntakeKind::kCreated);
  std::printf("[timing] intake of 1000 trades in one call: %.1f ms\n", ms.count());
  start = std::chrono::steady_clock::now();
  out = run(batch);
  ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  for (auto& o : out) ASSERT_EQ(o.kind, store::IntakeKind::kDuplicate);
  std::printf("[timing] intake of 1000 duplicates in one call: %.1f ms\n", ms.count());
}

}  // namespace
}  // namespace sc::test

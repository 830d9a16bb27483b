// Concurrent submit() from several threads: every settlement applies exactly once, assets are
// conserved, group commit keeps fsyncs at or below the number of submits, and a reopen agrees.
#include <gtest/gtest.h>

#include <thread>

#include "ledger/engine/embedded_ledger.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

TEST(LedgerConcurrency, ParallelSettlementsApplyOnceAndConserveAssets) {
  TempDir dir;
  auto ledger = openLedger(dir.path());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  std::vector<std::string> buyers, sellers;
  for (int t = 0; t < kThreads; ++t) {
    buyers.push_back(ledger->allocateParty("b" + std::to_string(t)).value());
    sellers.push_back(ledger->allocateParty("s" + std::to_string(t)).value());
    ASSERT_TRUE(ledger->credit(sellers[t], "AAPL", D("1000"), "securities"));
    ASSERT_TRUE(ledger->credit(buyers[t], "USDC", D("100000"), "cash"));
  }
  const uint64_t fsyncs_before = ledger->stats().fsyncs;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string p = "t" + std::to_string(t) + "_" + std::to_string(i);
        auto d = ledger->submitOne(p + ":create", dvpCommand(buyers[t], sellers[t], "1", "10"));
        if (!d) {
          ++failures;
          continue;
        }
        std::vector<Submission> batch{{p + ":ls", LockSecurities{d->contract_id, D("1"), false}},
                                      {p + ":lc", LockCash{d->contract_id, D("10")}},
                                      {p + ":ra", ReassignLocks{d->contract_id}},
                                      {p + ":st", Settle{d->contract_id}},
                                      {p + ":st", Settle{d->contract_id}}};  // duplicate
        auto rs = ledger->submit(batch);
        for (auto& r : rs) failures += !r;
        if (rs.back()) failures += !rs.back()->deduplicated;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const uint64_t submits = kThreads * kPerThread * 2;
  EXPECT_LE(ledger->stats().fsyncs - fsyncs_before, submits);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(freeOf(*ledger, buyers[t], "AAPL"), Decimal::fromInteger(kPerThread).value());
    EXPECT_EQ(freeOf(*ledger, sellers[t], "USDC"), Decimal::fromInteger(10 * kPerThread).value());
  }
  EXPECT_EQ(total(*ledger, "AAPL"), Decimal::fromInteger(1000 * kThreads).value());
  EXPECT_EQ(total(*ledger, "USDC"), Decimal::fromInteger(100000 * kThreads).value());
  EXPECT_EQ(locked(*ledger, "AAPL"), D("0"));
  ASSERT_TRUE(ledger->verifyIntegrity());
  auto before = snapshot(*ledger);
  ledger.reset();
  auto reopened = openLedger(dir.path());
  EXPECT_EQ(snapshot(*reopened), before);
}

TEST(LedgerConcurrency, ContendedLocksOnOneHoldingNeverOverlap) {
  auto ledger = std::move(EmbeddedLedger::open(options(""))).value();
  auto buyer = ledger->allocateParty("buyer").value();
  auto seller = ledger->allocateParty("seller").value();
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("100"), "securities"));
  std::vector<std::string> dvps;
  for (int i = 0; i < 40; ++i) {
    dvps.push_back(ledger->submitOne("d" + std::to_string(i), dvpCommand(buyer, seller, "5", "1"))
                       ->contract_id);
  }
  std::atomic<int> locked_ok{0}, insufficient{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 40; i += 4) {
        auto r = ledger->submitOne("l" + std::to_string(i), LockSecurities{dvps[i], D("5"), false});
        if (r)
          ++locked_ok;
        else if (r.error().code == kInsufficientSecurities)
          ++insufficient;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(locked_ok.load(), 20);
  EXPECT_EQ(insufficient.load(), 20);
  EXPECT_EQ(locked(*ledger, "AAPL"), D("100"));
  EXPECT_TRUE(ledger->verifyIntegrity());
}

}  // namespace
}  // namespace sc::test

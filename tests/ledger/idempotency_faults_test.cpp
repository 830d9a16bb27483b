// Command-by-command behaviour of the embedded ledger: duplicate command ids, update ids and
// offsets, injected error rates, options, and settle all-or-nothing at every injected failure.
#include <gtest/gtest.h>

#include "embedded_ledger_fixture.h"
#include "ledger/engine/embedded_ledger.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

TEST_F(EmbeddedLedgerTest, DuplicateCommandIdReturnsTheFirstOutcomeAndChangesNothing) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("100"), "securities"));
  auto dvp = createDvp();
  auto first = ledger->submitOne("set_1:lock_sec:1", LockSecurities{dvp, D("50"), false});
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->deduplicated);
  auto before = snapshot(*ledger);
  auto second = ledger->submitOne("set_1:lock_sec:1", LockSecurities{dvp, D("50"), false});
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->deduplicated);
  EXPECT_EQ(second->update_id, first->update_id);
  EXPECT_EQ(second->offset, first->offset);
  EXPECT_EQ(second->contract_id, first->contract_id);
  EXPECT_EQ(snapshot(*ledger), before);
  auto c = ledger->completion("set_1:lock_sec:1").value();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->contract_id, first->contract_id);
  EXPECT_FALSE(ledger->completion("never-submitted").value());
}

TEST_F(EmbeddedLedgerTest, DuplicatesInsideOneBatchApplyOnce) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("100"), "securities"));
  auto dvp = createDvp();
  std::vector<Submission> batch{{"a", LockSecurities{dvp, D("50"), false}},
                                {"a", LockSecurities{dvp, D("50"), false}},
                                {"b", LockSecurities{dvp, D("50"), false}}};
  auto rs = ledger->submit(batch);
  ASSERT_EQ(rs.size(), 3u);
  ASSERT_TRUE(rs[0]);
  ASSERT_TRUE(rs[1]);
  EXPECT_TRUE(rs[1]->deduplicated);
  ASSERT_FALSE(rs[2]);
  EXPECT_EQ(rs[2].error().code, kInvalidCommand);
  EXPECT_EQ(locked(*ledger, "AAPL"), D("50"));
}

TEST_F(EmbeddedLedgerTest, FailedCommandIdCanBeRetriedAndSucceed) {
  auto dvp = createDvp();
  auto r = ledger->submitOne("set_1:lock_sec:1", LockSecurities{dvp, D("50"), false});
  EXPECT_EQ(r.error().code, kInsufficientSecurities);
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
  r = ledger->submitOne("set_1:lock_sec:1", LockSecurities{dvp, D("50"), false});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->deduplicated);
}

TEST_F(EmbeddedLedgerTest, EveryTransactionHasAFreshUpdateIdAndIncreasingOffset) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("100"), "securities"));
  std::set<std::string> ids;
  int64_t last = ledger->ledgerEnd();
  for (int i = 0; i < 20; ++i) {
    auto r = ledger->submitOne("dvp" + std::to_string(i), dvpCommand(buyer, seller, "1", "1"));
    ASSERT_TRUE(r);
    EXPECT_GT(r->offset, last);
    last = r->offset;
    EXPECT_TRUE(ids.insert(r->update_id).second);
    EXPECT_TRUE(ledger->updateById(r->update_id).value());
  }
  EXPECT_FALSE(ledger->updateById("1220deadbeef").value());
}

TEST_F(EmbeddedLedgerTest, ErrorRateOneFailsEveryCommandAndZeroNone) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("100"), "securities"));
  ledger->setErrorRate("settlement", 1.0, 42);
  for (int i = 0; i < 10; ++i) {
    auto r = ledger->submitOne("e" + std::to_string(i), dvpCommand(buyer, seller, "1", "1"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, kUnavailable);
  }
  ledger->setErrorRate("settlement", 0.0, 42);
  EXPECT_TRUE(ledger->submitOne("e0", dvpCommand(buyer, seller, "1", "1")));
}

TEST_F(EmbeddedLedgerTest, ErrorRateIsReproducibleForASeed) {
  auto run = [&](uint64_t seed) {
    ledger->setErrorRate("settlement", 0.5, seed);
    std::string pattern;
    for (int i = 0; i < 32; ++i) {
      auto r = ledger->submitOne("r" + std::to_string(seed) + "_" + std::to_string(n++),
                                 dvpCommand(buyer, seller, "1", "1"));
      pattern += r ? '1' : '0';
    }
    return pattern;
  };
  auto a = run(9);
  auto b = run(9);
  EXPECT_EQ(a, b);
  EXPECT_NE(a.find('0'), std::string::npos);
  EXPECT_NE(a.find('1'), std::string::npos);
}

TEST_F(EmbeddedLedgerTest, SynchronizersAndPingReportTheConfiguration) {
  EXPECT_EQ(ledger->synchronizers(),
            (std::vector<std::string>{"securities", "cash", "settlement"}));
  EXPECT_EQ(ledger->settlementSynchronizer(), "settlement");
  EXPECT_TRUE(ledger->ping());
  EXPECT_TRUE(ledger->partyExists(ledger->securitiesIssuer()).value());
  EXPECT_TRUE(ledger->partyExists(ledger->cashProvider()).value());
}

TEST(EmbeddedLedgerOptions, RejectsUnknownSettlementSynchronizerAndDuplicates) {
  EmbeddedLedger::Options o;
  o.synchronizers = {"a", "b"};
  o.settlement_synchronizer = "c";
  EXPECT_FALSE(EmbeddedLedger::open(o));
  o.synchronizers = {"a", "a"};
  o.settlement_synchronizer = "";
  EXPECT_FALSE(EmbeddedLedger::open(o));
  o.synchronizers = {};
  EXPECT_FALSE(EmbeddedLedger::open(o));
  o.synchronizers = {"a", "b"};
  auto l = EmbeddedLedger::open(o);  // in-memory
  ASSERT_TRUE(l);
  EXPECT_EQ((*l)->settlementSynchronizer(), "b");
}

// ---- all or nothing ----

TEST(SettleAtomicity, InjectedFailureAtEveryStepLeavesStateUnchanged) {
  for (bool partial : {false, true}) {
    TempDir dir;
    auto ledger = openLedger(dir.path());
    auto buyer = ledger->allocateParty("buyer").value();
    auto seller = ledger->allocateParty("seller").value();
    ASSERT_TRUE(ledger->credit(seller, "AAPL", D("20"), "settlement"));
    ASSERT_TRUE(ledger->credit(seller, "AAPL", D(partial ? "10" : "30"), "settlement"));
    ASSERT_TRUE(ledger->credit(buyer, "USDC", D("10000"), "settlement"));
    auto dvp = ledger->submitOne("dvp", dvpCommand(buyer, seller, "50", "7524"))->contract_id;
    ASSERT_TRUE(ledger->submitOne("ls", LockSecurities{dvp, D("50"), true}));
    ASSERT_TRUE(ledger->submitOne("lc", LockCash{dvp, D("7524")}));

    // Discover the number of steps on a copy of the journal.
    int steps = 0;
    {
      TempDir copy;
      std::filesystem::copy(dir.path(), copy.path(),
                            std::filesystem::copy_options::recursive |
                                std::filesystem::copy_options::overwrite_existing);
      auto probe = openLedger(copy.path());
      ASSERT_TRUE(probe->submitOne("settle", Settle{dvp}));
      steps = probe->lastSettleSteps();
    }
    ASSERT_GE(steps, partial ? 7 : 6);
    auto before = snapshot(*ledger);
    for (int step = 0; step < steps; ++step) {
      ledger->failNextSettleAt(step);
      auto r = ledger->submitOne("settle", Settle{dvp});
      ASSERT_FALSE(r) << "step " << step;
      EXPECT_EQ(r.error().code, kUnavailable);
      EXPECT_TRUE(r.error().retryable);
      EXPECT_EQ(snapshot(*ledger), before) << "step " << step;
      EXPECT_FALSE(ledger->completion("settle").value());
      EXPECT_TRUE(ledger->dvp(dvp).value()->active);
      ASSERT_TRUE(ledger->verifyIntegrity());
    }
    // Nothing of the aborted attempts reached the journal either.
    ledger.reset();
    ledger = openLedger(dir.path());
    EXPECT_EQ(snapshot(*ledger), before);
    auto r = ledger->submitOne("settle", Settle{dvp});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->remainder_dvp_contract_id.empty(), !partial);
    EXPECT_EQ(total(*ledger, "AAPL"), D(partial ? "30" : "50"));
    EXPECT_EQ(total(*ledger, "USDC"), D("10000"));
  }
}

}  // namespace
}  // namespace sc::test

// Command-by-command behaviour of the embedded ledger, happy paths and every error: settle (full
// and partial), release and archive.
#include <gtest/gtest.h>

#include "embedded_ledger_fixture.h"
#include "ledger/engine/embedded_ledger.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

class SettledFixture : public EmbeddedLedgerTest {
 protected:
  void prepare(const char* seller_has, bool partial, const char* cash_lock = "7524") {
    ASSERT_TRUE(ledger->credit(seller, "AAPL", D(seller_has), "securities"));
    ASSERT_TRUE(ledger->credit(buyer, "USDC", D("10000"), "cash"));
    dvp = createDvp("50", "7524");
    ASSERT_TRUE(lockSec(dvp, "50", partial));
    ASSERT_TRUE(lockCash(dvp, cash_lock));
    ASSERT_TRUE(cmd(ReassignLocks{dvp}));
  }
  std::string dvp;
};

TEST_F(SettledFixture, SettleDeliversSecuritiesAndCashAtomically) {
  prepare("50", false);
  auto r = ledger->submitOne("set_1:settle:1", Settle{dvp});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->quantity, D("50"));
  EXPECT_EQ(r->amount, D("7524"));
  EXPECT_TRUE(r->remainder_dvp_contract_id.empty());
  EXPECT_FALSE(r->buyer_securities_contract_id.empty());
  EXPECT_FALSE(r->seller_cash_contract_id.empty());
  EXPECT_EQ(freeOf(*ledger, buyer, "AAPL"), D("50"));
  EXPECT_EQ(freeOf(*ledger, seller, "USDC"), D("7524"));
  EXPECT_EQ(freeOf(*ledger, seller, "AAPL"), D("0"));
  EXPECT_EQ(freeOf(*ledger, buyer, "USDC"), D("2476"));
  EXPECT_EQ(locked(*ledger, "AAPL"), D("0"));
  EXPECT_EQ(locked(*ledger, "USDC"), D("0"));
  EXPECT_EQ(total(*ledger, "AAPL"), D("50"));
  EXPECT_EQ(total(*ledger, "USDC"), D("10000"));
  EXPECT_FALSE(ledger->dvp(dvp).value()->active);
  EXPECT_TRUE(ledger->updateById(r->update_id).value());
  EXPECT_TRUE(ledger->verifyIntegrity());
  // Settling an archived DvP again with a new command id fails permanently.
  EXPECT_EQ(ledger->submitOne("set_1:settle:2", Settle{dvp}).error().code, kContractNotActive);
}

TEST_F(SettledFixture, PartialSettleCreatesARemainderDvpWithProRataCash) {
  prepare("20", true);
  auto r = ledger->submitOne("set_1:settle:1", Settle{dvp});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->quantity, D("20"));
  EXPECT_EQ(r->amount, D("3009.6"));  // 7524 * 20 / 50
  ASSERT_FALSE(r->remainder_dvp_contract_id.empty());
  auto rem = ledger->dvp(r->remainder_dvp_contract_id).value();
  ASSERT_TRUE(rem);
  EXPECT_TRUE(rem->active);
  EXPECT_EQ(rem->quantity, D("30"));
  EXPECT_EQ(rem->amount, D("4514.4"));
  // Over-locked cash goes back to the buyer.
  EXPECT_EQ(freeOf(*ledger, buyer, "USDC"), D("6990.4"));
  EXPECT_EQ(freeOf(*ledger, seller, "USDC"), D("3009.6"));
  EXPECT_EQ(freeOf(*ledger, buyer, "AAPL"), D("20"));
  EXPECT_EQ(locked(*ledger, "USDC"), D("0"));

  // The remainder settles once the seller has the rest; amounts add up to the trade exactly.
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("30"), "settlement"));
  ASSERT_TRUE(lockSec(rem->contract_id, "30"));
  ASSERT_TRUE(lockCash(rem->contract_id, "4514.4"));
  ASSERT_TRUE(cmd(ReassignLocks{rem->contract_id}));
  auto r2 = cmd(Settle{rem->contract_id});
  ASSERT_TRUE(r2) << r2.error().message;
  EXPECT_TRUE(r2->remainder_dvp_contract_id.empty());
  EXPECT_EQ(freeOf(*ledger, seller, "USDC"), D("7524"));
  EXPECT_EQ(freeOf(*ledger, buyer, "AAPL"), D("50"));
  EXPECT_TRUE(ledger->verifyIntegrity());
}

TEST_F(EmbeddedLedgerTest, PartialSettleRoundsProRataHalfEvenAndRemainderAddsUp) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("1"), "settlement"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("1"), "settlement"));
  auto dvp = createDvp("3", "1");
  ASSERT_TRUE(lockSec(dvp, "3", true));
  ASSERT_TRUE(lockCash(dvp, "1"));
  auto r = cmd(Settle{dvp});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->amount, D("0.33333333"));
  auto rem = ledger->dvp(r->remainder_dvp_contract_id).value();
  EXPECT_EQ(rem->amount, D("0.66666667"));
  EXPECT_EQ(rem->quantity, D("2"));
}

TEST_F(SettledFixture, SettleFailsWhenCashLockIsShortOfTheAmountDue) {
  prepare("50", false, "7000");
  auto before = snapshot(*ledger);
  auto r = cmd(Settle{dvp});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kInvalidCommand);
  EXPECT_EQ(snapshot(*ledger), before);
}

TEST_F(EmbeddedLedgerTest, SettleWithoutBothLocksIsInvalid) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "settlement"));
  auto dvp = createDvp();
  EXPECT_EQ(cmd(Settle{dvp}).error().code, kInvalidCommand);
  ASSERT_TRUE(lockSec(dvp, "50"));
  auto r = cmd(Settle{dvp});
  EXPECT_EQ(r.error().code, kInvalidCommand);
  EXPECT_NE(r.error().message.find("cash"), std::string::npos);
  EXPECT_EQ(cmd(Settle{"00unknown"}).error().code, kContractNotActive);
}

TEST_F(EmbeddedLedgerTest, SettleWithLocksOnAnotherSynchronizerIsInvalid) {
  auto dvp = lockedDvp("cash");
  auto r = cmd(Settle{dvp});
  EXPECT_EQ(r.error().code, kInvalidCommand);
  EXPECT_NE(r.error().message.find("reassign"), std::string::npos);
}

TEST_F(EmbeddedLedgerTest, SettleWithALockInFlightFailsRetryable) {
  auto dvp = lockedDvp("settlement");
  ledger->setErrorRate("settlement", 1.0, 7);  // the assign step fails, the unassign succeeded
  ASSERT_EQ(cmd(ReassignLocks{dvp}).error().code, kUnavailable);
  ledger->setErrorRate("settlement", 0.0, 7);
  auto before = snapshot(*ledger);
  auto r = cmd(Settle{dvp});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kContractInFlight);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(snapshot(*ledger), before);
  ASSERT_TRUE(cmd(ReassignLocks{dvp}));
  EXPECT_TRUE(cmd(Settle{dvp}));
}

TEST_F(EmbeddedLedgerTest, ReleaseOfALockInFlightWaitsForItsTargetThenAssignsAndReleases) {
  auto dvp = lockedDvp("settlement");
  ledger->setErrorRate("settlement", 1.0, 7);  // the assign step fails, the unassign succeeded
  ASSERT_EQ(cmd(ReassignLocks{dvp}).error().code, kUnavailable);
  ledger->setErrorRate("settlement", 0.0, 7);
  ledger->setOutage("settlement", true);
  auto before = snapshot(*ledger);
  auto down = cmd(ReleaseLocks{dvp, true});
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, kUnavailable);
  EXPECT_TRUE(down.error().retryable);
  EXPECT_EQ(snapshot(*ledger), before);
  ledger->setOutage("settlement", false);
  auto r = cmd(ReleaseLocks{dvp, true});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->quantity, D("50"));
  EXPECT_EQ(locked(*ledger, "AAPL"), D("0"));
  EXPECT_EQ(locked(*ledger, "USDC"), D("0"));
  EXPECT_EQ(freeOf(*ledger, seller, "AAPL"), D("50"));
  EXPECT_FALSE(ledger->dvp(dvp).value()->active);
  EXPECT_TRUE(ledger->verifyIntegrity());
}

TEST_F(EmbeddedLedgerTest, ReleaseWithArchiveFencesLaterLocksOnTheDvp) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("80"), "securities"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("10000"), "cash"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  auto r = cmd(ReleaseLocks{dvp, true});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(ledger->dvp(dvp).value()->active);
  // A worker whose lease expired cannot lock against it any more.
  EXPECT_EQ(lockCash(dvp, "7524").error().code, kContractNotActive);
  EXPECT_EQ(lockSec(dvp, "50").error().code, kContractNotActive);
  EXPECT_EQ(freeOf(*ledger, seller, "AAPL"), D("80"));
  // Without locks it still archives.
  auto dvp2 = createDvp();
  ASSERT_TRUE(cmd(ReleaseLocks{dvp2, true}));
  EXPECT_FALSE(ledger->dvp(dvp2).value()->active);
}

TEST_F(EmbeddedLedgerTest, SettleDuringSettlementSynchronizerOutageChangesNothing) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "settlement"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("7524"), "settlement"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  ASSERT_TRUE(lockCash(dvp, "7524"));
  ledger->setOutage("settlement", true);
  auto before = snapshot(*ledger);
  auto r = ledger->submitOne("s1", Settle{dvp});
  EXPECT_EQ(r.error().code, kUnavailable);
  EXPECT_TRUE(r.error().retryable);
  EXPECT_EQ(snapshot(*ledger), before);
  EXPECT_FALSE(ledger->completion("s1").value());
  ledger->setOutage("settlement", false);
  EXPECT_TRUE(ledger->submitOne("s1", Settle{dvp}));  // the failed command id may be retried
}

TEST_F(EmbeddedLedgerTest, OutageOfTheHoldingsSynchronizerFailsTheLock) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
  auto dvp = createDvp();
  ledger->setOutage("securities", true);
  auto before = snapshot(*ledger);
  EXPECT_EQ(lockSec(dvp, "50").error().code, kUnavailable);
  EXPECT_EQ(ledger->credit(seller, "AAPL", D("1"), "securities").error().code, kUnavailable);
  EXPECT_EQ(snapshot(*ledger), before);
}

TEST_F(EmbeddedLedgerTest, ReleaseLocksGivesAmountsBackAndIsIdempotent) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("80"), "securities"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("10000"), "cash"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  ASSERT_TRUE(lockCash(dvp, "7524"));
  auto r = cmd(ReleaseLocks{dvp});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->quantity, D("50"));
  EXPECT_EQ(r->amount, D("7524"));
  EXPECT_EQ(freeOf(*ledger, seller, "AAPL"), D("80"));
  EXPECT_EQ(freeOf(*ledger, buyer, "USDC"), D("10000"));
  EXPECT_EQ(locked(*ledger, "AAPL"), D("0"));
  int64_t end = ledger->ledgerEnd();
  auto again = ledger->submitOne("release-again", ReleaseLocks{dvp});
  ASSERT_TRUE(again);
  EXPECT_EQ(ledger->ledgerEnd(), end);
  EXPECT_TRUE(ledger->completion("release-again").value());
  // After release the DvP can be locked again.
  EXPECT_TRUE(lockSec(dvp, "50"));
}

TEST_F(EmbeddedLedgerTest, ArchiveDvpIsIdempotentAndRefusedWhileLocked) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  EXPECT_EQ(cmd(ArchiveDvp{dvp}).error().code, kInvalidCommand);
  ASSERT_TRUE(cmd(ReleaseLocks{dvp}));
  ASSERT_TRUE(cmd(ArchiveDvp{dvp}));
  EXPECT_FALSE(ledger->dvp(dvp).value()->active);
  EXPECT_TRUE(cmd(ArchiveDvp{dvp}));
  EXPECT_EQ(cmd(ArchiveDvp{"00unknown"}).error().code, kContractNotActive);
  EXPECT_EQ(lockSec(dvp, "1").error().code, kContractNotActive);
}

}  // namespace
}  // namespace sc::test

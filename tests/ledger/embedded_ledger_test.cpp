// Command-by-command behaviour of the embedded ledger: happy paths and every error.
#include "ledger/embedded_ledger.h"

#include <gtest/gtest.h>

#include "ledger_test_util.h"

namespace sc::ledger {
namespace {

using namespace sc::ledger::testing;

class EmbeddedLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger = openLedger(dir.path());
    buyer = ledger->allocateParty("buyer").value();
    seller = ledger->allocateParty("seller").value();
  }

  std::string createDvp(const char* qty = "50", const char* amount = "7524") {
    auto r =
        ledger->submitOne("dvp:" + std::to_string(++n), dvpCommand(buyer, seller, qty, amount));
    EXPECT_TRUE(r) << r.error().message;
    return r->contract_id;
  }
  Result<Outcome> lockSec(const std::string& dvp, const char* qty, bool partial = false) {
    return ledger->submitOne("ls:" + std::to_string(++n), LockSecurities{dvp, D(qty), partial});
  }
  Result<Outcome> lockCash(const std::string& dvp, const char* amount) {
    return ledger->submitOne("lc:" + std::to_string(++n), LockCash{dvp, D(amount)});
  }
  Result<Outcome> cmd(Command c) {
    return ledger->submitOne("c:" + std::to_string(++n), std::move(c));
  }

  TempDir dir;
  std::unique_ptr<EmbeddedLedger> ledger;
  std::string buyer, seller;
  int n = 0;
};

TEST_F(EmbeddedLedgerTest, AllocatePartyReturnsHintWithFingerprintAndIsIdempotent) {
  EXPECT_EQ(buyer.rfind("buyer::1220", 0), 0u) << buyer;
  EXPECT_EQ(buyer.size(), std::string("buyer::1220").size() + 64);
  EXPECT_EQ(ledger->allocateParty("buyer").value(), buyer);
  EXPECT_NE(buyer, seller);
  EXPECT_TRUE(ledger->partyExists(buyer).value());
  EXPECT_FALSE(ledger->partyExists("buyer").value());
  EXPECT_FALSE(ledger->partyExists("nobody::1220ab").value());
}

TEST_F(EmbeddedLedgerTest, AllocatePartyRejectsInvalidHint) {
  EXPECT_EQ(ledger->allocateParty("").error().code, kInvalidCommand);
  EXPECT_EQ(ledger->allocateParty("a b").error().code, kInvalidCommand);
  EXPECT_EQ(ledger->allocateParty("::b").error().code, kInvalidCommand);
  EXPECT_EQ(ledger->allocateParty("a::").error().code, kInvalidCommand);
  EXPECT_EQ(ledger->allocateParty("a::b::c").error().code, kInvalidCommand);
}

TEST_F(EmbeddedLedgerTest, AllocatePartyRegistersAFullPartyIdAsIs) {
  // SECURITIES_ISSUER_PARTY's default is a full id; the service must start with it.
  auto id = ledger->allocateParty("securities-issuer::12345");
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "securities-issuer::12345");
  EXPECT_TRUE(ledger->partyExists("securities-issuer::12345").value());
  EXPECT_EQ(ledger->allocateParty("securities-issuer::12345").value(), *id);
}

TEST_F(EmbeddedLedgerTest, CreditCreatesAFreeHoldingAndCountsTheTotal) {
  auto h = ledger->credit(seller, "AAPL", D("100"), "securities");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->owner, seller);
  EXPECT_EQ(h->asset, "AAPL");
  EXPECT_EQ(h->amount, D("100"));
  EXPECT_EQ(h->synchronizer, "securities");
  EXPECT_FALSE(h->locked);
  EXPECT_EQ(total(*ledger, "AAPL"), D("100"));
  EXPECT_EQ(locked(*ledger, "AAPL"), D("0"));
  ASSERT_EQ(ledger->holdings(seller)->size(), 1u);
}

TEST_F(EmbeddedLedgerTest, CreditRejectsUnknownPartyUnknownSynchronizerAndNonPositiveAmount) {
  EXPECT_EQ(ledger->credit("ghost::1220", "AAPL", D("1"), "securities").error().code,
            kUnknownParty);
  EXPECT_EQ(ledger->credit(seller, "AAPL", D("1"), "mars").error().code, kInvalidCommand);
  EXPECT_EQ(ledger->credit(seller, "AAPL", D("0"), "securities").error().code, kInvalidCommand);
  EXPECT_EQ(ledger->credit(seller, "AAPL", D("-1"), "securities").error().code, kInvalidCommand);
  EXPECT_EQ(ledger->credit(seller, "", D("1"), "securities").error().code, kInvalidCommand);
}

TEST_F(EmbeddedLedgerTest, CreateDvpPutsTheContractOnTheSettlementSynchronizer) {
  auto r = ledger->submitOne("set_1:initiate:1", dvpCommand(buyer, seller, "50", "7524"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->contract_id.rfind("00", 0), 0u);
  EXPECT_EQ(r->update_id.rfind("1220", 0), 0u);
  EXPECT_EQ(r->synchronizer, "settlement");
  EXPECT_GT(r->offset, 0);
  auto d = ledger->dvp(r->contract_id).value();
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->active);
  EXPECT_EQ(d->buyer, buyer);
  EXPECT_EQ(d->seller, seller);
  EXPECT_EQ(d->quantity, D("50"));
  EXPECT_EQ(d->amount, D("7524"));
  EXPECT_EQ(d->synchronizer, "settlement");
  auto u = ledger->updateById(r->update_id).value();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->offset, r->offset);
  EXPECT_EQ(u->command_id, "set_1:initiate:1");
}

TEST_F(EmbeddedLedgerTest, CreateDvpRejectsUnknownPartiesSamePartyAndBadNumbers) {
  auto c = dvpCommand("ghost::1220", seller, "1", "1");
  EXPECT_EQ(ledger->submitOne("x1", c).error().code, kUnknownParty);
  EXPECT_EQ(ledger->submitOne("x1", c).error().field, "buyer");
  c = dvpCommand(buyer, "ghost::1220", "1", "1");
  EXPECT_EQ(ledger->submitOne("x2", c).error().code, kUnknownParty);
  c = dvpCommand(buyer, buyer, "1", "1");
  EXPECT_EQ(ledger->submitOne("x3", c).error().code, kInvalidCommand);
  c = dvpCommand(buyer, seller, "0", "1");
  EXPECT_EQ(ledger->submitOne("x4", c).error().code, kInvalidCommand);
  c = dvpCommand(buyer, seller, "1", "-1");
  EXPECT_EQ(ledger->submitOne("x5", c).error().code, kInvalidCommand);
  c = dvpCommand(buyer, seller, "1", "1");
  c.cash_asset = c.security;
  EXPECT_EQ(ledger->submitOne("x6", c).error().code, kInvalidCommand);
  EXPECT_EQ(ledger->submitOne("", dvpCommand(buyer, seller, "1", "1")).error().code,
            kInvalidCommand);
  EXPECT_EQ(ledger->ledgerEnd(), 0);
}

TEST_F(EmbeddedLedgerTest, LockSecuritiesSplitsAHoldingAndLocksExactlyTheQuantity) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("80"), "securities"));
  auto dvp = createDvp();
  auto r = lockSec(dvp, "50");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->quantity, D("50"));
  EXPECT_EQ(r->synchronizer, "securities");
  EXPECT_EQ(lockedTo(*ledger, seller, "AAPL", dvp), D("50"));
  EXPECT_EQ(freeOf(*ledger, seller, "AAPL"), D("30"));
  EXPECT_EQ(total(*ledger, "AAPL"), D("80"));
  EXPECT_EQ(locked(*ledger, "AAPL"), D("50"));
  auto hs = ledger->holdings(seller).value();
  ASSERT_EQ(hs.size(), 2u);
  ASSERT_TRUE(ledger->verifyIntegrity()) << ledger->verifyIntegrity().error().message;
}

TEST_F(EmbeddedLedgerTest, LockSecuritiesCombinesHoldingsAndPrefersTheSettlementSynchronizer) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("20"), "securities"));
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("20"), "settlement"));
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("20"), "securities"));
  auto dvp = createDvp();
  auto r = lockSec(dvp, "50");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->synchronizer, "settlement");  // first lock on the DvP's synchronizer
  LedgerAmount on_settlement, elsewhere;
  for (const auto& h : holdingsOf(*ledger, seller)) {
    if (!h.locked) continue;
    auto& sum = h.synchronizer == "settlement" ? on_settlement : elsewhere;
    sum = sum.add(h.amount).value();
  }
  EXPECT_EQ(on_settlement, D("20"));
  EXPECT_EQ(elsewhere, D("30"));
  EXPECT_EQ(freeOf(*ledger, seller, "AAPL"), D("10"));
}

TEST_F(EmbeddedLedgerTest, LockSecuritiesFailsWhenInsufficientAndNamesAvailableAndNeeded) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("30"), "securities"));
  auto dvp = createDvp();
  auto before = snapshot(*ledger);
  auto r = lockSec(dvp, "50");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kInsufficientSecurities);
  EXPECT_FALSE(r.error().retryable);
  EXPECT_NE(r.error().message.find("30.00000000"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("50.00000000"), std::string::npos) << r.error().message;
  EXPECT_EQ(snapshot(*ledger), before);
}

TEST_F(EmbeddedLedgerTest, LockSecuritiesWithPartialAllowedLocksWhatIsAvailable) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("30"), "securities"));
  auto dvp = createDvp();
  auto r = lockSec(dvp, "50", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->quantity, D("30"));
  EXPECT_EQ(lockedTo(*ledger, seller, "AAPL", dvp), D("30"));
}

TEST_F(EmbeddedLedgerTest, LockSecuritiesWithPartialAllowedButNothingAvailableFails) {
  auto dvp = createDvp();
  EXPECT_EQ(lockSec(dvp, "50", true).error().code, kInsufficientSecurities);
}

TEST_F(EmbeddedLedgerTest, LockSecuritiesTwiceWithANewCommandIdIsInvalid) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("100"), "securities"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  auto before = snapshot(*ledger);
  EXPECT_EQ(lockSec(dvp, "50").error().code, kInvalidCommand);
  EXPECT_EQ(snapshot(*ledger), before);
}

TEST_F(EmbeddedLedgerTest, LockRejectsUnknownDvpAndMoreThanTheDvp) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("100"), "securities"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("10000"), "cash"));
  EXPECT_EQ(lockSec("00nope", "1").error().code, kContractNotActive);
  EXPECT_EQ(lockCash("00nope", "1").error().code, kContractNotActive);
  auto dvp = createDvp();
  EXPECT_EQ(lockSec(dvp, "51").error().code, kInvalidCommand);
  EXPECT_EQ(lockSec(dvp, "0").error().code, kInvalidCommand);
  EXPECT_EQ(lockCash(dvp, "7524.00000001").error().code, kInvalidCommand);
}

TEST_F(EmbeddedLedgerTest, LockCashLocksExactlyTheAmountOrFailsInsufficient) {
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("5000"), "cash"));
  auto dvp = createDvp();
  auto r = lockCash(dvp, "7524");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kInsufficientCash);
  EXPECT_NE(r.error().message.find("5000.00000000"), std::string::npos);
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("5000"), "cash"));
  r = lockCash(dvp, "7524");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->amount, D("7524"));
  EXPECT_EQ(lockedTo(*ledger, buyer, "USDC", dvp), D("7524"));
  EXPECT_EQ(freeOf(*ledger, buyer, "USDC"), D("2476"));
  EXPECT_EQ(lockCash(dvp, "1").error().code, kInvalidCommand);  // already locked
}

TEST_F(EmbeddedLedgerTest, LockedAssetsCannotBeLockedByAnotherDvp) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
  auto d1 = createDvp();
  auto d2 = createDvp();
  ASSERT_TRUE(lockSec(d1, "50"));
  EXPECT_EQ(lockSec(d2, "1").error().code, kInsufficientSecurities);
}

TEST_F(EmbeddedLedgerTest, ReassignMovesLocksToTheSettlementSynchronizer) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("7524"), "cash"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  ASSERT_TRUE(lockCash(dvp, "7524"));
  int64_t end = ledger->ledgerEnd();
  auto r = cmd(ReassignLocks{dvp});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(ledger->ledgerEnd(), end + 4);  // unassign + assign per lock
  for (const auto& h : ledger->allHoldings()) {
    if (h.locked) {
      EXPECT_EQ(h.synchronizer, "settlement");
      EXPECT_FALSE(h.in_flight);
    }
  }
  // Nothing left to move: succeeds without a transaction.
  EXPECT_TRUE(cmd(ReassignLocks{dvp}));
  EXPECT_EQ(ledger->ledgerEnd(), end + 4);
  EXPECT_TRUE(ledger->verifyIntegrity());
}

TEST_F(EmbeddedLedgerTest, ReassignWithTargetDownLeavesTheContractInFlightUntilRetried) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  ledger->setOutage("settlement", true);
  auto r = ledger->submitOne("set_1:reassign:1", ReassignLocks{dvp});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kUnavailable);
  EXPECT_TRUE(r.error().retryable);
  int in_flight = 0;
  for (const auto& h : ledger->allHoldings()) in_flight += h.in_flight;
  EXPECT_EQ(in_flight, 1);
  EXPECT_EQ(total(*ledger, "AAPL"), D("50"));
  EXPECT_FALSE(ledger->completion("set_1:reassign:1").value());
  ledger->setOutage("settlement", false);
  r = ledger->submitOne("set_1:reassign:1", ReassignLocks{dvp});
  ASSERT_TRUE(r) << r.error().message;
  for (const auto& h : ledger->allHoldings()) {
    EXPECT_FALSE(h.in_flight);
    EXPECT_EQ(h.synchronizer, "settlement");
  }
  EXPECT_TRUE(ledger->completion("set_1:reassign:1").value());
}

TEST_F(EmbeddedLedgerTest, ReassignWithSourceDownChangesNothing) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  ledger->setOutage("securities", true);
  auto before = snapshot(*ledger);
  EXPECT_EQ(cmd(ReassignLocks{dvp}).error().code, kUnavailable);
  EXPECT_EQ(snapshot(*ledger), before);
}

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
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("7524"), "cash"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  ASSERT_TRUE(lockCash(dvp, "7524"));
  auto r = cmd(Settle{dvp});
  EXPECT_EQ(r.error().code, kInvalidCommand);
  EXPECT_NE(r.error().message.find("reassign"), std::string::npos);
}

TEST_F(EmbeddedLedgerTest, SettleWithALockInFlightFailsRetryable) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("7524"), "settlement"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  ASSERT_TRUE(lockCash(dvp, "7524"));
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
  ASSERT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", D("7524"), "settlement"));
  auto dvp = createDvp();
  ASSERT_TRUE(lockSec(dvp, "50"));
  ASSERT_TRUE(lockCash(dvp, "7524"));
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
}  // namespace sc::ledger

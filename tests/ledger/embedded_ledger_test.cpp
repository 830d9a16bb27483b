// Command-by-command behaviour of the embedded ledger, happy paths and every error: parties,
// credits, DvP creation, locks and reassignment. Settle and release: settle_release_test.cpp;
// idempotency, fault injection and atomicity: idempotency_faults_test.cpp.
#include "ledger/engine/embedded_ledger.h"

#include <gtest/gtest.h>

#include "embedded_ledger_fixture.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

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
  auto dvp = lockedDvp("cash");
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

}  // namespace
}  // namespace sc::test

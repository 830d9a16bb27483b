// The reconciler's comparison of one settlement row with the ledger (checks.h), pure: each drift
// is exactly its finding, a consistent row none.
#include "reconciliation/checks.h"

#include <gtest/gtest.h>

namespace sc::reconciliation {
namespace {

Decimal D(const char* s) { return Decimal::parse(s).value(); }

constexpr const char* kBuyer = "buyer::1220aa";
constexpr const char* kSeller = "seller::1220bb";

Settlement row(Status status) {
  Settlement s;
  s.id = Uuid::generateV7();
  s.trade.trade_id = "trd_1";
  s.trade.buyer_account_id = "acc_buyer";
  s.trade.seller_account_id = "acc_seller";
  s.trade.symbol = "AAPL/USDC";
  s.trade.quantity = D("10");
  s.trade.amount = D("1500");
  s.status = status;
  s.dvp_contract_id = "dvp-1";
  return s;
}

ledger::DvpView dvp(const std::string& cid, bool active, const char* buyer = kBuyer,
                    const char* seller = kSeller) {
  ledger::DvpView v;
  v.contract_id = cid;
  v.active = active;
  v.buyer = buyer;
  v.seller = seller;
  v.security = "AAPL";
  v.cash_asset = "USDC";
  v.quantity = D("10");
  v.amount = D("1500");
  return v;
}

LedgerSettle settle(const std::string& update, const char* q, const char* a,
                    const std::string& dvp_cid = "dvp-1", int round = 0) {
  LedgerSettle l;
  l.round = round;
  l.outcome.update_id = update;
  l.outcome.contract_id = dvp_cid;
  l.outcome.quantity = D(q);
  l.outcome.amount = D(a);
  l.dvp = dvp(dvp_cid, false);
  return l;
}

ledger::HoldingView lock(const char* owner, const char* asset, const char* amount,
                         const std::string& dvp_cid = "dvp-1") {
  ledger::HoldingView h;
  h.contract_id = std::string("lock-") + asset;
  h.owner = owner;
  h.asset = asset;
  h.amount = LedgerAmount::parse(amount).value();
  h.locked = true;
  h.lock_dvp_contract_id = dvp_cid;
  h.synchronizer = "settlement";
  return h;
}

SettlementFacts facts(Settlement s) {
  SettlementFacts f;
  f.row = std::move(s);
  f.buyer_party = kBuyer;
  f.seller_party = kSeller;
  return f;
}

SettlementFacts settledFacts() {
  Settlement s = row(Status::kSettled);
  s.settled_quantity = D("10");
  s.settled_amount = D("1500");
  s.dvp_atomic_transaction_id = "upd-1";
  SettlementFacts f = facts(s);
  f.settles.push_back(settle("upd-1", "10", "1500"));
  return f;
}

std::vector<std::string> kinds(const std::vector<Draft>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.kind);
  return out;
}

using Kinds = std::vector<std::string>;

TEST(SettlementCheck, SettledRowWithItsSettleOnTheLedgerIsConsistent) {
  EXPECT_EQ(kinds(checkSettlement(settledFacts())), Kinds{});
}

TEST(SettlementCheck, SettledRowWithoutAnySettleIsLedgerSettleMissing) {
  SettlementFacts f = settledFacts();
  f.settles.clear();
  auto ds = checkSettlement(f);
  ASSERT_EQ(kinds(ds), Kinds{"ledger_settle_missing"});
  EXPECT_EQ(ds[0].settlement_id, f.row.id);
  EXPECT_EQ(ds[0].evidence["database"]["status"], "settled");
  EXPECT_EQ(ds[0].evidence["ledger"]["command_rounds_checked"], 1);
}

TEST(SettlementCheck, ConfirmedRowWithoutAnySettleIsLedgerSettleMissing) {
  SettlementFacts f = settledFacts();
  f.row.status = Status::kConfirmed;
  f.settles.clear();
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{"ledger_settle_missing"});
}

TEST(SettlementCheck, RowRecordingAnotherSettledQuantityIsLedgerSettleMismatch) {
  SettlementFacts f = settledFacts();
  f.row.settled_quantity = D("9");
  auto ds = checkSettlement(f);
  ASSERT_EQ(kinds(ds), Kinds{"ledger_settle_mismatch"});
  EXPECT_EQ(ds[0].evidence["ledger"]["settles"][0]["quantity"], "10.00000000");
  EXPECT_EQ(ds[0].evidence["database"]["settled_quantity"], "9.00000000");
}

TEST(SettlementCheck, SettleThatPaidAnotherSellerIsLedgerSettleMismatch) {
  SettlementFacts f = settledFacts();
  f.settles[0].dvp = dvp("dvp-1", false, kBuyer, "mallory::1220cc");
  auto ds = checkSettlement(f);
  ASSERT_EQ(kinds(ds), Kinds{"ledger_settle_mismatch"});
  EXPECT_NE(ds[0].evidence["differences"][0].get<std::string>().find("mallory::1220cc"),
            std::string::npos);
}

TEST(SettlementCheck, RecordedUpdateIdThatIsNoneOfTheSettlesIsLedgerSettleMismatch) {
  SettlementFacts f = settledFacts();
  f.row.dvp_atomic_transaction_id = "upd-other";
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{"ledger_settle_mismatch"});
}

TEST(SettlementCheck, SettleOfADvpTheLedgerDoesNotKnowIsLedgerSettleMismatch) {
  SettlementFacts f = settledFacts();
  f.settles[0].dvp.reset();
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{"ledger_settle_mismatch"});
}

TEST(SettlementCheck, PartiallySettledRowAgreeingWithItsPartsIsConsistent) {
  Settlement s = row(Status::kPartiallySettled);
  s.round = 1;
  s.settled_quantity = D("4");
  s.settled_amount = D("600");
  s.dvp_contract_id = "dvp-2";  // the remainder's
  SettlementFacts f = facts(s);
  f.settles.push_back(settle("upd-1", "4", "600", "dvp-1", 0));
  f.locks_read = true;
  f.dvp = dvp("dvp-2", true);
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{});
}

TEST(SettlementCheck, ActiveRowWhoseDvpTheLedgerSettledBehindItsBackIsLedgerSettleMismatch) {
  Settlement s = row(Status::kBuyerCashLocked);
  s.locked_quantity = D("10");
  s.locked_amount = D("1500");
  SettlementFacts f = facts(s);
  f.settles.push_back(settle("upd-1", "10", "1500"));
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{"ledger_settle_mismatch"});
}

TEST(SettlementCheck, FailedRowWhoseRecordedPartHasNoSettleIsLedgerSettleMissing) {
  Settlement s = row(Status::kFailed);
  s.settled_quantity = D("4");
  s.settled_amount = D("600");
  SettlementFacts f = facts(s);
  f.locks_read = true;
  f.dvp = dvp("dvp-1", false);
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{"ledger_settle_missing"});
}

TEST(SettlementCheck, FailedRowStillHoldingLocksIsFailedHoldsLocksOnly) {
  SettlementFacts f = facts(row(Status::kFailed));
  f.locks_read = true;
  f.locks = {lock(kSeller, "AAPL", "10")};
  f.dvp = dvp("dvp-1", true);  // active too: the locks are the finding
  auto ds = checkSettlement(f);
  ASSERT_EQ(kinds(ds), Kinds{"failed_holds_locks"});
  EXPECT_EQ(ds[0].evidence["ledger"]["securities_locked"], "10.00000000");
  EXPECT_EQ(ds[0].evidence["ledger"]["dvp_active"], true);
}

TEST(SettlementCheck, FailedRowWithAnActiveDvpAndNoLocksIsFailedDvpActive) {
  SettlementFacts f = facts(row(Status::kFailed));
  f.locks_read = true;
  f.dvp = dvp("dvp-1", true);
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{"failed_dvp_active"});
}

TEST(SettlementCheck, FailedRowReleasedAndArchivedIsConsistent) {
  SettlementFacts f = facts(row(Status::kFailed));
  f.locks_read = true;
  f.dvp = dvp("dvp-1", false);
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{});
}

TEST(SettlementCheck, CashLockedRowWithBothLocksIsConsistent) {
  Settlement s = row(Status::kBuyerCashLocked);
  s.locked_quantity = D("10");
  s.locked_amount = D("1500");
  SettlementFacts f = facts(s);
  f.locks_read = true;
  f.locks = {lock(kSeller, "AAPL", "6"), lock(kSeller, "AAPL", "4"), lock(kBuyer, "USDC", "1500")};
  f.dvp = dvp("dvp-1", true);
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{});
}

TEST(SettlementCheck, CashLockedRowWhoseLocksWereReleasedIsLocksMismatch) {
  Settlement s = row(Status::kBuyerCashLocked);
  s.locked_quantity = D("10");
  s.locked_amount = D("1500");
  SettlementFacts f = facts(s);
  f.locks_read = true;
  f.dvp = dvp("dvp-1", true);
  auto ds = checkSettlement(f);
  ASSERT_EQ(kinds(ds), Kinds{"locks_mismatch"});
  EXPECT_EQ(ds[0].evidence["expected"]["securities_locked"], "10.00000000");
  EXPECT_EQ(ds[0].evidence["expected"]["cash_locked"], "1500.00000000");
  EXPECT_EQ(ds[0].evidence["ledger"]["securities_locked"], "0.00000000");
  EXPECT_EQ(ds[0].evidence["differences"].size(), 2u);
}

TEST(SettlementCheck, InitiatedRowWithASecuritiesLockIsLocksMismatch) {
  SettlementFacts f = facts(row(Status::kInitiated));
  f.locks_read = true;
  f.locks = {lock(kSeller, "AAPL", "10")};
  f.dvp = dvp("dvp-1", true);
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{"locks_mismatch"});
}

TEST(SettlementCheck, ExecutingRowWhoseDvpIsArchivedIsLocksMismatch) {
  Settlement s = row(Status::kExecuting);
  s.locked_quantity = D("10");
  s.locked_amount = D("1500");
  SettlementFacts f = facts(s);
  f.locks_read = true;
  f.locks = {lock(kSeller, "AAPL", "10"), lock(kBuyer, "USDC", "1500")};
  f.dvp = dvp("dvp-1", false);
  EXPECT_EQ(kinds(checkSettlement(f)), Kinds{"locks_mismatch"});
}

TEST(SettlementCheck, LockChecksApplyToRowsWithADvpThatCanHoldLocks) {
  EXPECT_TRUE(needsLockCheck(row(Status::kInitiated)));
  EXPECT_TRUE(needsLockCheck(row(Status::kFailed)));
  EXPECT_TRUE(needsLockCheck(row(Status::kPartiallySettled)));
  EXPECT_FALSE(needsLockCheck(row(Status::kSettled)));
  EXPECT_FALSE(needsLockCheck(row(Status::kConfirmed)));
  Settlement pending = row(Status::kPending);
  pending.dvp_contract_id.clear();
  EXPECT_FALSE(needsLockCheck(pending));
}

TEST(CommandIds, NameTheirSettlement) {
  Uuid id = Uuid::generateV7();
  EXPECT_EQ(settlementOfCommand(id.prefixed(kSettlementPrefix) + ":settle:3"), id);
  EXPECT_FALSE(settlementOfCommand("tamper:settle:0"));
  EXPECT_FALSE(settlementOfCommand("set_nothex:settle:0"));
  EXPECT_FALSE(settlementOfCommand(""));
  EXPECT_FALSE(settlementOfCommand(id.prefixed(kSettlementPrefix)));
}

TEST(UnknownSettle, NamesTheSettleAndItsOwnerWhenTheDvpIsKnown) {
  ledger::MovementView m;
  m.update_id = "upd-9";
  m.offset = 42;
  m.command_id = "tamper:1";
  m.dvp_contract_id = "dvp-1";
  m.buyer = kBuyer;
  m.seller = kSeller;
  m.security = "AAPL";
  m.cash_asset = "USDC";
  m.quantity = D("10");
  m.amount = D("1500");
  Draft stray = unknownSettle(m, std::nullopt);
  EXPECT_EQ(stray.kind, "ledger_settle_unknown");
  EXPECT_FALSE(stray.settlement_id);
  EXPECT_EQ(stray.subject, "upd-9");
  EXPECT_EQ(stray.evidence["command_id"], "tamper:1");
  EXPECT_EQ(stray.evidence["quantity"], "10.00000000");
  Settlement owner = row(Status::kBuyerCashLocked);
  Draft owned = unknownSettle(m, owner);
  EXPECT_EQ(owned.settlement_id, owner.id);
}

TEST(LedgerTotal, ChangeIsReportedWithExpectedAndActual) {
  auto same =
      checkTotal("AAPL", LedgerAmount::parse("100").value(), LedgerAmount::parse("100").value(), 7);
  EXPECT_FALSE(same);
  auto d = checkTotal("AAPL", LedgerAmount::parse("100").value(),
                      LedgerAmount::parse("110.5").value(), 7);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, "ledger_total_changed");
  EXPECT_EQ(d->subject, "AAPL");
  EXPECT_FALSE(d->settlement_id);
  EXPECT_EQ(d->evidence["expected_total"], "100.00000000");
  EXPECT_EQ(d->evidence["ledger_total"], "110.50000000");
  EXPECT_EQ(d->evidence["change"], "10.50000000");
  EXPECT_EQ(d->evidence["ledger_offset"], 7);
}

}  // namespace
}  // namespace sc::reconciliation

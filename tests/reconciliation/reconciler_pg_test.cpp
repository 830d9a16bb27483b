// The reconciler against the real PostgreSQL and the real embedded ledger (label pg): each store
// is tampered with behind the service's back and exactly the expected finding is reported; a
// clean run reports none. (The topic side: reconciler_kafka_test.cpp.)
#include <algorithm>
#include <nlohmann/json.hpp>

#include "domain/command_ids.h"
#include "reconciler_fixture.h"
#include "reconciliation/errors.h"
#include "store/errors.h"
#include "store/pg.h"

namespace sc::test {
namespace {

using Json = nlohmann::json;
using Kinds = std::vector<std::string>;

// A settlement held at BUYER_CASH_LOCKED: its reassignment failed, the next attempt is a minute
// away, no worker holds it. It rests, so the reconciler compares it with the ledger.
class HeldSettlement : public ReconcilerPgTest {
 protected:
  Settlement hold(const std::string& trade_id) {
    ledger_->hold = true;
    TradeEvent t;
    t.trade_id = trade_id;
    Settlement s = submit(t);
    work();
    ledger_->hold = false;
    Settlement now = find(s.id);
    EXPECT_EQ(now.status, Status::kBuyerCashLocked);
    EXPECT_GT(now.next_attempt_at, kNow + std::chrono::seconds(20));
    return now;
  }
};

TEST_F(ReconcilerPgTest, CleanRunOfManyTradesReportsNoDrift) {
  auto settlements = submitMany(300);
  work();
  for (const auto& s : settlements) ASSERT_EQ(find(s.id).status, Status::kSettled);
  auto report = reconcile();
  EXPECT_EQ(report.watermark, maxPosition());
  EXPECT_TRUE(report.blocked.empty()) << report.blocked;
  EXPECT_EQ(kindsOf(findings()), Kinds{});
  auto st = reconciler_->status({});
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state.checked_settlements, 300);
  EXPECT_EQ(st->state.watermark, maxPosition());
  EXPECT_TRUE(st->open_by_kind.empty());
  EXPECT_GT(st->state.ledger_offset, 0);
  EXPECT_EQ(reconciler_->metrics().checked.value(), 300u);
}

TEST_F(ReconcilerPgTest, WatermarkMovesInBoundedBatches) {
  reconciler_.reset();
  reconciliation::ReconcilerOptions o;
  o.batch = 40;
  o.quiet = std::chrono::seconds(1);
  reconciler_ =
      std::make_unique<reconciliation::Reconciler>(*repo_, db_->accounts(), *ledger_, clock_, o);
  submitMany(100);
  work();
  auto first = reconciler_->runPass();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->checked, 40);
  EXPECT_LT(first->watermark, maxPosition());
  auto report = reconcile();
  EXPECT_EQ(report.watermark, maxPosition());
  auto st = reconciler_->status({});
  ASSERT_TRUE(st.ok());
  // A settlement whose audit rows straddle two batches is compared in both.
  EXPECT_GE(st->state.checked_settlements, 100);
  EXPECT_EQ(kindsOf(findings()), Kinds{});
}

TEST_F(ReconcilerPgTest, WatermarkWaitsBelowAPositionATransactionStillHolds) {
  auto first = submitMany(2);
  work();
  // A transaction draws the next audit position and has not committed yet.
  auto held = store::pg::Connection::connect(pg_.conninfo());
  ASSERT_TRUE(held.ok()) << held.error().message;
  ASSERT_TRUE((*held)->script("BEGIN").ok());
  auto ins = (*held)->exec(
      "INSERT INTO settlement_events (id, settlement_id, event_type, details)"
      " VALUES (gen_random_uuid(), $1::uuid, 'settled', '{}') RETURNING position",
      {first[0].id.canonical()});
  ASSERT_TRUE(ins.ok()) << ins.error().message;
  const std::string hole(ins->text(0, 0));
  submitMany(2, "later_");
  work();
  auto report = reconcile();
  EXPECT_EQ(report.watermark, std::stoll(hole) - 1);
  EXPECT_NE(report.blocked.find("audit position " + hole), std::string::npos) << report.blocked;
  // Committed: the watermark passes it and everything after it.
  ASSERT_TRUE((*held)->script("COMMIT").ok());
  report = reconcile();
  EXPECT_EQ(report.watermark, maxPosition());
  EXPECT_EQ(kindsOf(findings()), Kinds{});
}

TEST_F(ReconcilerPgTest, FailedRowEditedToSettledIsLedgerSettleMissing) {
  TradeEvent t;
  t.trade_id = "trd_too_big";
  t.quantity = "500000";  // the seller holds 100000: fails, locks released
  t.price = "";
  t.amount = "1000";
  Settlement s = submit(t);
  work();
  ASSERT_EQ(find(s.id).status, Status::kFailed);
  submitMany(5);
  work();
  sql("UPDATE settlements SET status = 'settled' WHERE id = '" + s.id.canonical() + "'");
  auto report = reconcile();
  EXPECT_EQ(report.watermark, maxPosition());
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"ledger_settle_missing"});
  EXPECT_EQ(fs[0].settlement_id, s.id);
  EXPECT_EQ(fs[0].trade_id, "trd_too_big");
  EXPECT_EQ(fs[0].status, "open");
  auto ev = Json::parse(fs[0].evidence);
  EXPECT_EQ(ev["database"]["status"], "settled");
  EXPECT_TRUE(ev["ledger"]["settles"].empty());
}

TEST_F(ReconcilerPgTest, SettledRowWithAnEditedQuantityIsLedgerSettleMismatchUntilRepaired) {
  auto settlements = submitMany(5);
  work();
  const Settlement& s = settlements[2];
  sql("UPDATE settlements SET settled_quantity = 0.5 WHERE id = '" + s.id.canonical() + "'");
  reconcile();
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"ledger_settle_mismatch"});
  EXPECT_EQ(fs[0].settlement_id, s.id);
  auto ev = Json::parse(fs[0].evidence);
  EXPECT_EQ(ev["database"]["settled_quantity"], "0.50000000");
  EXPECT_EQ(ev["ledger"]["settles"][0]["quantity"], "1.00000000");
  // Raised once while open.
  reconcile();
  EXPECT_EQ(findings().size(), 1u);

  // Repaired by hand: the next pass re-checks the settlement and resolves the finding.
  sql("UPDATE settlements SET settled_quantity = 1 WHERE id = '" + s.id.canonical() + "'");
  auto report = reconciler_->runPass();
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->resolved, 1);
  fs = findings();
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].status, "resolved");
  ASSERT_TRUE(fs[0].resolved_at);
  EXPECT_EQ(Json::parse(fs[0].resolution)["status"], "settled");
}

TEST_F(HeldSettlement, RestingSettlementWithItsLocksIsConsistent) {
  hold("trd_held");
  submitMany(3);
  work();
  auto report = reconcile();
  EXPECT_EQ(report.watermark, maxPosition());
  EXPECT_EQ(kindsOf(findings()), Kinds{});
}

TEST_F(HeldSettlement, LocksReleasedOnTheLedgerDirectlyAreLocksMismatch) {
  Settlement s = hold("trd_held");
  auto r = engine_->submitOne("tamper:release", ledger::ReleaseLocks{s.dvp_contract_id, false});
  ASSERT_TRUE(r.ok()) << r.error().message;
  reconcile();
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"locks_mismatch"});
  EXPECT_EQ(fs[0].settlement_id, s.id);
  auto ev = Json::parse(fs[0].evidence);
  EXPECT_EQ(ev["database"]["status"], "buyer_cash_locked");
  EXPECT_EQ(ev["expected"]["securities_locked"], "50.00000000");
  EXPECT_EQ(ev["expected"]["cash_locked"], "7524.00000000");
  EXPECT_EQ(ev["ledger"]["securities_locked"], "0.00000000");
  EXPECT_EQ(ev["ledger"]["cash_locked"], "0.00000000");
  EXPECT_EQ(ev["ledger"]["dvp_active"], true);
}

TEST_F(HeldSettlement, InitiatedRowEditedToFailedIsFailedDvpActive) {
  // The seller has nothing for a trade that waits for partial delivery: it rests at INITIATED.
  addAccount("acc_empty", "empty");
  TradeEvent t;
  t.trade_id = "trd_waiting";
  t.seller = "acc_empty";
  t.allow_partial = true;
  Settlement s = submit(t);
  work();
  ASSERT_EQ(find(s.id).status, Status::kInitiated);
  sql("UPDATE settlements SET status = 'failed' WHERE id = '" + s.id.canonical() + "'");
  reconcile();
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"failed_dvp_active"});
  EXPECT_EQ(fs[0].settlement_id, s.id);
}

TEST_F(HeldSettlement, CashLockedRowEditedToFailedIsFailedHoldsLocks) {
  Settlement s = hold("trd_held");
  sql("UPDATE settlements SET status = 'failed' WHERE id = '" + s.id.canonical() + "'");
  reconcile();
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"failed_holds_locks"});
  EXPECT_EQ(Json::parse(fs[0].evidence)["ledger"]["locks"].size(), 2u);
}

TEST_F(HeldSettlement, SettlementAWorkerHoldsIsNotJudgedUntilItRests) {
  Settlement s = hold("trd_held");
  // A worker leased it (and may be between its ledger command and its write).
  sql("UPDATE settlements SET lease_token = gen_random_uuid(), lease_until = clock_timestamp() +"
      " interval '1 hour' WHERE id = '" +
      s.id.canonical() + "'");
  auto r = engine_->submitOne("tamper:release", ledger::ReleaseLocks{s.dvp_contract_id, false});
  ASSERT_TRUE(r.ok());
  auto report = reconcile();
  EXPECT_EQ(kindsOf(findings()), Kinds{});
  EXPECT_LT(report.watermark, maxPosition());
  EXPECT_NE(report.blocked.find(s.settlementId()), std::string::npos) << report.blocked;
  // The lease cleared (the worker wrote nothing): now it rests and is judged.
  sql("UPDATE settlements SET lease_token = NULL, lease_until = NULL WHERE id = '" +
      s.id.canonical() + "'");
  report = reconcile();
  EXPECT_EQ(report.watermark, maxPosition());
  EXPECT_EQ(kindsOf(findings()), Kinds{"locks_mismatch"});
}

TEST_F(HeldSettlement, SettlementDueSoonIsNotJudgedUntilItRests) {
  Settlement s = hold("trd_held");
  clock_.advance(std::chrono::seconds(120));  // its next attempt is due: a worker may take it
  auto r = engine_->submitOne("tamper:release", ledger::ReleaseLocks{s.dvp_contract_id, false});
  ASSERT_TRUE(r.ok());
  auto report = reconcile();
  EXPECT_LT(report.watermark, maxPosition());
  EXPECT_EQ(kindsOf(findings()), Kinds{});
}

TEST_F(ReconcilerPgTest, SettlementRetryingALostAnswerIsNotJudgedUntilTheRetryKnows) {
  // The settle committed, its answer was lost: the row waits a minute to resend it, with no
  // lease, while the ledger is already a step ahead. Judging it now would be a false finding.
  Settlement held = submitWhile(ledger_->lose_settle, "trd_lost_answer");
  const Settlement& s = held;
  ASSERT_NE(held.status, Status::kSettled);
  ASSERT_EQ(held.last_error.rfind(ledger::kTimeout, 0), 0u) << held.last_error;
  ASSERT_GT(held.next_attempt_at, kNow + std::chrono::seconds(20));
  auto report = reconcile();
  EXPECT_EQ(kindsOf(findings()), Kinds{});
  EXPECT_LT(report.watermark, maxPosition());
  EXPECT_NE(report.blocked.find(s.settlementId()), std::string::npos) << report.blocked;
  // The resend learns the first outcome: the row settles and is judged, consistent.
  catchUpAndSettle(s);
}

TEST_F(ReconcilerPgTest, StepCommittingWhileTheLedgerIsReadIsNotJudged) {
  // The row rests after its cash lock failed; a resend of that lock (a stalled worker's, or one
  // whose answer is lost) commits while the reconciler reads the holdings. The row is then behind
  // the ledger, not drifted from it.
  Settlement held = submitWhile(ledger_->hold_cash, "trd_racing_lock");
  const Settlement& s = held;
  ASSERT_EQ(held.status, Status::kSellerSecuritiesLocked);
  ASSERT_GT(held.next_attempt_at, kNow + std::chrono::seconds(20));
  ledger_->on_holdings = [&] {
    auto r = engine_->submitOne(commandId(held, steps::kLockCash),
                                ledger::LockCash{held.dvp_contract_id, held.trade.amount});
    ASSERT_TRUE(r.ok()) << r.error().message;
  };
  auto report = reconcile(1);
  EXPECT_FALSE(ledger_->on_holdings) << "the lock committed during the pass";
  EXPECT_EQ(kindsOf(findings()), Kinds{});
  EXPECT_NE(report.blocked.find(s.settlementId()), std::string::npos) << report.blocked;
  // The resend learns the outcome; the row catches up and settles, consistent.
  catchUpAndSettle(s);
}

TEST_F(ReconcilerPgTest, SettleOnTheLedgerThatNoSettlementMadeIsLedgerSettleUnknown) {
  submitMany(3);
  work();
  // Someone settles a DvP of their own between our parties, straight on the ledger.
  ledger::CreateDvp c{buyer_,
                      seller_,
                      "AAPL",
                      "USDC",
                      Decimal::parse("7").value(),
                      Decimal::parse("700").value(),
                      Date{std::chrono::year{2024} / 11 / 19}};
  auto dvp = engine_->submitOne("rogue:create", c);
  ASSERT_TRUE(dvp.ok()) << dvp.error().message;
  for (auto [id, cmd] : std::vector<std::pair<std::string, ledger::Command>>{
           {"rogue:lock_securities", ledger::LockSecurities{dvp->contract_id, c.quantity}},
           {"rogue:lock_cash", ledger::LockCash{dvp->contract_id, c.amount}},
           {"rogue:reassign", ledger::ReassignLocks{dvp->contract_id}}}) {
    auto r = engine_->submitOne(id, cmd);
    ASSERT_TRUE(r.ok()) << id << ": " << r.error().message;
  }
  auto settled = engine_->submitOne("rogue:settle", ledger::Settle{dvp->contract_id});
  ASSERT_TRUE(settled.ok()) << settled.error().message;
  reconcile();
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"ledger_settle_unknown"});
  EXPECT_FALSE(fs[0].settlement_id);
  EXPECT_EQ(fs[0].subject, settled->update_id);
  auto ev = Json::parse(fs[0].evidence);
  EXPECT_EQ(ev["command_id"], "rogue:settle");
  EXPECT_EQ(ev["dvp_contract_id"], dvp->contract_id);
  EXPECT_EQ(ev["buyer"], buyer_);
  EXPECT_EQ(ev["seller"], seller_);
  EXPECT_EQ(ev["quantity"], "7.00000000");
  EXPECT_EQ(ev["amount"], "700.00000000");
}

TEST_F(ReconcilerPgTest, CreditsKeepTheExpectedTotalsAndASupplyChangeIsLedgerTotalChanged) {
  submitMany(3);
  work();
  reconcile();  // the baseline
  credit(seller_, "AAPL", "25", "securities");
  submitMany(2, "more_");
  work();
  reconcile();
  EXPECT_EQ(kindsOf(findings()), Kinds{}) << "credits are supply, settlements move it";

  ledger_->skew = std::pair{std::string("AAPL"), LedgerAmount::parse("3").value()};
  reconcile();
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"ledger_total_changed"});
  EXPECT_EQ(fs[0].subject, "AAPL");
  EXPECT_FALSE(fs[0].settlement_id);
  auto ev = Json::parse(fs[0].evidence);
  EXPECT_EQ(ev["expected_total"], "100025.00000000");
  EXPECT_EQ(ev["ledger_total"], "100028.00000000");

  ledger_->skew.reset();
  reconcile();
  fs = findings();
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].status, "resolved");
}

// A reconciler that meets the ledger pruned past its position (turned on after pruning began, or
// further behind than LEDGER_RECONCILE_WINDOW) cannot read what moved there: it records the range
// once, takes the totals after it as the new baseline, and goes on from the pruned offset, where a
// supply change is still found. Before, its every pass failed on the same refusal, for good.
TEST_F(ReconcilerPgTest, MovementsPrunedBeforeTheyWereReadAreOneRangeFindingAndTheChecksGoOn) {
  submitMany(3);
  work();
  reconcile();  // the baseline
  auto state = repo_->state();
  ASSERT_TRUE(state) << state.error().message;
  const int64_t position = state->ledger_offset;
  credit(seller_, "AAPL", "25", "securities");  // never read: pruned first
  submitMany(2, "more_");
  work();
  const int64_t end = engine_->ledgerEnd();
  auto pruned = engine_->prune(end);
  ASSERT_TRUE(pruned) << pruned.error().message;
  auto refused = ledger_->movementsSince(position, 10);
  ASSERT_FALSE(refused);
  ASSERT_EQ(refused.error().code, ledger::kLedgerPruned);
  auto upto = ledger_->prunedUpTo();
  ASSERT_TRUE(upto) << upto.error().message;
  ASSERT_EQ(*upto, end - 1);

  reconcile();
  auto fs = findings();
  ASSERT_EQ(kindsOf(fs), Kinds{"ledger_range_pruned"})
      << "the skipped credit must not read as a supply change";
  EXPECT_EQ(fs[0].subject, std::to_string(position + 1) + ".." + std::to_string(end - 1));
  auto ev = Json::parse(fs[0].evidence);
  EXPECT_EQ(ev["after_offset"], position);
  EXPECT_EQ(ev["pruned_up_to"], end - 1);
  state = repo_->state();
  ASSERT_TRUE(state) << state.error().message;
  EXPECT_GE(state->ledger_offset, end);
  reconcile();
  EXPECT_EQ(findings().size(), 1u) << "one finding per range";

  // The checks go on after the range: a supply change is found against the new baseline.
  ledger_->skew = std::pair{std::string("AAPL"), LedgerAmount::parse("3").value()};
  reconcile();
  fs = findings("open");
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(kindsOf(findings("open")), (Kinds{"ledger_total_changed", "ledger_range_pruned"}));
  ledger_->skew.reset();
}

// A supply change found before a pruned range stays open after it: the baseline taken after the
// range is the wrong total itself, so the ledger equalling it proves nothing.
TEST_F(ReconcilerPgTest, ATotalFoundWrongBeforeAPrunedRangeIsNotResolvedByTheNewBaseline) {
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  submitMany(2);
  work();
  reconcile();  // the baseline
  ledger_->skew = std::pair{std::string("AAPL"), LedgerAmount::parse("3").value()};
  reconcile();
  ASSERT_EQ(kindsOf(findings("open")), Kinds{"ledger_total_changed"});
  auto state = repo_->state();
  ASSERT_TRUE(state) << state.error().message;
  const int64_t position = state->ledger_offset;
  submitMany(2, "more_");
  work();
  ASSERT_TRUE(engine_->prune(engine_->ledgerEnd()));
  ASSERT_GT(engine_->ledgerEnd(), position + 1);
  for (int pass = 0; pass < 3; ++pass) reconcile();  // skips the range, then a new baseline
  EXPECT_EQ(sorted(kindsOf(findings("open"))),
            (Kinds{"ledger_range_pruned", "ledger_total_changed"}))
      << "the skewed total taken as the new baseline must not resolve the earlier finding";
  ledger_->skew.reset();
}

TEST_F(ReconcilerPgTest, OperatorAcknowledgesAnOpenFindingOnce) {
  auto settlements = submitMany(2);
  work();
  sql("UPDATE settlements SET settled_amount = 1 WHERE id = '" + settlements[0].id.canonical() +
      "'");
  reconcile();
  auto fs = findings("open");
  ASSERT_EQ(fs.size(), 1u);
  auto ack = reconciler_->acknowledge(fs[0].id, "ops-alice", "known: manual correction pending");
  ASSERT_TRUE(ack.ok()) << ack.error().message;
  EXPECT_EQ(ack->status, "acknowledged");
  EXPECT_EQ(ack->acknowledged_by, "ops-alice");
  EXPECT_EQ(ack->note, "known: manual correction pending");
  ASSERT_TRUE(ack->acknowledged_at);

  auto again = reconciler_->acknowledge(fs[0].id, "ops-bob", "");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, store::kFindingNotOpen);
  auto none = reconciler_->acknowledge(fs[0].id + 1000, "ops-bob", "");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, store::kFindingNotFound);

  // Acknowledged: not raised again for the same drift by later passes.
  reconcile();
  EXPECT_TRUE(findings("open").empty());
  auto st = reconciler_->status({});
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->open_by_kind.empty());
}

TEST_F(ReconcilerPgTest, SecondReconcilerStandsByWhileTheFirstHoldsTheLock) {
  reconciler_->electWith(std::make_unique<store::SessionAdvisoryLock>(
      pg_.conninfo(), reconciliation::kReconcilerLockKey));
  auto other = makeReconciler({});
  other->electWith(std::make_unique<store::SessionAdvisoryLock>(
      pg_.conninfo(), reconciliation::kReconcilerLockKey));
  ASSERT_TRUE(reconciler_->runPass().ok());
  EXPECT_EQ(reconciler_->role(), "leader");
  auto r = other->runPass();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, reconciliation::kReconcilerStandby);
  EXPECT_EQ(other->role(), "standby");
  reconciler_->stop();  // releases the lock
  EXPECT_TRUE(other->runPass().ok());
  EXPECT_EQ(other->role(), "leader");
}

}  // namespace
}  // namespace sc::test

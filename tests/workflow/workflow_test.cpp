// The workflow on the real store and the real embedded ledger, driven by a fake clock
// (DESIGN §4, §5, §7). Every test ends by checking that the ledger conserved every asset and
// that its indexes agree with its contracts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "workflow_fixture.h"

namespace sc::workflow_test {
namespace {

using namespace std::chrono_literals;
using S = Status;

const std::vector<Status> kHappyPath = {
    S::kPending,   S::kInitiated, S::kSellerSecuritiesLocked, S::kBuyerCashLocked, S::kExecuting,
    S::kConfirmed, S::kSettled};

class WorkflowLifecycle : public WorkflowTest {};

TEST_F(WorkflowLifecycle, HappyPathSettlesWithEveryAuditEventInOrder) {
  credit("acc_seller", "AAPL", "100", "securities");
  credit("acc_buyer", "USDC", "10000", "cash");
  Settlement s = submit("trd_happy", "50", "7524.00");

  EXPECT_EQ(drain(), 1);
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kSettled);
  EXPECT_EQ(eventStatuses(s), kHappyPath);
  EXPECT_EQ(now.settled_quantity, D("50"));
  EXPECT_EQ(now.settled_amount, D("7524"));
  EXPECT_TRUE(now.locked_quantity.isZero());
  EXPECT_TRUE(now.locked_amount.isZero());
  EXPECT_FALSE(now.dvp_contract_id.empty());
  EXPECT_FALSE(now.buyer_securities_ledger_ref.empty());
  EXPECT_FALSE(now.seller_cash_ledger_ref.empty());
  ASSERT_FALSE(now.dvp_atomic_transaction_id.empty());
  auto update = ledger_->updateById(now.dvp_atomic_transaction_id);
  ASSERT_TRUE(update.ok() && update->has_value());
  EXPECT_EQ((*update)->command_id, Workflow::commandId(now, "settle"));
  ASSERT_TRUE(now.initiated_at && now.confirmed_at && now.settled_at);
  EXPECT_FALSE(now.failed_at.has_value());
  EXPECT_TRUE(now.failure_code.empty());
  EXPECT_EQ(now.retry_count, 0);

  // Both legs moved, atomically, exactly once.
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524"));
  EXPECT_EQ(free("acc_buyer", "USDC"), D("2476"));
  expectLedgerConserved();

  // The audit rows carry the ledger references of their step.
  auto ev = events(s);
  ASSERT_EQ(ev.size(), kHappyPath.size());
  auto initiated = nlohmann::json::parse(ev[1].details);
  EXPECT_EQ(initiated["dvp_contract_id"], now.dvp_contract_id);
  auto confirmed = nlohmann::json::parse(ev[5].details);
  EXPECT_EQ(confirmed["dvp_atomic_transaction_id"], now.dvp_atomic_transaction_id);
  for (size_t i = 1; i < ev.size(); ++i) EXPECT_LT(ev[i - 1].position, ev[i].position);

  // Nothing is due any more.
  clock_.advance(24h);
  EXPECT_EQ(wf().runOnce().value(), 0);
}

TEST_F(WorkflowLifecycle, FutureSettlementDateStaysConfirmedUntilThatDate) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  const Date t_plus_2 = kTradeDate + std::chrono::days(2);
  Settlement s = submit("trd_t2", "50", "7524.00", false, t_plus_2);

  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kConfirmed);
  EXPECT_EQ(now.next_attempt_at, startOf(t_plus_2));
  // Confirmed means the DvP committed: the buyer already holds the securities.
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  expectLedgerConserved();

  // Not due before the settlement date, even well after the deadline.
  clock_.set(startOf(t_plus_2) - 1s);
  EXPECT_EQ(wf().runOnce().value(), 0);
  EXPECT_EQ(load(s).status, S::kConfirmed);

  clock_.set(startOf(t_plus_2));
  drain();
  now = load(s);
  EXPECT_EQ(now.status, S::kSettled);
  EXPECT_EQ(now.settled_at, startOf(t_plus_2));
  EXPECT_EQ(eventStatuses(s), kHappyPath);
  expectLedgerConserved();
}

TEST_F(WorkflowLifecycle, InsufficientSecuritiesFailsAtOnceAndHoldsNoLocks) {
  credit("acc_seller", "AAPL", "10", "securities");
  credit("acc_buyer", "USDC", "10000", "cash");
  Settlement s = submit("trd_nosec", "50", "7524.00");

  drain();  // no clock movement: no retry happened
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failure_code, "insufficient_securities");
  EXPECT_EQ(now.failed_step, "initiated");
  EXPECT_NE(now.failure_reason.find("AAPL"), std::string::npos) << now.failure_reason;
  EXPECT_EQ(now.retry_count, 0);
  EXPECT_TRUE(now.failed_at.has_value());
  EXPECT_EQ(eventStatuses(s), (std::vector<Status>{S::kPending, S::kInitiated, S::kFailed}));
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal());
  EXPECT_EQ(lockedOf("acc_buyer", "USDC"), Decimal());
  EXPECT_EQ(free("acc_seller", "AAPL"), D("10"));
  EXPECT_EQ(free("acc_buyer", "USDC"), D("10000"));
  expectLedgerConserved();
  clock_.advance(1h);
  EXPECT_EQ(wf().runOnce().value(), 0);  // FAILED rests until an operator retries
}

TEST_F(WorkflowLifecycle, InsufficientCashFailsAndReleasesTheSecuritiesLock) {
  credit("acc_seller", "AAPL", "80", "securities");
  credit("acc_buyer", "USDC", "100", "cash");
  Settlement s = submit("trd_nocash", "50", "7524.00");

  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failure_code, "insufficient_cash");
  EXPECT_EQ(now.failed_step, "seller_securities_locked");
  EXPECT_TRUE(now.locked_quantity.isZero());
  auto path = eventStatuses(s);
  expectLegalPath(path);
  EXPECT_EQ(path.back(), S::kFailed);
  EXPECT_NE(std::find(path.begin(), path.end(), S::kSellerSecuritiesLocked), path.end());
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal());
  EXPECT_EQ(free("acc_seller", "AAPL"), D("80"));
  EXPECT_EQ(free("acc_buyer", "USDC"), D("100"));
  EXPECT_EQ(free("acc_buyer", "AAPL"), Decimal());
  expectLedgerConserved();
}

// The buyer's cash sits on the "cash" synchronizer, which is down: the lock_cash step fails
// with a retryable error and is retried with exponential backoff until the attempts run out.
TEST_F(WorkflowLifecycle, OutageRetriesWithBackoffThenFailsWithLocksReleased) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  ledger_->setOutage("cash", true);
  Settlement s = submit("trd_outage", "50", "7524.00");

  drain();
  Settlement now = load(s);
  Duration base = options_.retry_delay;
  for (int attempt = 1; attempt <= options_.retry_attempts; ++attempt) {
    SCOPED_TRACE("retry " + std::to_string(attempt));
    EXPECT_EQ(now.status, S::kSellerSecuritiesLocked);
    EXPECT_EQ(now.retry_count, attempt);
    EXPECT_EQ(now.step_attempt, attempt);
    EXPECT_NE(now.last_error.find("ledger_unavailable"), std::string::npos) << now.last_error;
    // Exponential backoff with equal jitter: in [d/2, d], d = base * 2^(attempt-1).
    Duration d = base * (1 << (attempt - 1));
    EXPECT_GE(now.next_attempt_at - clock_.now(), d / 2);
    EXPECT_LE(now.next_attempt_at - clock_.now(), d);
    EXPECT_EQ(lockedOf("acc_seller", "AAPL"), D("50"));  // still locked while retrying
    // Not due before the backoff has passed.
    clock_.set(now.next_attempt_at - 1us);
    EXPECT_EQ(wf().runOnce().value(), 0);
    clock_.set(now.next_attempt_at);
    drain();
    now = load(s);
  }
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failure_code, "ledger_unavailable");
  EXPECT_EQ(now.failed_step, "seller_securities_locked");
  EXPECT_EQ(now.retry_count, options_.retry_attempts);
  auto path = eventStatuses(s);
  expectLegalPath(path);
  EXPECT_EQ(path, (std::vector<Status>{S::kPending, S::kInitiated, S::kSellerSecuritiesLocked,
                                       S::kFailed}));
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal());
  EXPECT_EQ(free("acc_seller", "AAPL"), D("50"));
  ledger_->setOutage("cash", false);
  expectLedgerConserved();
}

TEST_F(WorkflowLifecycle, OutageThatRecoversBeforeAttemptsRunOutSettles) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  ledger_->setOutage("cash", true);
  Settlement s = submit("trd_blip", "50", "7524.00");

  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kSellerSecuritiesLocked);
  EXPECT_EQ(now.retry_count, 1);
  clock_.set(now.next_attempt_at);
  drain();
  now = load(s);
  EXPECT_EQ(now.retry_count, 2);

  ledger_->setOutage("cash", false);
  clock_.set(now.next_attempt_at);
  drain();
  now = load(s);
  EXPECT_EQ(now.status, S::kSettled);
  EXPECT_EQ(now.retry_count, 2);
  EXPECT_EQ(now.step_attempt, 0);
  EXPECT_EQ(eventStatuses(s), kHappyPath);  // retries reschedule; they add no audit row
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524"));
  expectLedgerConserved();
}

// The settlement synchronizer goes down exactly when the DvP is about to settle: the settle is
// retried, then given up; the locks (now on the settlement synchronizer) can only be released
// once it is back. Until then the settlement must stay non-terminal; afterwards it is FAILED
// and nothing moved.
TEST_F(WorkflowLifecycle, SettleStepOutageExhaustingRetriesFailsAndMovesNothing) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  ScriptedLedger scripted(*ledger_);
  scripted.downOnSettle("settlement");
  auto flow = makeWorkflow(nullptr, &scripted);
  Settlement s = submit("trd_settle_outage", "50", "7524.00");

  drain(flow.get());
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kExecuting);
  for (int i = 0; i < options_.retry_attempts + 3; ++i) {
    clock_.set(std::max(clock_.now(), now.next_attempt_at));
    drain(flow.get());
    now = load(s);
    ASSERT_NE(now.status, S::kConfirmed) << "confirmed a DvP that never settled";
    ASSERT_NE(now.status, S::kSettled) << "settled a DvP that never settled";
  }
  EXPECT_EQ(now.status, S::kExecuting);  // giving up, but the locks are not released yet
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), D("50"));

  ledger_->setOutage("settlement", false);
  clock_.set(now.next_attempt_at);
  drain(flow.get());
  now = load(s);
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failure_code, "ledger_unavailable");
  EXPECT_EQ(now.failed_step, "executing");
  EXPECT_TRUE(now.settled_quantity.isZero());
  EXPECT_TRUE(now.dvp_atomic_transaction_id.empty());
  expectLegalPath(eventStatuses(s));
  EXPECT_EQ(free("acc_buyer", "AAPL"), Decimal());
  EXPECT_EQ(free("acc_seller", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_buyer", "USDC"), D("7524"));
  expectLedgerConserved();
}

TEST_F(WorkflowLifecycle, DeadlineFailsAndReleasesLocks) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  ledger_->setOutage("cash", true);
  options_.retry_attempts = 100;  // only the deadline can stop it
  workflow_ = makeWorkflow();
  Settlement s = submit("trd_deadline", "50", "7524.00");

  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kSellerSecuritiesLocked);
  EXPECT_EQ(now.deadline_at, kT0 + options_.timeout);
  int rounds = 0;
  while (now.status != S::kFailed && rounds++ < 50) {
    EXPECT_LE(now.next_attempt_at, now.deadline_at);  // never scheduled past the deadline
    clock_.set(now.next_attempt_at);
    drain();
    now = load(s);
  }
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failure_code, "settlement_timeout");
  EXPECT_EQ(now.failed_step, "seller_securities_locked");
  EXPECT_GE(clock_.now(), now.deadline_at);
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal());
  EXPECT_EQ(free("acc_seller", "AAPL"), D("50"));
  ledger_->setOutage("cash", false);
  expectLedgerConserved();
}

TEST_F(WorkflowLifecycle, DeadlinePassedWhileNobodyWorkedFailsWithoutTouchingTheLedger) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  Settlement s = submit("trd_late", "50", "7524.00");
  clock_.advance(options_.timeout + 1s);  // e.g. every worker was down
  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failure_code, "settlement_timeout");
  EXPECT_EQ(now.failed_step, "pending");
  EXPECT_EQ(free("acc_seller", "AAPL"), D("50"));
  expectLedgerConserved();
}

// --- partial settlement -----------------------------------------------------------------------

class WorkflowPartial : public WorkflowTest {};

TEST_F(WorkflowPartial, SellerWithThirtyOfFiftySettlesProRataThenTheRemainderIsRecycled) {
  credit("acc_seller", "AAPL", "30", "securities");
  credit("acc_buyer", "USDC", "10000", "cash");
  Settlement s = submit("trd_partial", "50", "7524.00000001", true);

  drain();
  Settlement now = load(s);
  ASSERT_EQ(now.status, S::kPartiallySettled);
  EXPECT_EQ(now.settled_quantity, D("30"));
  // 7524.00000001 * 30 / 50 = 4514.400000006 → 4514.40000001 (half-even, 8 dp)
  EXPECT_EQ(now.settled_amount, D("4514.40000001"));
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("30"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("4514.40000001"));
  EXPECT_GT(now.next_attempt_at, clock_.now());
  expectLedgerConserved();
  auto ev = events(s);
  ASSERT_FALSE(ev.empty());
  auto details = nlohmann::json::parse(ev.back().details);
  EXPECT_EQ(details["remaining_quantity"], "20.00000000");
  EXPECT_EQ(details["remaining_amount"], "3009.60000000");

  credit("acc_seller", "AAPL", "20", "securities");
  clock_.set(now.next_attempt_at);
  drain();
  now = load(s);
  EXPECT_EQ(now.status, S::kSettled);
  EXPECT_EQ(now.settled_quantity, D("50"));
  EXPECT_EQ(now.settled_amount, D("7524.00000001"));  // adds up exactly
  EXPECT_EQ(now.retry_count, 1);
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524.00000001"));
  EXPECT_EQ(free("acc_buyer", "USDC"), D("2475.99999999"));
  auto path = eventStatuses(s);
  expectLegalPath(path);
  EXPECT_EQ(std::count(path.begin(), path.end(), S::kPartiallySettled), 1);
  expectLedgerConserved();
}

// 100.00000001 for 3 units, delivered one unit at a time: every part is rounded half-even and
// the parts still add up to the trade's amount to the last unit.
TEST_F(WorkflowPartial, PartsDeliveredOneAtATimeAddUpToTheAmountExactly) {
  options_.retry_attempts = 5;
  workflow_ = makeWorkflow();
  credit("acc_seller", "AAPL", "1", "securities");
  credit("acc_buyer", "USDC", "1000", "cash");
  Settlement s = submit("trd_thirds", "3", "100.00000001", true);

  std::vector<Decimal> paid;
  Decimal before;
  for (int part = 1; part <= 3; ++part) {
    SCOPED_TRACE("part " + std::to_string(part));
    drain();
    Settlement now = load(s);
    paid.push_back(now.settled_amount.sub(before).value());
    before = now.settled_amount;
    EXPECT_EQ(now.settled_quantity, Decimal::fromInteger(part).value());
    if (part < 3) {
      ASSERT_EQ(now.status, S::kPartiallySettled);
      credit("acc_seller", "AAPL", "1", "securities");
      clock_.set(now.next_attempt_at);
    } else {
      EXPECT_EQ(now.status, S::kSettled);
    }
    expectLedgerConserved();
  }
  // 100.00000001 / 3 = 33.333333336…; the remainder 66.66666667 / 2 = 33.333333335 → …34 (even);
  // the last part takes what is left.
  EXPECT_EQ(paid, (std::vector<Decimal>{D("33.33333334"), D("33.33333334"), D("33.33333333")}));
  EXPECT_EQ(free("acc_seller", "USDC"), D("100.00000001"));
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("3"));
}

// Pro-rata cash of a later part must be computed as the ledger computes it, from the remainder
// (amount still due × delivered / quantity still due), or the ledger refuses the settle.
TEST_F(WorkflowPartial, LaterPartsLockTheCashTheRemainderDvpAsksFor) {
  options_.retry_attempts = 5;
  workflow_ = makeWorkflow();
  credit("acc_seller", "AAPL", "1", "securities");
  credit("acc_buyer", "USDC", "1000", "cash");
  // 100.0000001 for 4: a quarter is 25.000000025 → 25.00000002; the remainder 75.00000008 for 3
  // gives 25.00000002(67) → 25.00000003 for the second unit, not the 25.00000002 of a quarter.
  Settlement s = submit("trd_quarters", "4", "100.0000001", true);
  for (int part = 1; part <= 4; ++part) {
    SCOPED_TRACE("part " + std::to_string(part));
    drain();
    Settlement now = load(s);
    ASSERT_EQ(now.settled_quantity, Decimal::fromInteger(part).value())
        << toString(now.status) << " " << now.failure_code << ": " << now.failure_reason;
    if (part < 4) {
      ASSERT_EQ(now.status, S::kPartiallySettled);
      credit("acc_seller", "AAPL", "1", "securities");
      clock_.set(now.next_attempt_at);
    } else {
      EXPECT_EQ(now.status, S::kSettled);
      EXPECT_EQ(now.settled_amount, D("100.0000001"));
    }
  }
  EXPECT_EQ(free("acc_seller", "USDC"), D("100.0000001"));
  EXPECT_EQ(free("acc_buyer", "USDC"), D("899.9999999"));
  expectLedgerConserved();
}

TEST_F(WorkflowPartial, RemainderNeverDeliveredFailsAfterTheRetriesWithNoLocks) {
  credit("acc_seller", "AAPL", "30", "securities");
  credit("acc_buyer", "USDC", "10000", "cash");
  Settlement s = submit("trd_partial_fail", "50", "7500", true);
  drain();
  Settlement now = load(s);
  ASSERT_EQ(now.status, S::kPartiallySettled);
  for (int i = 0; i < 10 && now.status != S::kFailed; ++i) {
    clock_.set(std::max(clock_.now(), now.next_attempt_at));
    drain();
    now = load(s);
  }
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.settled_quantity, D("30"));  // the part that settled is final
  EXPECT_EQ(now.settled_amount, D("4500"));
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("30"));
  expectLegalPath(eventStatuses(s));
  expectLedgerConserved();
}

// --- operator retry ---------------------------------------------------------------------------

class WorkflowRetry : public WorkflowTest {};

TEST_F(WorkflowRetry, RetryOfAFailedSettlementResumesAtPendingWithAFreshDvpAndSettles) {
  credit("acc_seller", "AAPL", "10", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  Settlement s = submit("trd_retry", "50", "7524.00");
  drain();
  Settlement failed = load(s);
  ASSERT_EQ(failed.status, S::kFailed);

  credit("acc_seller", "AAPL", "40", "securities");
  clock_.advance(1h);
  auto r = wf().retry(s.id, "holdings credited");
  ASSERT_TRUE(r.ok()) << r.error().message;
  // Failing archived the DvP with the release (the fence against late commands), so the
  // earliest step whose effect is not in place is creating a DvP.
  EXPECT_EQ(r->status, S::kPending);
  EXPECT_EQ(r->retry_count, failed.retry_count + 1);
  auto old_dvp = ledger_->dvp(failed.dvp_contract_id);
  ASSERT_TRUE(old_dvp.ok() && old_dvp.value().has_value());
  EXPECT_FALSE(old_dvp.value()->active);
  Settlement stored = load(s);
  EXPECT_EQ(stored.status, S::kPending);
  EXPECT_EQ(stored.round, failed.round + 1);
  EXPECT_TRUE(stored.failure_code.empty());
  EXPECT_EQ(stored.deadline_at, clock_.now() + options_.timeout);
  EXPECT_TRUE(stored.dvp_contract_id.empty());

  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kSettled) << now.failure_code << ": " << now.failure_reason;
  auto path = eventStatuses(s);
  expectLegalPath(path);
  EXPECT_EQ(path,
            (std::vector<Status>{S::kPending, S::kInitiated, S::kFailed, S::kPending, S::kInitiated,
                                 S::kSellerSecuritiesLocked, S::kBuyerCashLocked, S::kExecuting,
                                 S::kConfirmed, S::kSettled}));
  EXPECT_NE(load(s).dvp_contract_id, failed.dvp_contract_id);
  auto retried = nlohmann::json::parse(events(s)[3].details);
  EXPECT_EQ(retried["retry"], true);
  EXPECT_EQ(retried["reason"], "holdings credited");
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524"));
  expectLedgerConserved();
}

// A lock that was taken and released in round 0 must not be mistaken for a lock of round 1:
// the retried round's command ids differ, so the ledger does not answer from round 0.
TEST_F(WorkflowRetry, RetryAfterCashFailureLocksAfreshAndSettles) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "100", "cash");
  Settlement s = submit("trd_retry_cash", "50", "7524.00");
  drain();
  ASSERT_EQ(load(s).status, S::kFailed);
  ASSERT_EQ(load(s).failure_code, "insufficient_cash");

  credit("acc_buyer", "USDC", "7424", "cash");
  ASSERT_TRUE(wf().retry(s.id, "cash credited").ok());
  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kSettled) << now.failure_code << ": " << now.failure_reason;
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524"));
  expectLedgerConserved();
}

TEST_F(WorkflowRetry, RetryOfAFailedSettlementWithoutDvpResumesAtPending) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  ledger_->setOutage("settlement", true);  // the DvP cannot even be created
  Settlement s = submit("trd_retry_pending", "50", "7524.00");
  Settlement now = load(s);
  for (int i = 0; i < 10 && now.status != S::kFailed; ++i) {
    clock_.set(std::max(clock_.now(), now.next_attempt_at));
    drain();
    now = load(s);
  }
  ASSERT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failed_step, "pending");
  EXPECT_TRUE(now.dvp_contract_id.empty());

  ledger_->setOutage("settlement", false);
  auto r = wf().retry(s.id, "synchronizer back");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, S::kPending);
  drain();
  EXPECT_EQ(load(s).status, S::kSettled);
  expectLedgerConserved();
}

TEST_F(WorkflowRetry, RetryOfASettlementThatIsNotFailedIsInvalidState) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  Settlement pending = submit("trd_not_failed_1", "10", "1000");
  auto r = wf().retry(pending.id, "why not");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_state");
  EXPECT_NE(r.error().message.find("pending"), std::string::npos) << r.error().message;

  drain();
  ASSERT_EQ(load(pending).status, S::kSettled);
  r = wf().retry(pending.id, "again");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_state");
  EXPECT_NE(r.error().message.find("settled"), std::string::npos) << r.error().message;
  EXPECT_EQ(load(pending).retry_count, 0);
  EXPECT_EQ(eventStatuses(pending), kHappyPath);

  auto missing = wf().retry(Uuid::generateV7(), "ghost");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "settlement_not_found");
  expectLedgerConserved();
}

// --- crash between the ledger commit and the database commit --------------------------------

class WorkflowCrash : public WorkflowTest {};

TEST_F(WorkflowCrash, LostDatabaseCommitIsRedoneAndTheLedgerDeduplicates) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  FlakySettlementRepository flaky(repo());
  auto flow = makeWorkflow(&flaky);
  Settlement s = submit("trd_crash", "50", "7524.00");

  flaky.failNextWriteRecording(S::kSettled);
  auto r = flow->runOnce();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(flaky.failedWrites(), 1);
  // The ledger settled; the database still says pending, leased by the "crashed" worker.
  EXPECT_EQ(load(s).status, S::kPending);
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  const uint64_t records = ledger_->stats().records_written;
  EXPECT_EQ(flow->runOnce().value(), 0);  // the lease still holds

  clock_.advance(options_.lease + 1s);
  drain(flow.get());
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kSettled);
  EXPECT_EQ(eventStatuses(s), kHappyPath);
  // Nothing settled twice: every step was answered from its completion.
  EXPECT_EQ(ledger_->stats().records_written, records);
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524"));
  EXPECT_EQ(free("acc_seller", "AAPL"), Decimal());
  expectLedgerConserved();
}

// Crash after the locks of a failing settlement were released but before FAILED was recorded;
// meanwhile the buyer's cash arrives. The settlement must not resume the released round as if
// its locks still existed (answered from stale completions): it ends FAILED with no lock left.
TEST_F(WorkflowCrash, LostFailedCommitAfterReleaseNeverResumesTheReleasedRound) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "100", "cash");
  FlakySettlementRepository flaky(repo());
  auto flow = makeWorkflow(&flaky);
  Settlement s = submit("trd_crash_release", "50", "7524.00");

  flaky.failNextWriteRecording(S::kFailed);
  for (int i = 0; i < 5 && flaky.failedWrites() == 0; ++i) (void)flow->runOnce();
  ASSERT_EQ(flaky.failedWrites(), 1);
  EXPECT_NE(load(s).status, S::kFailed);
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal());  // released on the ledger

  credit("acc_buyer", "USDC", "7424", "cash");
  clock_.advance(options_.lease + 1s);
  drain(flow.get());
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kFailed) << "resumed a released round";
  EXPECT_EQ(now.failure_code, "insufficient_cash");
  EXPECT_TRUE(now.dvp_atomic_transaction_id.empty());
  expectLegalPath(eventStatuses(s));
  EXPECT_EQ(free("acc_buyer", "AAPL"), Decimal());
  EXPECT_EQ(free("acc_buyer", "USDC"), D("7524"));
  EXPECT_EQ(free("acc_seller", "AAPL"), D("50"));
  expectLedgerConserved();

  // And the operator's retry settles it, once.
  ASSERT_TRUE(flow->retry(s.id, "cash arrived").ok());
  drain(flow.get());
  EXPECT_EQ(load(s).status, S::kSettled);
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  expectLedgerConserved();
}

// Crash while failing at PENDING after the DvP (and locks) were created in a lost batch: the
// failure must still release whatever the lost batch locked.
TEST_F(WorkflowCrash, DeadlineAfterALostBatchReleasesTheLocksItTook) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  ScriptedLedger scripted(*ledger_);
  scripted.downOnSettle("settlement");
  FlakySettlementRepository flaky(repo());
  auto flow = makeWorkflow(&flaky, &scripted);
  Settlement s = submit("trd_crash_pending", "50", "7524.00");

  flaky.failNextWriteRecording(S::kExecuting);
  ASSERT_FALSE(flow->runOnce().ok());
  EXPECT_EQ(load(s).status, S::kPending);
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), D("50"));
  ledger_->setOutage("settlement", false);

  clock_.advance(options_.timeout + 1s);  // nobody came back before the deadline
  drain(flow.get());
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failure_code, "settlement_timeout");
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal());
  EXPECT_EQ(lockedOf("acc_buyer", "USDC"), Decimal());
  expectLedgerConserved();
}

}  // namespace
}  // namespace sc::workflow_test

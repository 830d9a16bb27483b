// The lifecycle of DESIGN §4 on the real store and the real embedded ledger, driven by a fake clock
// (DESIGN §4, §5, §7): the happy path, a future settlement date, insufficient holdings, outages,
// deadlines. Every test ends by checking that the ledger conserved every asset and that its
// indexes agree with its contracts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "domain/command_ids.h"
#include "workflow_fixture.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using S = Status;

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
  EXPECT_EQ((*update)->command_id, commandId(now, "settle"));
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
  creditTheStandardTrade();
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
  creditTheStandardTrade();
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
  creditTheStandardTrade();
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

// Many attempts per step (a cluster that rides out a participant restart and contention): the
// backoff doubles up to SETTLEMENT_RETRY_MAX_DELAY_SECONDS and stays there, so a step that met
// many transient errors is tried again within that bound, not hours later (2^19 base delays).
TEST_F(WorkflowLifecycle, BackoffStopsGrowingAtTheLongestDelay) {
  options_.retry_attempts = 20;
  options_.retry_delay = std::chrono::seconds(1);
  options_.retry_max_delay = std::chrono::seconds(10);
  auto flow = makeWorkflow();
  creditTheStandardTrade();
  ledger_->setOutage("cash", true);
  Settlement s = submit("trd_long_outage", "50", "7524.00");

  drain(flow.get());
  Settlement now = load(s);
  for (int attempt = 1; attempt < options_.retry_attempts; ++attempt) {
    SCOPED_TRACE("retry " + std::to_string(attempt));
    ASSERT_EQ(now.step_attempt, attempt);
    // d = min(base * 2^(attempt-1), longest); the delay is in [d/2, d].
    Duration d =
        std::min<Duration>(options_.retry_delay * (1 << (attempt - 1)), options_.retry_max_delay);
    EXPECT_GE(now.next_attempt_at - clock_.now(), d / 2);
    EXPECT_LE(now.next_attempt_at - clock_.now(), d);
    clock_.set(now.next_attempt_at);
    drain(flow.get());
    now = load(s);
  }
  ledger_->setOutage("cash", false);
  clock_.set(now.next_attempt_at);
  drain(flow.get());
  EXPECT_EQ(load(s).status, S::kSettled);
  expectLedgerConserved();
}

// The participant is pruned past a failing round's floor just before its locks are released:
// the release is refused (ledger_pruned: whether it already ran can no longer be told from that
// floor). It is submitted again from the pruned offset; its DvP is still active there, so nothing
// settled it: the locks come back and the settlement is FAILED, not parked with its locks held.
TEST_F(WorkflowLifecycle, AReleaseRefusedBelowThePrunedOffsetIsSubmittedAgainFromIt) {
  credit("acc_seller", "AAPL", "80", "securities");
  credit("acc_buyer", "USDC", "100", "cash");
  ScriptedLedger scripted(workflowLedger(), *ledger_);
  scripted.beforeFirst<ledger::ReleaseLocks>([&] {
    credit("acc_buyer", "USDC", "1", "cash");  // the ledger moves past the round's floor
    credit("acc_buyer", "USDC", "1", "cash");
    pruneParticipant();
  });
  auto flow = makeWorkflow(nullptr, &scripted);
  Settlement s = submit("trd_release_pruned", "50", "7524.00");

  drain(flow.get());
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kFailed) << now.last_error;
  EXPECT_EQ(now.failure_code, "insufficient_cash");
  EXPECT_EQ(now.last_error.rfind("ledger_pruned", 0), 0u) << "the first release was not refused";
  EXPECT_EQ(flow->metrics().parked.value(), 0u);
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal());
  EXPECT_EQ(free("acc_seller", "AAPL"), D("80"));
  EXPECT_EQ(free("acc_buyer", "AAPL"), Decimal());
  expectLegalPath(eventStatuses(s));
  expectLedgerConserved();
}

// The round settled on the ledger, but the database never learnt it (the batch's write was
// lost), and the participant was then pruned past the settle: the deadline fails the round, and
// its release is refused below the pruned offset. Submitted again from there, the release finds
// nothing to release (the settle archived the DvP) and no completion of its own: whether the
// round settled or was released can no longer be told, so the settlement is parked, never
// recorded FAILED (an operator's retry would settle the trade a second time). Parked retries are
// at the longest backoff, jittered, counted; they stay parked.
TEST_F(WorkflowLifecycle, ARoundSettledBelowThePrunedOffsetIsParkedNeverFailed) {
  creditTheStandardTrade();
  ScriptedLedger scripted(workflowLedger(), *ledger_);
  scripted.downOnSettle("settlement");
  FlakySettlementRepository flaky(repo());
  auto flow = makeWorkflow(&flaky, &scripted);
  Settlement s = submit("trd_settled_pruned", "50", "7524.00");

  drain(flow.get());
  ASSERT_EQ(load(s).status, S::kExecuting);
  ledger_->setOutage("settlement", false);
  flaky.failNextWriteRecording(S::kConfirmed);
  clock_.set(load(s).next_attempt_at);
  ASSERT_FALSE(flow->runOnce().ok());
  ASSERT_EQ(flaky.failedWrites(), 1);
  ASSERT_EQ(free("acc_buyer", "AAPL"), D("50")) << "the settle committed on the ledger";
  credit("acc_seller", "AAPL", "1", "securities");
  credit("acc_seller", "AAPL", "1", "securities");
  pruneParticipant();

  clock_.set(load(s).deadline_at + options_.lease + std::chrono::seconds(1));
  drain(flow.get());
  Settlement now = load(s);
  EXPECT_NE(now.status, S::kFailed) << "a settled round recorded FAILED";
  EXPECT_EQ(now.failure_code, "settlement_timeout");
  EXPECT_EQ(now.last_error.rfind("ledger_pruned", 0), 0u) << now.last_error;
  EXPECT_NE(now.last_error.find("submitted again from offset"), std::string::npos)
      << "parked without the release being submitted again: " << now.last_error;
  EXPECT_GE(now.next_attempt_at, clock_.now() + options_.retry_max_delay / 2);
  EXPECT_LE(now.next_attempt_at, clock_.now() + options_.retry_max_delay);
  EXPECT_EQ(flow->metrics().parked.value(), 1u);
  // Still parked at the next attempt: the release's completion from the pruned offset (a no-op)
  // is not taken for the round's end.
  clock_.set(now.next_attempt_at);
  drain(flow.get());
  now = load(s);
  EXPECT_NE(now.status, S::kFailed) << "a settled round recorded FAILED";
  EXPECT_EQ(flow->metrics().parked.value(), 2u);
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524"));
}

// The settlement synchronizer goes down exactly when the DvP is about to settle: the settle is
// retried, then given up; the locks (now on the settlement synchronizer) can only be released
// once it is back. Until then the settlement must stay non-terminal; afterwards it is FAILED
// and nothing moved.
TEST_F(WorkflowLifecycle, SettleStepOutageExhaustingRetriesFailsAndMovesNothing) {
  creditTheStandardTrade();
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
  creditTheStandardTrade();
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
  creditTheStandardTrade();
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

}  // namespace
}  // namespace sc::test

// Crash windows and fencing found in review: a lost database commit after the settle, a lock
// caught in flight when the settlement fails, a worker whose lease expired mid-step. Each must end
// with the ledger and the database agreeing, nothing settled twice and nothing left locked.
#include <gtest/gtest.h>

#include "workflow_fixture.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using S = Status;

class CrashWindow : public WorkflowTest {};

TEST_F(CrashWindow, LostCommitAfterTheSettleThenThePassedDeadlineStillConfirms) {
  creditTheStandardTrade();
  FlakySettlementRepository flaky(repo());
  auto flow = makeWorkflow(&flaky);
  Settlement s = submit("trd_lost_settle", "50", "7524.00");
  flaky.failNextWriteRecording(S::kSettled);
  ASSERT_FALSE(flow->runOnce().ok());  // the ledger settled; the database kept PENDING
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  clock_.advance(options_.timeout + 1s);  // nobody came back before the deadline
  Settlement now = driveToRest(s, flow.get());
  EXPECT_EQ(now.status, S::kSettled) << now.failure_code << ": " << now.failure_reason;
  EXPECT_EQ(now.settled_quantity, D("50"));
  EXPECT_FALSE(now.dvp_atomic_transaction_id.empty());
  // An operator's retry cannot deliver it again.
  EXPECT_EQ(flow->retry(s.id, "ops").error().code, "invalid_state");
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  expectLegalPath(eventStatuses(s));
  expectLedgerConserved();
}

TEST_F(CrashWindow, LockCaughtInFlightIsAssignedAndReleasedWhenTheSettlementFails) {
  creditTheStandardTrade();
  ScriptedLedger ledger(*ledger_);
  ledger.beforeFirst<ledger::ReassignLocks>([&] { ledger_->setErrorRate("settlement", 1.0, 3); });
  auto flow = makeWorkflow(nullptr, &ledger);
  Settlement s = submit("trd_in_flight", "50", "7524.00");
  drain(flow.get());
  // The unassign went through, every assign fails: the locks are in flight.
  ledger_->setErrorRate("settlement", 0.0, 3);
  ledger_->setOutage("settlement", true);
  Settlement now = driveToRest(s, flow.get(), 12);
  EXPECT_EQ(now.status, S::kBuyerCashLocked);  // failing, but the release waits for its target
  EXPECT_FALSE(now.failure_code.empty());
  ledger_->setOutage("settlement", false);
  now = driveToRest(s, flow.get());
  EXPECT_EQ(now.status, S::kFailed) << now.last_error;
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal());
  EXPECT_EQ(lockedOf("acc_buyer", "USDC"), Decimal());
  EXPECT_EQ(free("acc_seller", "AAPL"), D("50"));
  expectLegalPath(eventStatuses(s));
  expectLedgerConserved();
}

TEST_F(CrashWindow, WorkerWhoseLeaseExpiredCannotLockAfterAnotherFailedTheSettlement) {
  creditTheStandardTrade();
  ledger_->setOutage("cash", true);
  Settlement s = submit("trd_zombie", "50", "7524.00");
  drain();
  Settlement now = load(s);
  ASSERT_EQ(now.status, S::kSellerSecuritiesLocked);
  ledger_->setOutage("cash", false);
  clock_.set(now.next_attempt_at);
  // Worker A stalls right before its LockCash; meanwhile its lease runs out, the deadline
  // passes, and worker B fails the settlement (releasing and archiving the DvP).
  ScriptedLedger stalled(*ledger_);
  auto a = makeWorkflow(nullptr, &stalled);
  auto b = makeWorkflow();
  stalled.beforeFirst<ledger::LockCash>([&] {
    clock_.set(now.deadline_at + options_.lease + 1s);
    driveToRest(s, b.get());
    ASSERT_EQ(load(s).status, S::kFailed);
  });
  (void)a->runOnce();  // A's LockCash now lands on an archived DvP
  now = driveToRest(s, b.get());
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(lockedOf("acc_buyer", "USDC"), Decimal()) << "a FAILED settlement holds a lock";
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal());
  expectLegalPath(eventStatuses(s));
  expectLedgerConserved();
}

}  // namespace
}  // namespace sc::test

// A crash between the ledger commit and the database commit: redone steps are deduplicated by the
// ledger, a released round is never resumed, a lost batch's locks are released.
// (The workflow on the real store and the real embedded ledger, driven by a fake clock; every test
// ends by checking that the ledger conserved every asset and that its indexes agree with its
// contracts: workflow_fixture.h.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "workflow_fixture.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using S = Status;

class WorkflowCrash : public WorkflowTest {};

// The engine as a participant answers through the Canton adapter: a lookup reads the completions
// from its floor on, and a command that changed nothing (a reassignment with every lock in place)
// has no completion, because the adapter submitted nothing for it.
class ParticipantLikeLedger final : public ForwardingLedger {
 public:
  using ForwardingLedger::ForwardingLedger;
  Result<std::optional<ledger::Outcome>> completionAfter(const std::string& c,
                                                         int64_t after) override {
    auto r = ForwardingLedger::completionAfter(c, after);
    if (!r || !*r) return r;
    if ((*r)->update_id.empty() || (*r)->offset < after) return std::optional<ledger::Outcome>{};
    return r;
  }
};

TEST_F(WorkflowCrash, LostDatabaseCommitIsRedoneAndTheLedgerDeduplicates) {
  creditTheStandardTrade();
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
  creditTheStandardTrade();
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

// A worker settles a round whose reassignment moved nothing (both legs were held on the
// settlement synchronizer) and dies before its database commit; the deadline passes before
// another worker comes. Its catch-up must find the settle although the reassignment left no
// completion; else the deadline fences the round, the release finds nothing, and the settlement
// ends FAILED with the securities and the cash already delivered.
TEST_F(WorkflowCrash, ASettleAfterAReassignmentThatMovedNothingIsFoundAfterTheDeadline) {
  credit("acc_seller", "AAPL", "50", "settlement");
  credit("acc_buyer", "USDC", "7524", "settlement");
  ParticipantLikeLedger participant(*ledger_);
  FlakySettlementRepository flaky(repo());
  auto flow = makeWorkflow(&flaky, &participant);
  Settlement s = submit("trd_noop_reassign", "50", "7524.00");

  flaky.failNextWriteRecording(S::kSettled);
  ASSERT_FALSE(flow->runOnce().ok());
  EXPECT_EQ(load(s).status, S::kPending);
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));  // settled on the ledger

  clock_.advance(options_.timeout + 1s);  // nobody came back before the deadline
  drain(flow.get());
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kSettled) << now.failure_code << ": " << now.failure_reason;
  EXPECT_EQ(now.settled_quantity, D("50"));
  EXPECT_FALSE(now.dvp_atomic_transaction_id.empty());
  expectLegalPath(eventStatuses(s));
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524"));
  EXPECT_EQ(free("acc_seller", "AAPL"), Decimal());
  expectLedgerConserved();
}

}  // namespace
}  // namespace sc::test

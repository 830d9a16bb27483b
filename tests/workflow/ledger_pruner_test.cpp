// LedgerPruner (workflow/ledger_pruner.h) over the real workflow, store and embedded ledger: the
// watermark waits for the active settlements, what they resend after pruning is still
// deduplicated, what a finished one resends is refused, and the work goes on to the end.
#include "workflow/ledger_pruner.h"

#include <gtest/gtest.h>

#include "domain/command_ids.h"
#include "workflow_fixture.h"

namespace sc::test {
namespace {

using S = Status;

class LedgerPrunerTest : public WorkflowTest {
 protected:
  void SetUp() override {
    WorkflowTest::SetUp();
    if (canton_) GTEST_SKIP() << "the pruner prunes the embedded ledger (embedded mode only)";
    pruner_ = std::make_unique<workflow::LedgerPruner>(repo(), nullptr, *ledger_,
                                                       workflow::LedgerPrunerOptions{});
  }

  // Resends a command of the settlement as its worker would after a lost answer.
  Result<ledger::Outcome> resend(const Settlement& s, std::string_view step,
                                 ledger::Command command) {
    ledger::Submission sub{commandId(s, step), std::move(command), s.stepFloor()};
    return ledger_->submit(std::span<const ledger::Submission>(&sub, 1)).front();
  }

  std::unique_ptr<workflow::LedgerPruner> pruner_;
};

TEST_F(LedgerPrunerTest, TheWatermarkWaitsForTheActiveSettlementsAndTheWorkGoesOnAfterIt) {
  credit("acc_seller", "AAPL", "150", "securities");
  credit("acc_buyer", "USDC", "30000", "cash");
  ScriptedLedger scripted(*ledger_);
  auto flow = makeWorkflow(nullptr, &scripted);
  Settlement done = driveToRest(submit("trd_done", "50", "7524.00"), flow.get());
  ASSERT_EQ(done.status, S::kSettled);

  // A settlement stopped with its locks taken: the settlement synchronizer goes down just before
  // its reassignment.
  scripted.beforeFirst<ledger::ReassignLocks>([&] { ledger_->setOutage("settlement", true); });
  Settlement waiting = submit("trd_waiting", "50", "7524.00");
  drain(flow.get());
  waiting = load(waiting);
  ASSERT_EQ(waiting.status, S::kBuyerCashLocked);
  ASSERT_GT(waiting.ledger_offset_floor, done.ledger_offset_floor);

  // The first pass only reads the ledger end; the second prunes up to the waiting one's floor.
  auto first = pruner_->runOnce();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(*first);
  EXPECT_EQ(ledger_->prunedBefore(), 0);
  auto second = pruner_->runOnce();
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_TRUE(*second);
  EXPECT_EQ(**second, waiting.ledger_offset_floor);
  EXPECT_EQ(ledger_->prunedBefore(), waiting.ledger_offset_floor);

  // The waiting settlement's lock, resent after a lost answer, is still deduplicated.
  auto again =
      resend(waiting, steps::kLockCash, ledger::LockCash{waiting.dvp_contract_id, D("7524")});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->deduplicated);
  // The finished one's settle, resent by a stale worker, is refused: it could not be deduplicated.
  // (Its worker holds the row as it leased it: no step had completed, its floor the first.)
  Settlement as_leased = done;
  as_leased.step_offset_floor = 0;
  auto stale = resend(as_leased, steps::kSettle, ledger::Settle{done.dvp_contract_id});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ledger::kLedgerPruned);
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50")) << "delivered once";

  // The synchronizer comes back: the waiting settlement finishes, then so does a new one.
  ledger_->setOutage("settlement", false);
  waiting = driveToRest(waiting, flow.get());
  EXPECT_EQ(waiting.status, S::kSettled) << waiting.failure_code << ": " << waiting.failure_reason;
  // Nothing active: the watermark follows the ledger end of the previous pass.
  const int64_t end = ledger_->ledgerEnd();
  ASSERT_TRUE(pruner_->runOnce());
  auto caught_up = pruner_->runOnce();
  ASSERT_TRUE(caught_up && *caught_up);
  EXPECT_EQ(**caught_up, end);
  Settlement later = driveToRest(submit("trd_later", "50", "7524.00"), flow.get());
  EXPECT_EQ(later.status, S::kSettled) << later.failure_code << ": " << later.failure_reason;
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("150"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("22572"));
  expectLegalPath(eventStatuses(waiting));
  expectLedgerConserved();
}

// A row leased for the first time after a pass read the ledger end records a floor at or above
// that end; the next pass prunes no further than that end, even before the row is in the database.
TEST_F(LedgerPrunerTest, TheWatermarkNeverPassesTheLedgerEndOfThePreviousPass) {
  creditTheStandardTrade();
  ASSERT_TRUE(pruner_->runOnce());
  const int64_t read_end = ledger_->ledgerEnd();
  // Work committed between the two passes moves the ledger end on.
  Settlement s = driveToRest(submit("trd_between", "50", "7524.00"));
  ASSERT_EQ(s.status, S::kSettled);
  ASSERT_GT(ledger_->ledgerEnd(), read_end);
  auto second = pruner_->runOnce();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(**second, read_end);
  EXPECT_GE(s.ledger_offset_floor, read_end);
}

}  // namespace
}  // namespace sc::test

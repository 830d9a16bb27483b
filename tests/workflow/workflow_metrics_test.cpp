// The workflow's histograms: confirmation latency from the settlement's own timestamps, observed
// once when CONFIRMED commits; each ledger command timed under its step; leased batch sizes. On
// both stores, with the real ledger, on a fake clock and fake elapsed time.
#include <gtest/gtest.h>

#include "support/forwarding_ledger.h"
#include "workflow_fixture.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

// The ledger, taking exactly `per_submit` of the workflow's elapsed time for every batch.
class SlowLedger final : public ForwardingLedger {
 public:
  SlowLedger(ledger::Ledger& real, FakeElapsed& elapsed, std::chrono::milliseconds per_submit)
      : ForwardingLedger(real), elapsed_(elapsed), per_submit_(per_submit) {}
  std::vector<Result<ledger::Outcome>> submit(std::span<const ledger::Submission> b) override {
    elapsed_.advance(per_submit_);
    return ForwardingLedger::submit(b);
  }

 private:
  FakeElapsed& elapsed_;
  std::chrono::milliseconds per_submit_;
};

const metrics::Histogram& step(const workflow::WorkflowMetrics& m, std::string_view command) {
  for (const auto& [name, h] : m.steps)
    if (name == command) return h;
  ADD_FAILURE() << "no step histogram for " << command;
  return m.steps.front().second;
}

class WorkflowMetricsTest : public WorkflowTest {};

TEST_F(WorkflowMetricsTest, ConfirmationLatencyIsTheSettlementsOwnAndObservedOnce) {
  creditTheStandardTrade();
  Settlement s = submit("trd_metrics_latency", "50", "7524.00");
  clock_.advance(250ms);  // accepted at kT0, confirmed a quarter of a second later
  EXPECT_EQ(drain(), 1);
  ASSERT_EQ(load(s).status, Status::kSettled);
  const auto& m = wf().metrics();
  EXPECT_EQ(m.confirmation_latency.count(), 1u);
  EXPECT_DOUBLE_EQ(m.confirmation_latency.sum(), 0.25);
  EXPECT_EQ(m.confirmed.value(), 1u);

  // Nothing more is due: running again observes nothing twice.
  clock_.advance(1s);
  drain();
  EXPECT_EQ(m.confirmation_latency.count(), 1u);
}

TEST_F(WorkflowMetricsTest, AFailedSettlementIsNoConfirmation) {
  Settlement s = submit("trd_metrics_unfunded", "50", "7524.00");  // nobody holds anything
  ASSERT_EQ(driveToRest(s).status, Status::kFailed);
  EXPECT_EQ(wf().metrics().confirmation_latency.count(), 0u);
  EXPECT_GE(step(wf().metrics(), "release").count() + step(wf().metrics(), "fence").count(), 1u)
      << "a failed settlement gives its round back on the ledger";
}

TEST_F(WorkflowMetricsTest, EveryLedgerCommandIsTimedUnderItsStep) {
  SlowLedger slow(workflowLedger(), elapsed_, 7ms);
  auto w = makeWorkflow(nullptr, &slow);
  creditTheStandardTrade();
  Settlement s = submit("trd_metrics_steps", "50", "7524.00");
  EXPECT_EQ(drain(w.get()), 1);
  ASSERT_EQ(load(s).status, Status::kSettled);
  const auto& m = w->metrics();
  // One settlement: every round's batch held exactly its one command, which took 7 ms.
  for (std::string_view command : {"initiate", "lock_securities", "lock_cash", "settle"}) {
    EXPECT_EQ(step(m, command).count(), 1u) << command;
    EXPECT_NEAR(step(m, command).sum(), 0.007, 1e-9) << command;
  }
  EXPECT_EQ(step(m, "release").count(), 0u);
  EXPECT_EQ(step(m, "fence").count(), 0u);
  // The fixture's own workflow submitted nothing.
  EXPECT_EQ(step(wf().metrics(), "settle").count(), 0u);
}

TEST_F(WorkflowMetricsTest, LeasedBatchSizesAreObserved) {
  creditTheStandardTrade();
  submit("trd_metrics_batch_1", "25", "3762.00");
  submit("trd_metrics_batch_2", "25", "3762.00");
  EXPECT_GE(drain(), 1);
  const auto& m = wf().metrics();
  EXPECT_EQ(m.batch_size.count(), m.batches.value());
  EXPECT_GE(m.batch_size.sum(), 2.0);
  // Every batch counted leased something: an empty lease is no batch.
  EXPECT_GE(m.batch_size.sum(), static_cast<double>(m.batch_size.count()));
}

}  // namespace
}  // namespace sc::test

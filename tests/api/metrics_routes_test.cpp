// GET /metrics is prometheus-cpp's exposition of the live components' probes: a component that is
// destroyed takes its series with it (the registry used to keep raw pointers into dead objects).
#include <memory>
#include <string>

#include "api/test_server.h"
#include "workflow/workflow.h"

namespace sc::test {
namespace {

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

class MetricsRoutes : public ApiServerTest {};

TEST_F(MetricsRoutes, ADestroyedComponentsSeriesLeaveGetMetrics) {
  auto wf = std::make_unique<workflow::Workflow>(repo, accounts, ledger, clock,
                                                 workflow::WorkflowOptions{});
  ASSERT_TRUE(wf->runOnce().ok());  // nothing is due: no batch, but the series exist
  auto live = http().get("/metrics");
  ASSERT_EQ(live.status, 200u);
  EXPECT_TRUE(
      has(live.body, "# TYPE sc_workflow_settled_total counter\nsc_workflow_settled_total 0\n"))
      << live.body;
  EXPECT_TRUE(has(live.body, "sc_ledger_step_seconds_count{command=\"settle\"} 0\n")) << live.body;
  EXPECT_TRUE(has(live.body, "sc_batch_size_count{kind=\"workflow\"} 0\n")) << live.body;

  wf.reset();
  auto after = http().get("/metrics");
  ASSERT_EQ(after.status, 200u);
  EXPECT_FALSE(has(after.body, "sc_workflow_")) << after.body;
  EXPECT_FALSE(has(after.body, "sc_ledger_step_seconds")) << after.body;
  EXPECT_FALSE(has(after.body, "sc_confirmation_latency_seconds")) << after.body;
  EXPECT_FALSE(has(after.body, "kind=\"workflow\"")) << after.body;
  // The components still alive keep theirs: the server's own, the intake's (and its batch sizes).
  EXPECT_TRUE(has(after.body, "\nsc_api_requests_total 1\n")) << after.body;
  EXPECT_TRUE(has(after.body, "\nsc_intake_accepted_total 0\n")) << after.body;
  EXPECT_TRUE(has(after.body, "sc_batch_size_count{kind=\"intake\"} 0\n")) << after.body;
}

TEST_F(MetricsRoutes, ASecondLiveIntakeCountsApartFromTheFirst) {
  auto other =
      std::make_unique<workflow::Intake>(repo, clock, TradeRules{}, std::chrono::seconds(300));
  ASSERT_EQ(http().post("/trades", tradeJson("trd_metrics_1")).status, 201u);
  EXPECT_EQ(intake.metrics().accepted.value(), 1u);
  EXPECT_EQ(other->metrics().accepted.value(), 0u);
  auto m = http().get("/metrics");
  EXPECT_TRUE(has(m.body, "\nsc_intake_accepted_total 1\n")) << m.body;
  EXPECT_TRUE(has(m.body, "\nsc_intake_accepted_total{probe=\"2\"} 0\n")) << m.body;

  other.reset();
  m = http().get("/metrics");
  EXPECT_FALSE(has(m.body, "probe=\"2\"")) << m.body;
  EXPECT_TRUE(has(m.body, "\nsc_intake_accepted_total 1\n")) << m.body;
}

}  // namespace
}  // namespace sc::test

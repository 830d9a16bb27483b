// The reconciler in the built binary (labels kafka, e2e): 10,000 trades over Kafka (1 % of them
// refused by the ledger, so FAILED rows are compared too) settle, the reconciler's watermark
// passes every audit event and every settlement, having compared each with the ledger and with
// settlement.events as its own consumer group read it, and GET /reconciliation reports no drift.
// The waits are for observable conditions, bounded.
#include "e2e/kafka_e2e_fixture.h"

namespace sc::test {
namespace {

constexpr int kTrades = 10000;
constexpr int kRefused = kTrades / 100;  // sellers without securities: FAILED

class ReconciliationE2E : public KafkaE2E {
 protected:
  void configureService(std::map<std::string, std::string>& env) override {
    env["REC_INTERVAL_MS"] = "250";
    env["REC_BATCH"] = "2000";
    env["REC_EVENT_GRACE_MS"] = "2000";
    env["REC_QUIET_MS"] = "2000";
    env["SETTLEMENT_BATCH_SIZE"] = "500";
  }
  Json reconciliation() {
    auto r = http_->get("/reconciliation?limit=20");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.status == 200 ? r.json() : Json::object();
  }
};

TEST_F(ReconciliationE2E, TenThousandTradesReconcileWithoutDrift) {
  TradeFactory f(20241117);
  std::vector<Produced> batch;
  batch.reserve(kTrades);
  for (int i = 0; i < kTrades; ++i)
    batch.push_back(f.valid("trd-rec-" + std::to_string(i), i % (kTrades / kRefused) == 7));
  ASSERT_NO_FATAL_FAILURE(produce(batch));
  ASSERT_TRUE(waitForOutcomes(kTrades - kRefused, kRefused, 150s))
      << "settled " << countWithStatus("settled") << ", failed " << countWithStatus("failed");

  // Every settlement compared, then a pass that finds nothing left to judge: the watermark is at
  // the last audit event.
  ASSERT_TRUE(waitFor(
      [&] {
        Json j = reconciliation();
        if (j.value("checked_settlements", int64_t{0}) < kTrades) return false;
        auto run = http_->post("/reconciliation/run", "", {{"Content-Type", "application/json"}});
        return run.status == 200u && run.json()["blocked"].is_null() && run.json()["checked"] == 0;
      },
      90s, 250ms))
      << reconciliation().dump();

  Json j = reconciliation();
  EXPECT_EQ(j["status"], "clean") << j.dump();
  EXPECT_EQ(j["events_checked"], true);
  EXPECT_EQ(j["role"], "leader");
  EXPECT_GE(j["checked_settlements"].get<int64_t>(), kTrades);
  EXPECT_GE(j["watermark"].get<int64_t>(), 7 * (kTrades - kRefused)) << "every audit event";
  for (auto& [kind, n] : j["open_by_kind"].items()) EXPECT_EQ(n, 0) << kind;
  EXPECT_TRUE(j["findings"].empty()) << j["findings"].dump();

  auto metrics = http_->get("/metrics");
  ASSERT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.body.find("sc_reconciliation_findings{kind=\"ledger_settle_missing\"} 0"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("sc_reconciliation_passes_total"), std::string::npos);
}

}  // namespace
}  // namespace sc::test

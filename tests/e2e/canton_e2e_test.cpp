// The service in canton mode against the built sc-ledger-sandbox, over HTTP, for what only that
// mode has: the ledger's token and the participant going away (the shared suites, kill -9 mid-load
// among them, run in both modes; see e2e_fixture.h).
#include <fstream>

#include "e2e/e2e_fixture.h"

namespace sc::test {
namespace {

class CantonE2e : public E2eTest {
 protected:
  bool useSandbox() const override { return true; }
  std::map<std::string, std::string> serviceEnv() const override {
    return {{"SETTLEMENT_RETRY_DELAY_SECONDS", "1"}, {"SETTLEMENT_RETRY_ATTEMPTS", "100"}};
  }

  HttpResult ready() { return get("/ready"); }
  std::string tokenFile() const { return ledger_dir_ + "/token"; }
};

TEST_F(CantonE2e, AWrongTokenShowsInReadyUntilTheFileIsFixed) {
  ASSERT_EQ(ready().status, 200u) << ready().body;
  std::string good;
  {
    std::ifstream in(tokenFile());
    std::getline(in, good);
  }
  std::ofstream(tokenFile(), std::ios::trunc) << "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl\n";
  auto r = ready();
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_NE(r.body.find("UNAUTHENTICATED"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("CANTON_AUTH_TOKEN_FILE"), std::string::npos) << r.body;
  std::ofstream(tokenFile(), std::ios::trunc) << good << "\n";  // re-read on change
  EXPECT_EQ(ready().status, 200u) << ready().body;
}

TEST_F(CantonE2e, ATradeWaitsWhileTheParticipantIsDownAndSettlesWhenItIsBack) {
  createAccount("acc_buyer");
  createAccount("acc_seller");
  credit("acc_seller", "AAPL", "50");
  credit("acc_buyer", "USDC", "7524");
  const uint16_t port = sandbox_->port();
  ASSERT_EQ(sandbox_->terminate(), 0) << sandbox_->logTail();
  auto down = ready();
  EXPECT_EQ(down.status, 503u) << down.body;
  auto r = postTrade(validTrade("trd_canton_down"));
  ASSERT_EQ(r.status, 201u) << r.body;
  const std::string id = r.json()["settlement_id"];
  // Back on the same port (the service was configured with it), with the same data.
  sandbox_->env()["SANDBOX_PORT"] = std::to_string(port);
  ASSERT_TRUE(sandbox_->start()) << sandbox_->error();
  auto settled = waitForStatus(id, "settled", std::chrono::seconds(60));
  EXPECT_EQ(settled.value("settled_quantity", ""), "50.00000000") << settled.dump();
  EXPECT_EQ(ready().status, 200u);
}

// Over Canton the service prunes nothing: it publishes its watermark for the participant's
// operator (GET /ledger/prune-watermark). Once the settled trade's commands are a lease duration
// old, the watermark reaches the ledger end; the participant reports nothing pruned.
class CantonPruneE2e : public CantonE2e {
 protected:
  std::map<std::string, std::string> serviceEnv() const override {
    auto env = CantonE2e::serviceEnv();
    env["SETTLEMENT_LEASE_SECONDS"] = "1";
    env["LEDGER_PRUNE_INTERVAL_SECONDS"] = "1";
    env["LEDGER_PRUNE_PUBLISH_LAG_SECONDS"] = "1";  // 10 minutes by default
    return env;
  }

  // GET /ledger/prune-watermark once the watermark reached the ledger end (nothing is active).
  Json watermarkAtLedgerEnd() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    Json w;
    while (true) {
      auto g = get("/ledger/prune-watermark");
      EXPECT_EQ(g.status, 200u) << g.body;
      w = g.json();
      if (w["prune_before"].is_number() && w["ledger_end"].is_number() &&
          w["prune_before"] == w["ledger_end"] && w["ledger_end"].get<int64_t>() >= 4)
        return w;
      if (std::chrono::steady_clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling interval
    }
    ADD_FAILURE() << "the watermark did not reach the ledger end: " << w.dump();
    return w;
  }
};

TEST_F(CantonPruneE2e, TheWatermarkIsPublishedForTheOperatorAndNothingIsPruned) {
  createAccount("acc_buyer");
  createAccount("acc_seller");
  credit("acc_seller", "AAPL", "50");
  credit("acc_buyer", "USDC", "7524");
  auto r = postTrade(validTrade("trd_canton_watermark"));
  ASSERT_EQ(r.status, 201u) << r.body;
  waitForStatus(r.json()["settlement_id"], "settled", std::chrono::seconds(60));
  Json w = watermarkAtLedgerEnd();
  EXPECT_EQ(w["prune_up_to"], w["prune_before"].get<int64_t>() - 1) << w.dump();
  EXPECT_EQ(w["applied"], false) << "published, never pruned by the service";
  EXPECT_EQ(w["pruned_up_to"], 0) << "the participant's latest-pruned-offsets";
}

// The participant's operator prunes up to the published watermark (the sandbox's POST
// /sandbox/prune, as Canton's pruning service). The trades after it settle, each once, with
// their deduplication periods inside what the participant kept. A reconciler turned on only then
// finds the range it can no longer read, records it (ledger_range_pruned), and compares what
// followed without another finding.
class CantonPrunedParticipantE2e : public CantonPruneE2e {
 protected:
  std::map<std::string, std::string> serviceEnv() const override {
    auto env = CantonPruneE2e::serviceEnv();
    env["REC_ENABLED"] = "false";
    env["REC_INTERVAL_MS"] = "3600000";  // passes on request only, once enabled
    return env;
  }
  HttpResult pruneParticipant(int64_t upto) {
    std::string token;
    std::getline(std::ifstream(tokenFile()), token);
    HttpClient admin(sandbox_->port());
    return admin.post("/sandbox/prune", Json{{"pruneUpTo", upto}}.dump(),
                      {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  }
  std::string freeOf(const std::string& account, const std::string& asset) {
    auto h = get("/accounts/" + account + "/holdings").json();
    for (auto& b : h["balances"])
      if (b.value("asset", "") == asset) return b.value("free", "");
    return "0.00000000";
  }
};

TEST_F(CantonPrunedParticipantE2e, TradesAfterAPruningSettleOnceAndTheReconcilerRecordsTheRange) {
  createAccount("acc_buyer");
  createAccount("acc_seller");
  credit("acc_seller", "AAPL", "200");
  credit("acc_buyer", "USDC", "30096");  // four trades of 50 at 150.48
  auto first = postTrade(validTrade("trd_before_pruning"));
  ASSERT_EQ(first.status, 201u) << first.body;
  waitForStatus(first.json()["settlement_id"], "settled", std::chrono::seconds(60));
  const Json w = watermarkAtLedgerEnd();
  const int64_t upto = w["prune_up_to"].get<int64_t>();
  auto pruned = pruneParticipant(upto);
  ASSERT_EQ(pruned.status, 200u) << pruned.body;
  auto after = get("/ledger/prune-watermark").json();
  EXPECT_EQ(after["pruned_up_to"], upto) << after.dump();

  std::vector<std::string> ids;
  for (const char* t : {"trd_after_pruning_1", "trd_after_pruning_2", "trd_after_pruning_3"}) {
    auto r = postTrade(validTrade(t));
    ASSERT_EQ(r.status, 201u) << r.body;
    ids.push_back(r.json()["settlement_id"]);
  }
  // A duplicate of a settled trade is still the same settlement.
  auto dup = postTrade(validTrade("trd_before_pruning"));
  EXPECT_EQ(dup.json().value("settlement_id", ""), first.json().value("settlement_id", ""))
      << dup.body;
  for (const auto& id : ids) {
    auto s = waitForStatus(id, "settled", std::chrono::seconds(60));
    EXPECT_EQ(s.value("settled_quantity", ""), "50.00000000") << s.dump();
  }
  // Each trade moved once, per party.
  EXPECT_EQ(freeOf("acc_buyer", "AAPL"), "200.00000000");
  EXPECT_EQ(freeOf("acc_buyer", "USDC"), "0.00000000");
  EXPECT_EQ(freeOf("acc_seller", "USDC"), "30096.00000000");
  EXPECT_EQ(freeOf("acc_seller", "AAPL"), "0.00000000");

  // The reconciler, turned on now, starts where the ledger was pruned.
  service().env()["REC_ENABLED"] = "true";
  restartService();
  auto run = post("/reconciliation/run", Json::object());
  ASSERT_EQ(run.status, 200u) << run.body;
  auto rec = get("/reconciliation?status=open&limit=1000");
  ASSERT_EQ(rec.status, 200u) << rec.body;
  const Json findings = rec.json()["findings"];
  ASSERT_EQ(findings.size(), 1u) << "only the pruned range: " << rec.body;
  EXPECT_EQ(findings[0]["kind"], "ledger_range_pruned") << rec.body;
  EXPECT_EQ(findings[0]["subject"], "1.." + std::to_string(upto)) << rec.body;
}

}  // namespace
}  // namespace sc::test

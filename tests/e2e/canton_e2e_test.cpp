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
};

TEST_F(CantonPruneE2e, TheWatermarkIsPublishedForTheOperatorAndNothingIsPruned) {
  createAccount("acc_buyer");
  createAccount("acc_seller");
  credit("acc_seller", "AAPL", "50");
  credit("acc_buyer", "USDC", "7524");
  auto r = postTrade(validTrade("trd_canton_watermark"));
  ASSERT_EQ(r.status, 201u) << r.body;
  waitForStatus(r.json()["settlement_id"], "settled", std::chrono::seconds(60));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Json w;
  while (true) {
    auto g = get("/ledger/prune-watermark");
    ASSERT_EQ(g.status, 200u) << g.body;
    w = g.json();
    if (w["prune_before"].is_number() && w["ledger_end"].is_number() &&
        w["prune_before"] == w["ledger_end"] && w["ledger_end"].get<int64_t>() >= 4)
      break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the watermark did not reach the ledger end: " << w.dump();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling interval
  }
  EXPECT_EQ(w["prune_up_to"], w["prune_before"].get<int64_t>() - 1) << w.dump();
  EXPECT_EQ(w["applied"], false) << "published, never pruned by the service";
  EXPECT_EQ(w["pruned_up_to"], 0) << "the participant's latest-pruned-offsets";
}

}  // namespace
}  // namespace sc::test

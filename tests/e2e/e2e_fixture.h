#pragma once
// A gtest fixture for end-to-end tests: a fresh PostgreSQL database (PgTestDb), a fresh ledger
// folder, and the BUILT settlement-coordinator binary started on a free port against them, plus
// helpers that drive it over HTTP.
//
//   class MyE2e : public sc::test::E2eTest {
//     std::map<std::string, std::string> serviceEnv() const override {
//       return {{"ALLOWED_SYMBOLS", "AAPL/USDC"}};  // added to the defaults below
//     }
//   };
//   TEST_F(MyE2e, SettlesATrade) {
//     createAccount("acc_b"); createAccount("acc_s");
//     credit("acc_s", "AAPL", "50"); credit("acc_b", "USDC", "7524");
//     auto r = postTrade(validTrade("trd_1"));
//     ASSERT_EQ(r.status, 201u);
//     waitForStatus(r.json()["settlement_id"], "settled");
//   }
//
// Needs DB_HOST, DB_PORT, DB_USER (and DB_PASSWORD if set) in the environment: without them
// SetUp FAILS with a message saying how to start PostgreSQL; it never skips.
//
// With SC_E2E_LEDGER=sandbox (CMake registers the suites a second time, prefixed "canton.") the
// same tests run in canton mode: the built sc-ledger-sandbox is started on a free port (with the
// service's LEDGER_SYNCHRONIZERS) and the service with LEDGER_MODE=canton against it, over HTTP.
// What differs between the modes goes through one helper here, never an if in a test:
// setSynchronizerDown (the service's POST /ledger/faults, or the sandbox's /sandbox/faults),
// restartServiceAndLedger (the ledger restarts with the service, or the sandbox is restarted too),
// loadCount (fewer trades over the sandbox) and serviceServesFaults.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "support/http_client.h"
#include "support/pg_test_db.h"
#include "support/service_process.h"
#include "support/trade_json.h"

namespace sc::test {

class E2eTest : public ::testing::Test {
 public:
  using Json = nlohmann::json;

 protected:
  // Variables added to (or replacing) testServiceEnv()'s defaults; override per suite.
  virtual std::map<std::string, std::string> serviceEnv() const { return {}; }
  // False for a suite whose tests call start() themselves, each with its own settings.
  virtual bool startsInSetUp() const { return true; }

  void SetUp() override {
    ASSERT_TRUE(db_.create()) << db_.error();
    ledger_dir_ = makeTempDir("e2e-ledger");
    if (startsInSetUp()) start();
  }

  // Starts the ledger sandbox (canton mode) and the service, with serviceEnv() and then `extra`
  // added to the defaults.
  void start(const std::map<std::string, std::string>& extra = {}) {
    auto env = testServiceEnv(db_.name(), ledger_dir_);
    for (auto& [k, v] : serviceEnv()) env[k] = v;
    for (auto& [k, v] : extra) env[k] = v;
    if (useSandbox()) {
      std::map<std::string, std::string> sandbox_env{
          {"SANDBOX_PORT", "0"},
          {"SANDBOX_DATA_DIR", ledger_dir_ + "/sandbox"},
          {"SANDBOX_SECRET_FILE", ledger_dir_ + "/secret"},
          {"SANDBOX_TOKEN_FILE", ledger_dir_ + "/token"}};
      // The participant connects to the synchronizers the service is configured with.
      if (env.count("LEDGER_SYNCHRONIZERS"))
        sandbox_env["SANDBOX_SYNCHRONIZERS"] = env["LEDGER_SYNCHRONIZERS"];
      sandbox_ = std::make_unique<ServiceProcess>(sandbox_env, sandboxBinaryPath());
      ASSERT_TRUE(sandbox_->start()) << sandbox_->error();
      env["LEDGER_MODE"] = "canton";
      env["CANTON_LEDGER_API_HOST"] = "127.0.0.1";
      env["CANTON_LEDGER_API_PORT"] = std::to_string(sandbox_->port());
      env["CANTON_AUTH_TOKEN_FILE"] = ledger_dir_ + "/token";
    }
    service_ = std::make_unique<ServiceProcess>(env);
    ASSERT_TRUE(service_->start()) << service_->error();
    client_ = std::make_unique<HttpClient>(service_->port());
  }

  void TearDown() override {
    client_.reset();
    if (service_ && service_->running()) {
      int status = service_->terminate();
      EXPECT_EQ(status, 0) << "the service did not stop cleanly; log tail:\n"
                           << service_->logTail();
    }
    if (HasFailure() && service_) std::cerr << "service log tail:\n" << service_->logTail() << "\n";
    if (sandbox_ && sandbox_->running()) {
      EXPECT_EQ(sandbox_->terminate(), 0) << "the sandbox did not stop cleanly:\n"
                                          << sandbox_->logTail();
    }
  }

  static bool cantonMode() {
    const char* m = std::getenv("SC_E2E_LEDGER");
    return m && std::string(m) == "sandbox";
  }
  // Canton mode over a sandbox: per SC_E2E_LEDGER, or always for a suite that overrides this.
  virtual bool useSandbox() const { return cantonMode(); }

  // Starts the (stopped) service again with the same database and ledger folder.
  void restartService() {
    if (service_->running()) {
      ASSERT_EQ(service_->terminate(), 0) << service_->logTail();
    }
    ASSERT_TRUE(service_->start()) << service_->error();
    client_ = std::make_unique<HttpClient>(service_->port());
  }

  // Stops the service and its ledger and starts both again on the same data, so that the ledger
  // recovers from its journal: in embedded mode that is the service; in canton mode the sandbox is
  // restarted too (on the same port, which the service is configured with).
  void restartServiceAndLedger() {
    if (!sandbox_) {
      restartService();
      return;
    }
    if (service_->running()) {
      ASSERT_EQ(service_->terminate(), 0) << service_->logTail();
    }
    const uint16_t port = sandbox_->port();
    ASSERT_EQ(sandbox_->terminate(), 0) << sandbox_->logTail();
    sandbox_->env()["SANDBOX_PORT"] = std::to_string(port);
    ASSERT_TRUE(sandbox_->start()) << sandbox_->error();
    restartService();
  }

  // Takes a synchronizer of the ledger down (its commands fail as unavailable) or brings it back.
  // The service serves POST /ledger/faults over the embedded ledger only, so in canton mode the
  // same outage is set on the participant: the sandbox's POST /sandbox/faults. 200 either way.
  HttpResult setSynchronizerDown(const std::string& synchronizer, bool down) {
    if (!sandbox_)
      return post("/ledger/faults", Json{{"synchronizer", synchronizer}, {"down", down}});
    std::string token;
    std::getline(std::ifstream(ledger_dir_ + "/token"), token);
    HttpClient admin(sandbox_->port());
    return admin.post("/sandbox/faults",
                      Json{{"outage", {{"synchronizer", synchronizer}, {"down", down}}}}.dump(),
                      {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  }

  // Whether the service itself serves fault injection (POST /ledger/faults): only over the
  // embedded ledger (outside production); over a participant it answers 404.
  bool serviceServesFaults() const { return !useSandbox(); }

  // How many trades a load test runs: `n` on the embedded ledger, 1/kCantonLoadDivisor of it in
  // canton mode, where every ledger command is an HTTP round trip to the sandbox and an fsync of
  // its log as well as of the engine's journal (several times the embedded cost; at the embedded
  // counts the canton variants take many minutes). The assertions are the same at any count.
  static constexpr int kCantonLoadDivisor = 5;
  int loadCount(int n) const { return useSandbox() ? n / kCantonLoadDivisor : n; }

  HttpClient& http() { return *client_; }
  ServiceProcess& service() { return *service_; }
  uint16_t port() const { return service_->port(); }

  HttpResult get(const std::string& target) { return client_->get(target); }
  HttpResult post(const std::string& target, const std::string& body) {
    return client_->post(target, body);
  }
  HttpResult post(const std::string& target, const Json& body) {
    return client_->post(target, body.dump());
  }

  // POST /accounts; expects 201.
  HttpResult createAccount(const std::string& id, const std::string& status = "active") {
    auto r = post("/accounts", Json{{"account_id", id}, {"status", status}});
    EXPECT_EQ(r.status, 201u) << "creating account " << id << ": " << r.body;
    return r;
  }

  // POST /ledger/holdings: gives `account` `amount` of `asset` (on `synchronizer`, or the first);
  // expects 201.
  HttpResult credit(const std::string& account, const std::string& asset, const std::string& amount,
                    const std::string& synchronizer = "") {
    Json body{{"account_id", account}, {"asset", asset}, {"amount", amount}};
    if (!synchronizer.empty()) body["synchronizer"] = synchronizer;
    auto r = post("/ledger/holdings", body);
    EXPECT_EQ(r.status, 201u) << "crediting " << amount << " " << asset << " to " << account << ": "
                              << r.body;
    return r;
  }

 public:
  // A valid trade event (DESIGN §3): 50 AAPL at 150.48 = 7524.00 USDC, executed 2024-11-17,
  // settling 2024-11-19 (in the past, so it can reach SETTLED at once).
  static Json validTrade(const std::string& trade_id, const std::string& buyer = "acc_buyer",
                         const std::string& seller = "acc_seller") {
    TradeEvent t;
    t.trade_id = trade_id;
    t.buyer = buyer;
    t.seller = seller;
    t.quantity = "50.00000000";
    return Json::parse(t.text());
  }

 protected:
  HttpResult postTrade(const Json& trade) { return post("/trades", trade.dump()); }
  HttpResult postTrade(const std::string& raw) { return post("/trades", raw); }

  // Polls GET /settlements/{id} until its status is `status` or the deadline passes; returns the
  // last body seen (and records a failure naming the last status on timeout).
  Json waitForStatus(const std::string& settlement_id, const std::string& status,
                     std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    Json last;
    while (true) {
      auto r = get("/settlements/" + settlement_id);
      last = r.json();
      if (r.status == 200 && last.is_object() && last.value("status", "") == status) return last;
      if (std::chrono::steady_clock::now() >= deadline) break;
      // Bounded polling interval; the deadline above is what bounds the wait.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "settlement " << settlement_id << " did not reach " << status << " within "
                  << timeout.count() << " ms; last answer: " << last.dump();
    return last;
  }

  sc::test::PgTestDb db_;  // declared first: dropped after the service has stopped
  std::string ledger_dir_;
  std::unique_ptr<ServiceProcess> sandbox_;  // canton mode only; stopped after the service
  std::unique_ptr<ServiceProcess> service_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace sc::test

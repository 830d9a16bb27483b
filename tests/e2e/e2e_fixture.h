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
// same tests run in canton mode: SetUp starts the built sc-ledger-sandbox on a free port and the
// service with LEDGER_MODE=canton against it, over HTTP.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
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
  // Variables added to (or replacing) the defaults of defaultEnv(); override per suite.
  virtual std::map<std::string, std::string> serviceEnv() const { return {}; }

  void SetUp() override {
    ASSERT_TRUE(db_.create()) << db_.error();
    ledger_dir_ = makeTempDir("e2e-ledger");
    if (useSandbox()) {
      sandbox_ = std::make_unique<ServiceProcess>(
          std::map<std::string, std::string>{{"SANDBOX_PORT", "0"},
                                             {"SANDBOX_DATA_DIR", ledger_dir_ + "/sandbox"},
                                             {"SANDBOX_SECRET_FILE", ledger_dir_ + "/secret"},
                                             {"SANDBOX_TOKEN_FILE", ledger_dir_ + "/token"}},
          sandboxBinaryPath());
      ASSERT_TRUE(sandbox_->start()) << sandbox_->error();
    }
    auto env = defaultEnv();
    for (auto& [k, v] : serviceEnv()) env[k] = v;
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

  // The service's environment: this test's database and ledger folder, quick idle polling.
  std::map<std::string, std::string> defaultEnv() const {
    auto env = testServiceEnv(db_.name(), ledger_dir_);
    if (sandbox_) {
      env["LEDGER_MODE"] = "canton";
      env["CANTON_LEDGER_API_HOST"] = "127.0.0.1";
      env["CANTON_LEDGER_API_PORT"] = std::to_string(sandbox_->port());
      env["CANTON_AUTH_TOKEN_FILE"] = ledger_dir_ + "/token";
    }
    return env;
  }

  // Starts the (stopped) service again with the same database and ledger folder.
  void restartService() {
    if (service_->running()) {
      ASSERT_EQ(service_->terminate(), 0) << service_->logTail();
    }
    ASSERT_TRUE(service_->start()) << service_->error();
    client_ = std::make_unique<HttpClient>(service_->port());
  }

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

  // POST /ledger/holdings (embedded ledger): gives `account` `amount` of `asset`; expects 201.
  HttpResult credit(const std::string& account, const std::string& asset,
                    const std::string& amount) {
    auto r = post("/ledger/holdings",
                  Json{{"account_id", account}, {"asset", asset}, {"amount", amount}});
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

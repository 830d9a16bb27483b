#pragma once
// A real HttpServer on an ephemeral port serving the Api over the in-memory store, a ledger with
// no engine and a fake clock (tests/support).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "api/http_server.h"
#include "api/routes.h"
#include "support/fake_clock.h"
#include "support/fake_ledger.h"
#include "support/http_client.h"
#include "support/memory_audit.h"
#include "support/memory_reconciliation.h"
#include "support/memory_rejections.h"
#include "support/memory_store.h"
#include "support/trade_json.h"
#include "workflow/commands.h"
#include "workflow/intake.h"

namespace sc::test {

// A valid trade event; amount is 7524.00 for the default quantity and 0 otherwise.
inline std::string tradeJson(const std::string& trade_id = "trd_1",
                             const std::string& quantity = "50",
                             const std::string& buyer = "acc_buyer",
                             const std::string& seller = "acc_seller") {
  TradeEvent t;
  t.trade_id = trade_id;
  t.event_id = "evt_1";
  t.quantity = quantity;
  t.amount = quantity == "50" ? "7524.00" : "0";
  t.buyer = buyer;
  t.seller = seller;
  return t.text();
}

// Retries as the workflow does, without a ledger: FAILED or PARTIALLY_SETTLED resume at PENDING
// (no DvP) or INITIATED; records the reason it was given.
class FakeCommands final : public workflow::SettlementCommands {
 public:
  explicit FakeCommands(store::SettlementRepository& repo) : repo_(repo) {}
  Result<Settlement> retry(const Uuid& id, const std::string& reason) override {
    if (before_retry) before_retry();
    last_reason = reason;
    auto s = repo_.find(id);
    if (!s) return s.error();
    if (!*s) return Error::permanent("settlement_not_found", "settlement not found");
    Settlement next = **s;
    if (next.status != Status::kFailed && next.status != Status::kPartiallySettled)
      return Error::permanent("invalid_state",
                              "only failed or partially settled settlements can be retried");
    Status from = next.status;
    next.status = next.dvp_contract_id.empty() ? Status::kPending : Status::kInitiated;
    next.retry_count += 1;
    store::StateWrite w{next, from, R"({"reason":"manual retry"})"};
    auto r = repo_.write(std::span<const store::StateWrite>(&w, 1));
    if (!r) return r.error();
    return next;
  }
  std::string last_reason;
  std::function<void()> before_retry;  // e.g. blocks, to hold a handler thread

 private:
  store::SettlementRepository& repo_;
};

// The API tests' "now": 2024-11-17T16:30:00Z.
inline Timestamp apiTestNow() {
  return startOf(Date(std::chrono::year(2024) / 11 / 17)) + std::chrono::hours(16) +
         std::chrono::minutes(30);
}

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    accounts.put("acc_buyer");
    accounts.put("acc_seller");
  }
  void TearDown() override {
    if (server) server->stop();
  }

  // Starts the server; tests may adjust `options`, `verifier`, `minting`, `readiness` and
  // `rejections_per_minute` first.
  void start() {
    if (!api) {
      api::ApiDeps deps{.intake = intake,
                        .settlements = repo,
                        .accounts = accounts,
                        .commands = commands,
                        .ledger = ledger,
                        .readiness = [this]() -> Result<void> {
                          return readiness ? readiness() : Result<void>();
                        },
                        .verifier = verifier,
                        .clock = &clock};
      deps.audit = &audit;
      deps.credit_requests = &credit_requests;
      deps.rejections = &rejections;
      deps.rejections_per_address_per_minute = rejections_per_minute;
      deps.reserved_parties = reserved_parties;
      deps.minting = minting;
      deps.overview = overview;
      deps.ready_details = ready_details;
      deps.prune_watermark = prune_watermark;
      if (!reconciler)
        reconciler = std::make_unique<reconciliation::Reconciler>(
            reconciliation_repo, accounts, ledger, clock, reconciliation::ReconcilerOptions{});
      deps.reconciler = reconciler.get();
      api = std::make_unique<api::Api>(std::move(deps));
    }
    options.bind_address = "127.0.0.1";
    options.port = 0;
    server = std::make_unique<api::HttpServer>(options, api->router());
    server->start();
    client = std::make_unique<HttpClient>(server->port());
  }
  HttpClient& http() {
    if (!server) start();
    return *client;
  }
  // Creates a settlement through POST /trades and returns its id.
  std::string createSettlement(const std::string& trade_id = "trd_1") {
    auto r = http().post("/trades", tradeJson(trade_id));
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("settlement_id", "");
  }

  FakeClock clock{apiTestNow()};
  MemoryAccounts accounts;
  MemoryStore repo{accounts};
  FakeCommands commands{repo};
  FakeLedger ledger;
  workflow::Intake intake{repo, clock, TradeRules{}, std::chrono::seconds(300)};
  std::function<Result<void>()> readiness;
  const auth::Verifier* verifier = nullptr;  // null: authentication off
  MemoryAudit audit;
  MemoryCreditRequests credit_requests;
  MemoryRejections rejections{&clock};  // POST /trades' rejections, GET /rejections
  int rejections_per_minute = 60;       // per client address
  std::vector<std::string> reserved_parties = {"securities-issuer::1", "cash-provider::2"};
  bool minting = true;
  api::OverviewSources overview;  // GET /overview's live figures (none by default)
  std::function<std::map<std::string, std::string>()> ready_details;
  // GET /ledger/prune-watermark's source (a pruner's last watermark; nullopt: none yet).
  std::function<std::optional<api::PruneWatermarkView>()> prune_watermark = [] {
    return std::optional<api::PruneWatermarkView>(api::PruneWatermarkView{41, 50, 2.5, true});
  };
  MemoryReconciliation reconciliation_repo{repo};  // GET /reconciliation and its actions
  std::unique_ptr<reconciliation::Reconciler> reconciler;
  api::HttpServerOptions options{.handler_threads = 2};
  std::unique_ptr<api::Api> api;
  std::unique_ptr<api::HttpServer> server;
  std::unique_ptr<HttpClient> client;
};

}  // namespace sc::test

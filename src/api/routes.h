#pragma once
// The REST API's routes (spec "REST API Endpoints" + operator endpoints). Handlers parse,
// validate, call an interface, map the result (STYLE 2): no SQL, no ledger internals. One file
// per resource: settlement_routes.cpp, account_routes.cpp, ledger_routes.cpp,
// operations_routes.cpp; routes.cpp registers them and checks the bearer token.
//
//   POST  /trades                      GET  /settlements            GET /health
//   POST  /accounts                    GET  /settlements/{id}       GET /ready
//   GET   /accounts/{id}               GET  /settlements/{id}/events GET /metrics
//   PATCH /accounts/{id}               POST /settlements/{id}/retry
//   GET   /accounts/{id}/holdings      POST /ledger/holdings        GET /ledger/totals
//   POST  /ledger/faults               (only when ApiDeps::set_outage is given: embedded ledger)
//
// When api_token is non-empty, every POST/PATCH needs "Authorization: Bearer <token>" (401).
#include <functional>
#include <string>

#include "api/router.h"
#include "domain/result.h"
#include "ledger/ledger.h"
#include "store/repository.h"
#include "workflow/account_service.h"
#include "workflow/commands.h"
#include "workflow/intake.h"

namespace sc::api {

struct ApiDeps {
  workflow::Intake& intake;
  store::SettlementRepository& settlements;
  store::AccountRepository& accounts;
  workflow::SettlementCommands& commands;
  ledger::Ledger& ledger;
  std::function<Result<void>()> readiness;  // /ready: ok, or the reason it is not
  std::string api_token;                    // empty: no authentication
  const Clock* clock = nullptr;             // account created_at; null = system clock
  // Fault injection of the embedded ledger (synchronizer, down). Empty: POST /ledger/faults is
  // not routed (a Canton ledger's outages are not ours to make).
  std::function<Result<void>(const std::string&, bool)> set_outage;
};

class Api {
 public:
  explicit Api(ApiDeps deps);
  Api(workflow::Intake& intake, store::SettlementRepository& settlements,
      store::AccountRepository& accounts, workflow::SettlementCommands& commands,
      ledger::Ledger& ledger, std::function<Result<void>()> readiness, std::string api_token);
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // The routes; hand it to HttpServer (it must outlive the server).
  const Router& router() const { return router_; }

  static constexpr int kDefaultLimit = 50;
  static constexpr int kMaxLimit = 1000;
  static constexpr size_t kMaxRetryReasonChars = 500;

 private:
  void registerRoutes();
  // Wraps a write handler with the bearer-token check.
  Handler authorized(Handler h) const;

  HttpResponse postTrade(const HttpRequest& r);
  HttpResponse postAccount(const HttpRequest& r);
  HttpResponse getAccount(const HttpRequest& r);
  HttpResponse patchAccount(const HttpRequest& r);
  HttpResponse getHoldings(const HttpRequest& r);
  HttpResponse postHolding(const HttpRequest& r);
  HttpResponse getTotals(const HttpRequest& r);
  HttpResponse postFaults(const HttpRequest& r);
  HttpResponse getSettlement(const HttpRequest& r);
  HttpResponse listSettlements(const HttpRequest& r);
  HttpResponse retrySettlement(const HttpRequest& r);
  HttpResponse settlementEvents(const HttpRequest& r);
  HttpResponse health(const HttpRequest& r);
  HttpResponse ready(const HttpRequest& r);
  HttpResponse metricsText(const HttpRequest& r);

  ApiDeps deps_;
  SystemClock system_clock_;
  workflow::AccountService account_service_;  // over deps_.accounts and deps_.ledger
  Router router_;
};

}  // namespace sc::api

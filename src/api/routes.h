#pragma once
// The REST API's routes (spec "REST API Endpoints" + operator endpoints). Handlers parse,
// validate, call an interface, map the result (STYLE 2): no SQL, no ledger internals. One file
// per resource: settlement_routes.cpp, account_routes.cpp, ledger_routes.cpp,
// operations_routes.cpp, audit_routes.cpp; routes.cpp registers them with the roles each allows
// (the role table of README "Security") and verifies the bearer JWT.
//
//   POST  /trades                      GET  /settlements            GET /health
//   POST  /accounts                    GET  /settlements/{id}       GET /ready
//   GET   /accounts/{id}               GET  /settlements/{id}/events GET /metrics
//   PATCH /accounts/{id}               POST /settlements/{id}/retry
//   GET   /accounts/{id}/holdings      POST /ledger/holdings        GET /ledger/totals
//   POST  /ledger/faults               (only when ApiDeps::set_outage is given: embedded ledger)
//   GET   /audit                       (only when ApiDeps::audit is given)
//   GET   /openapi.json                (the OpenAPI 3 description, public)
//
// With a verifier, every route but /health, /ready and /openapi.json needs "Authorization: Bearer
// <JWT>" (401) carrying a role that the route allows (403); an account_holder sees only its
// accounts' settlements and holdings (others are 404). Operator actions are recorded in
// ApiDeps::audit.
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/router.h"
#include "auth/verifier.h"
#include "domain/result.h"
#include "ledger/ledger.h"
#include "store/audit.h"
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
  std::function<Result<void>()> readiness;   // /ready: ok, or the reason it is not
  const auth::Verifier* verifier = nullptr;  // null: authentication off (development only)
  const Clock* clock = nullptr;              // account created_at; null = system clock
  // Fault injection of the embedded ledger (synchronizer, down). Empty: POST /ledger/faults is
  // not routed (a Canton ledger's outages are not ours to make).
  std::function<Result<void>(const std::string&, bool)> set_outage;
  AuditRepository* audit = nullptr;  // null: operator actions are only logged, no GET /audit
  // Idempotency-Key records of POST /ledger/holdings; null: the header is refused.
  CreditRequestRepository* credit_requests = nullptr;
  bool minting = true;  // false (production): POST /ledger/holdings is not served at all
  std::vector<std::string> reserved_parties;  // issuer and cash provider: never account parties
  // /ready's "details" (e.g. relay: leader | standby | off), ready or not. Empty: none.
  std::function<std::map<std::string, std::string>()> ready_details;
};

// Who is calling, as the route's guard established it (routes.cpp).
struct Caller {
  const auth::Principal* principal = nullptr;  // null when authentication is off
  std::string role;                            // the role that admitted the call
  // Account scope (account_holder only): nullopt sees everything.
  std::optional<std::vector<std::string>> accounts;
  std::string request_id, remote_address;
  std::string audit_target;  // handlers may name the target of an audited action

  bool maySeeAccount(const std::string& account_id) const;
  bool maySee(const Settlement& s) const;
  std::string actor() const { return principal ? principal->subject : "anonymous"; }
};

class Api {
 public:
  explicit Api(ApiDeps deps);
  Api(workflow::Intake& intake, store::SettlementRepository& settlements,
      store::AccountRepository& accounts, workflow::SettlementCommands& commands,
      ledger::Ledger& ledger, std::function<Result<void>()> readiness);
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // The routes; hand it to HttpServer (it must outlive the server).
  const Router& router() const { return router_; }

  static constexpr int kDefaultLimit = 50;
  static constexpr int kMaxLimit = 1000;
  static constexpr size_t kMaxRetryReasonChars = 500;
  static constexpr int kMaxAuditLimit = 1000;

 private:
  using Method = HttpResponse (Api::*)(const HttpRequest&, Caller&);
  struct Access;  // routes.cpp: the roles a route admits, its audit action
  void registerRoutes();
  void route(const std::string& method, const std::string& pattern, Method fn,
             const Access& access);
  HttpResponse guarded(const HttpRequest& r, Method fn, const Access& access);
  void audit(const HttpRequest& r, const Caller& c, const std::string& action,
             const HttpResponse& res) const;

  HttpResponse postTrade(const HttpRequest& r, Caller& c);
  HttpResponse postAccount(const HttpRequest& r, Caller& c);
  HttpResponse getAccount(const HttpRequest& r, Caller& c);
  HttpResponse patchAccount(const HttpRequest& r, Caller& c);
  HttpResponse getHoldings(const HttpRequest& r, Caller& c);
  HttpResponse postHolding(const HttpRequest& r, Caller& c);
  HttpResponse credit(const HttpRequest& r, Caller& c);
  HttpResponse getTotals(const HttpRequest& r, Caller& c);
  HttpResponse postFaults(const HttpRequest& r, Caller& c);
  HttpResponse getSettlement(const HttpRequest& r, Caller& c);
  HttpResponse listSettlements(const HttpRequest& r, Caller& c);
  HttpResponse retrySettlement(const HttpRequest& r, Caller& c);
  HttpResponse settlementEvents(const HttpRequest& r, Caller& c);
  HttpResponse listAudit(const HttpRequest& r, Caller& c);
  HttpResponse health(const HttpRequest& r, Caller& c);
  HttpResponse ready(const HttpRequest& r, Caller& c);
  HttpResponse metricsText(const HttpRequest& r, Caller& c);
  HttpResponse openApi(const HttpRequest& r, Caller& c);

  ApiDeps deps_;
  SystemClock system_clock_;
  workflow::AccountService account_service_;  // over deps_.accounts and deps_.ledger
  Router router_;
};

}  // namespace sc::api

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
//   GET   /rejections                  (only when ApiDeps::rejections is given)
//   GET   /reconciliation, POST /reconciliation/run,
//   POST  /reconciliation/findings/{id}/acknowledge  (only when ApiDeps::reconciler is given;
//                                      reconciliation_routes.cpp)
//   GET   /openapi.json                (the OpenAPI 3 description, public)
//   GET   /overview                    (the dashboard's live figures; overview_routes.cpp)
//   GET   /ui, /ui/<file>              (the dashboard's static files, public; ui_routes.cpp)
//
// With a verifier, every route but /health, /ready and /openapi.json needs "Authorization: Bearer
// <JWT>" (401) carrying a role that the route allows (403); an account_holder sees only its
// accounts' settlements and holdings (others are 404). Operator actions are recorded in
// ApiDeps::audit.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/overview.h"
#include "api/rejection_recorder.h"
#include "api/router.h"
#include "auth/verifier.h"
#include "domain/result.h"
#include "ledger/ledger.h"
#include "reconciliation/reconciler.h"
#include "store/audit.h"
#include "store/rejection.h"
#include "store/repository.h"
#include "workflow/account_service.h"
#include "workflow/commands.h"
#include "workflow/intake.h"

namespace sc::api {

// The ledger pruner's last watermark (workflow/ledger_pruner.h), as GET /ledger/prune-watermark
// shows it.
struct PruneWatermarkView {
  int64_t prune_before = 0;  // offsets below it may be pruned
  int64_t ledger_end = 0;    // the ledger end the pass read
  double age_seconds = 0;    // since the pass that computed it
  bool applied = false;      // pruned by this instance (embedded) or only published (Canton)
};

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
  // The reconciler (DESIGN §11): its status and findings, a pass now, acknowledgements. Null:
  // the /reconciliation routes are not served.
  reconciliation::Reconciler* reconciler = nullptr;
  AuditRepository* audit = nullptr;  // null: operator actions are only logged, no GET /audit
  // Rejected trades: POST /trades records its rejections here (through a RejectionRecorder, at
  // most rejections_per_address_per_minute per client address; REJECTIONS_HTTP_PER_MINUTE) and
  // GET /rejections lists them. Null: not recorded, no GET /rejections.
  store::RejectionRepository* rejections = nullptr;
  int rejections_per_address_per_minute = 60;
  // Idempotency-Key records of POST /ledger/holdings; null: the header is refused.
  CreditRequestRepository* credit_requests = nullptr;
  bool minting = true;  // false (production): POST /ledger/holdings is not served at all
  std::vector<std::string> reserved_parties;  // issuer and cash provider: never account parties
  // /ready's "details" (e.g. relay: leader | standby | off), ready or not. Empty: none.
  std::function<std::map<std::string, std::string>()> ready_details;
  // GET /overview's live figures of this instance (rates, latency, lag, backlog, health).
  OverviewSources overview;
  // The pruner's last watermark (nullopt: none computed yet). Empty: the pruner does not run and
  // GET /ledger/prune-watermark is not served.
  std::function<std::optional<PruneWatermarkView>()> prune_watermark;
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
  static constexpr int kDefaultRejectionsLimit = 100;
  static constexpr int kMaxRejectionsLimit = 500;

  // Waits until every rejection POST /trades recorded so far is written (tests).
  void flushRejections() {
    if (rejection_recorder_) rejection_recorder_->flush();
  }

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
  // `outcome_unknown` (if given) is set when the ledger may have credited although it answered an
  // error (ledger_timeout).
  HttpResponse credit(const HttpRequest& r, Caller& c, bool* outcome_unknown = nullptr);
  HttpResponse getTotals(const HttpRequest& r, Caller& c);
  HttpResponse postFaults(const HttpRequest& r, Caller& c);
  HttpResponse getPruneWatermark(const HttpRequest& r, Caller& c);
  HttpResponse getSettlement(const HttpRequest& r, Caller& c);
  HttpResponse listSettlements(const HttpRequest& r, Caller& c);
  HttpResponse retrySettlement(const HttpRequest& r, Caller& c);
  HttpResponse settlementEvents(const HttpRequest& r, Caller& c);
  HttpResponse listAudit(const HttpRequest& r, Caller& c);
  HttpResponse getReconciliation(const HttpRequest& r, Caller& c);
  HttpResponse runReconciliation(const HttpRequest& r, Caller& c);
  HttpResponse acknowledgeFinding(const HttpRequest& r, Caller& c);
  HttpResponse listRejections(const HttpRequest& r, Caller& c);
  // Records a rejection of POST /trades (rejection_routes.cpp); never changes the answer.
  void recordRejection(const HttpRequest& r, const Error& why, const std::string& trade_id);
  HttpResponse health(const HttpRequest& r, Caller& c);
  HttpResponse ready(const HttpRequest& r, Caller& c);
  HttpResponse metricsText(const HttpRequest& r, Caller& c);
  HttpResponse openApi(const HttpRequest& r, Caller& c);
  HttpResponse overview(const HttpRequest& r, Caller& c);
  HttpResponse uiAsset(const HttpRequest& r, Caller& c);

  ApiDeps deps_;
  SystemClock system_clock_;
  workflow::AccountService account_service_;  // over deps_.accounts and deps_.ledger
  Router router_;
  std::unique_ptr<RejectionRecorder> rejection_recorder_;  // when deps_.rejections is set
};

}  // namespace sc::api

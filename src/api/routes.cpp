#include "api/routes.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <nlohmann/json.hpp>

#include "api/errors.h"
#include "auth/errors.h"
#include "common/log.h"
#include "domain/ids.h"
#include "ui/assets.h"

namespace sc::api {
namespace {

// The roles (DESIGN §10). A token may carry several; the first that admits a route is used.
constexpr std::string_view kSubmitter = "submitter";
constexpr std::string_view kOperator = "operator";
constexpr std::string_view kAuditor = "auditor";
constexpr std::string_view kAccountHolder = "account_holder";

bool validRequestId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

}  // namespace

// A route's admission: the roles with full access, whether an account_holder is admitted with
// its account scope, and the audit action (empty: not an operator action).
struct Api::Access {
  std::vector<std::string_view> roles;
  bool holder_scoped = false;
  std::string audit_action;
  bool is_public = false;
};

bool Caller::maySeeAccount(const std::string& account_id) const {
  return !accounts || std::find(accounts->begin(), accounts->end(), account_id) != accounts->end();
}

bool Caller::maySee(const Settlement& s) const {
  return maySeeAccount(s.trade.buyer_account_id) || maySeeAccount(s.trade.seller_account_id);
}

Api::Api(ApiDeps deps)
    : deps_(std::move(deps)),
      account_service_(deps_.accounts, deps_.ledger,
                       deps_.clock ? *deps_.clock : static_cast<const Clock&>(system_clock_)) {
  if (deps_.rejections)
    rejection_recorder_ = std::make_unique<RejectionRecorder>(
        *deps_.rejections, deps_.clock ? *deps_.clock : static_cast<const Clock&>(system_clock_),
        RejectionRecorderOptions{.per_address_per_minute =
                                     deps_.rejections_per_address_per_minute});
  registerRoutes();
}

Api::Api(workflow::Intake& intake, store::SettlementRepository& settlements,
         store::AccountRepository& accounts, workflow::SettlementCommands& commands,
         ledger::Ledger& ledger, std::function<Result<void>()> readiness)
    : Api(ApiDeps{intake, settlements, accounts, commands, ledger, std::move(readiness)}) {}

// The role table (README "Security"); tests/api/auth_routes_test.cpp holds the same table.
void Api::registerRoutes() {
  const Access submit{{kSubmitter}};
  const Access operate{{kOperator}};
  const Access read_accounts{{kOperator, kAuditor}};
  const Access read_scoped{{kAuditor}, true};
  const Access holdings{{kOperator, kAuditor}, true};
  const Access audit_read{{kOperator, kAuditor}};
  const Access metrics{{kAuditor}};
  const Access open{{}, false, {}, true};
  auto audited = [&](const char* action) { return Access{{kOperator}, false, action}; };

  route("POST", "/trades", &Api::postTrade, submit);
  route("POST", "/accounts", &Api::postAccount, audited("account.create"));
  route("GET", "/accounts/{id}", &Api::getAccount, read_accounts);
  route("PATCH", "/accounts/{id}", &Api::patchAccount, audited("account.update"));
  route("GET", "/accounts/{id}/holdings", &Api::getHoldings, holdings);
  if (deps_.minting) route("POST", "/ledger/holdings", &Api::postHolding, audited("ledger.credit"));
  route("GET", "/ledger/totals", &Api::getTotals, read_accounts);
  if (deps_.prune_watermark)
    route("GET", "/ledger/prune-watermark", &Api::getPruneWatermark, read_accounts);
  if (deps_.set_outage) route("POST", "/ledger/faults", &Api::postFaults, audited("ledger.fault"));
  route("GET", "/settlements", &Api::listSettlements, read_scoped);
  route("GET", "/settlements/{id}", &Api::getSettlement, read_scoped);
  route("GET", "/settlements/{id}/events", &Api::settlementEvents, read_scoped);
  route("POST", "/settlements/{id}/retry", &Api::retrySettlement, audited("settlement.retry"));
  if (deps_.audit) route("GET", "/audit", &Api::listAudit, audit_read);
  if (deps_.reconciler) {
    route("GET", "/reconciliation", &Api::getReconciliation, audit_read);
    route("POST", "/reconciliation/run", &Api::runReconciliation, audited("reconciliation.run"));
    route("POST", "/reconciliation/findings/{id}/acknowledge", &Api::acknowledgeFinding,
          audited("reconciliation.acknowledge"));
  }
  if (deps_.rejections) route("GET", "/rejections", &Api::listRejections, audit_read);
  route("GET", "/health", &Api::health, open);
  route("GET", "/ready", &Api::ready, open);
  route("GET", "/metrics", &Api::metricsText, metrics);
  route("GET", "/openapi.json", &Api::openApi, open);
  // The dashboard: its overview (an account holder gets its own accounts' counts only) and its
  // static files (public: no data in them).
  route("GET", "/overview", &Api::overview, Access{{kOperator, kAuditor}, true});
  route("GET", "/ui", &Api::uiAsset, open);
  for (const ui::Asset& a : ui::assets())
    route("GET", "/ui/" + std::string(a.name), &Api::uiAsset, open);
}

void Api::route(const std::string& method, const std::string& pattern, Method fn,
                const Access& access) {
  router_.add(method, pattern,
              [this, fn, access](const HttpRequest& r) { return guarded(r, fn, access); });
}

HttpResponse Api::guarded(const HttpRequest& r, Method fn, const Access& access) {
  Caller c;
  c.remote_address = r.remote_address;
  std::string given = r.header("x-request-id");
  c.request_id = validRequestId(given) ? given : Uuid::generateV7().canonical();
  auto finish = [&](HttpResponse res) {
    res.headers.emplace_back("X-Request-Id", c.request_id);
    return res;
  };

  std::optional<auth::Principal> principal;
  if (deps_.verifier) {
    std::string header = r.header("authorization");
    if (access.is_public) {
      // /health, /ready: public; /ready shows its details only to a valid token.
      if (!header.empty()) {
        if (auto p = deps_.verifier->verifyAuthorization(header)) principal = std::move(*p);
      }
      c.principal = principal ? &*principal : nullptr;
      return finish((this->*fn)(r, c));
    }
    auto p = deps_.verifier->verifyAuthorization(header);
    if (!p) {
      logger()->warn("refused {} {} from {} (request {}): {}", r.method, log::escape(r.path),
                     r.remote_address, c.request_id, p.error().code);
      auto res = errorResponse(p.error());
      if (res.status == 401)
        res.headers.emplace_back(
            "WWW-Authenticate",
            "Bearer error=\"invalid_token\", error_description=\"" + p.error().code + "\"");
      return finish(std::move(res));
    }
    principal = std::move(*p);
    c.principal = &*principal;
    for (auto role : access.roles)
      if (principal->hasRole(role)) {
        c.role = role;
        break;
      }
    if (c.role.empty() && access.holder_scoped && principal->hasRole(kAccountHolder)) {
      c.role = kAccountHolder;
      c.accounts = principal->accounts;
    }
    if (c.role.empty()) {
      std::string roles;
      for (const auto& role : principal->roles) roles += (roles.empty() ? "" : ",") + role;
      logger()->warn("forbidden {} {} for {} (roles {}) from {} (request {})", r.method,
                     log::escape(r.path), log::escape(principal->subject), log::escape(roles),
                     r.remote_address, c.request_id);
      auto res =
          errorResponse(auth::kForbidden, "no role of this token may " + r.method + " " + r.path);
      if (!access.audit_action.empty()) {
        c.role = roles;
        audit(r, c, access.audit_action, res);
      }
      return finish(std::move(res));
    }
  }
  HttpResponse res = (this->*fn)(r, c);
  if (!access.audit_action.empty()) audit(r, c, access.audit_action, res);
  return finish(std::move(res));
}

void Api::audit(const HttpRequest& r, const Caller& c, const std::string& action,
                const HttpResponse& res) const {
  AuditEntry e;
  e.actor = c.actor();
  e.role = c.role;
  e.action = action;
  e.target = c.audit_target.empty() ? r.path : c.audit_target;
  e.request_id = c.request_id;
  e.remote_address = c.remote_address;
  e.status = static_cast<int>(res.status);
  e.outcome = res.status < 300 ? "succeeded" : res.status < 500 ? "refused" : "failed";
  if (res.status >= 300) {
    auto body = nlohmann::json::parse(res.body, nullptr, false);
    if (body.is_object() && body.contains("error") && body["error"].contains("code") &&
        body["error"]["code"].is_string())
      e.error_code = body["error"]["code"].get<std::string>();
  }
  logger()->info("audit: {} {} target {} by {} ({}) from {} request {}: {} {}", action, e.outcome,
                 log::escape(e.target), log::escape(e.actor), log::escape(e.role), e.remote_address,
                 e.request_id, e.status, e.error_code);
  if (deps_.audit) {
    if (auto ok = deps_.audit->record(e); !ok)
      logger()->error("audit log write failed for {} by {} (request {}): {}", action,
                      log::escape(e.actor), e.request_id, ok.error().message);
  }
}

}  // namespace sc::api

#include "api/routes.h"

#include <cctype>
#include <string_view>

#include "api/errors.h"

namespace sc::api {
namespace {

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // the token's length is not the secret
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

Api::Api(ApiDeps deps)
    : deps_(std::move(deps)),
      account_service_(deps_.accounts, deps_.ledger,
                       deps_.clock ? *deps_.clock : static_cast<const Clock&>(system_clock_)) {
  registerRoutes();
}

Api::Api(workflow::Intake& intake, store::SettlementRepository& settlements,
         store::AccountRepository& accounts, workflow::SettlementCommands& commands,
         ledger::Ledger& ledger, std::function<Result<void>()> readiness, std::string api_token)
    : Api(ApiDeps{intake, settlements, accounts, commands, ledger, std::move(readiness),
                  std::move(api_token), nullptr, nullptr}) {}

void Api::registerRoutes() {
  auto bind = [this](HttpResponse (Api::*fn)(const HttpRequest&)) {
    return Handler([this, fn](const HttpRequest& r) { return (this->*fn)(r); });
  };
  router_.add("POST", "/trades", authorized(bind(&Api::postTrade)));
  router_.add("POST", "/accounts", authorized(bind(&Api::postAccount)));
  router_.add("GET", "/accounts/{id}", bind(&Api::getAccount));
  router_.add("PATCH", "/accounts/{id}", authorized(bind(&Api::patchAccount)));
  router_.add("GET", "/accounts/{id}/holdings", bind(&Api::getHoldings));
  router_.add("POST", "/ledger/holdings", authorized(bind(&Api::postHolding)));
  router_.add("GET", "/ledger/totals", bind(&Api::getTotals));
  if (deps_.set_outage) router_.add("POST", "/ledger/faults", authorized(bind(&Api::postFaults)));
  router_.add("GET", "/settlements", bind(&Api::listSettlements));
  router_.add("GET", "/settlements/{id}", bind(&Api::getSettlement));
  router_.add("GET", "/settlements/{id}/events", bind(&Api::settlementEvents));
  router_.add("POST", "/settlements/{id}/retry", authorized(bind(&Api::retrySettlement)));
  router_.add("GET", "/health", bind(&Api::health));
  router_.add("GET", "/ready", bind(&Api::ready));
  router_.add("GET", "/metrics", bind(&Api::metricsText));
}

Handler Api::authorized(Handler h) const {
  if (deps_.api_token.empty()) return h;
  return [token = deps_.api_token, h = std::move(h)](const HttpRequest& r) {
    std::string auth = r.header("authorization");
    constexpr std::string_view kScheme = "bearer ";
    bool ok = auth.size() > kScheme.size();
    for (size_t i = 0; ok && i < kScheme.size(); ++i)
      ok = std::tolower(static_cast<unsigned char>(auth[i])) == kScheme[i];
    if (!ok || !constantTimeEquals(std::string_view(auth).substr(kScheme.size()), token)) {
      auto res = errorResponse(kUnauthorized, "missing or invalid bearer token");
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      return res;
    }
    return h(r);
  };
}

}  // namespace sc::api

// Account routes: POST /accounts, GET and PATCH /accounts/{id}, GET /accounts/{id}/holdings.
// The handlers parse and map; AccountService (workflow) creates accounts and sums balances.
#include <algorithm>

#include "api/errors.h"
#include "api/request_parsing.h"
#include "api/routes.h"
#include "domain/ids.h"
#include "workflow/errors.h"

namespace sc::api {
namespace {

Result<AccountStatus> parseAccountStatus(const std::string& s) {
  if (s == "active") return AccountStatus::kActive;
  if (s == "inactive") return AccountStatus::kInactive;
  return bad(kInvalidParameter, "status must be \"active\" or \"inactive\"", "status");
}

Result<std::string> accountIdParam(const HttpRequest& r) {
  const std::string& raw = r.params.at("id");
  if (!isValidExternalId(raw))
    return bad(reason::kInvalidId, "account id must be 1-64 of [A-Za-z0-9_.:-]", "account_id");
  return raw;
}

}  // namespace

HttpResponse Api::postAccount(const HttpRequest& r, Caller& c) {
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto id = requiredExternalId(*body, "account_id");
  if (!id) return errorResponse(id.error());
  c.audit_target = *id;
  auto party = optionalString(*body, "canton_party");
  if (!party) return errorResponse(party.error());
  if (*party && ((*party)->empty() || (*party)->size() > 255))
    return errorResponse(kInvalidParameter, "canton_party must be 1-255 characters",
                         "canton_party");
  if (*party) {
    const auto& reserved = deps_.reserved_parties;
    if (std::find(reserved.begin(), reserved.end(), **party) != reserved.end())
      return errorResponse(
          kReservedParty,
          "canton_party " + **party + " is the securities issuer's or the cash provider's party",
          "canton_party");
  }
  auto status_text = optionalString(*body, "status");
  if (!status_text) return errorResponse(status_text.error());
  workflow::NewAccount request{*id, *party, AccountStatus::kActive};
  if (*status_text) {
    auto s = parseAccountStatus(**status_text);
    if (!s) return errorResponse(s.error());
    request.status = *s;
  }
  auto created = account_service_.create(request);
  if (!created) return errorResponse(created.error());
  return jsonResponse(201, accountJson(*created));
}

HttpResponse Api::getAccount(const HttpRequest& r, Caller& c) {
  auto id = accountIdParam(r);
  if (!id) return errorResponse(id.error());
  auto a = account_service_.find(*id);
  if (!a) return errorResponse(a.error());
  return jsonResponse(200, accountJson(*a));
}

HttpResponse Api::patchAccount(const HttpRequest& r, Caller& c) {
  auto id = accountIdParam(r);
  if (!id) return errorResponse(id.error());
  c.audit_target = *id;
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto status_text = optionalString(*body, "status");
  if (!status_text) return errorResponse(status_text.error());
  if (!*status_text) {
    auto a = account_service_.find(*id);
    if (!a) return errorResponse(a.error());
    return jsonResponse(200, accountJson(*a));
  }
  auto status = parseAccountStatus(**status_text);
  if (!status) return errorResponse(status.error());
  auto updated = account_service_.setStatus(*id, *status);
  if (!updated) return errorResponse(updated.error());
  return jsonResponse(200, accountJson(*updated));
}

HttpResponse Api::getHoldings(const HttpRequest& r, Caller& c) {
  auto id = accountIdParam(r);
  if (!id) return errorResponse(id.error());
  if (!c.maySeeAccount(*id))  // another holder's account: as if it did not exist
    return errorResponse(workflow::kAccountNotFound, "account " + *id + " not found", "account_id");
  auto view = account_service_.holdings(*id);
  if (!view) return errorResponse(view.error());
  Json list = Json::array();
  for (const auto& h : view->holdings) list.push_back(holdingJson(h));
  Json bal = Json::array();
  for (const auto& b : view->balances)
    bal.push_back(Json{{"asset", b.asset},
                       {"free", b.free.toString(Decimal::kScale)},
                       {"locked", b.locked.toString(Decimal::kScale)}});
  Json out;
  out["account_id"] = *id;
  out["canton_party"] = view->account.canton_party;
  out["holdings"] = std::move(list);
  out["balances"] = std::move(bal);
  return jsonResponse(200, out);
}

}  // namespace sc::api

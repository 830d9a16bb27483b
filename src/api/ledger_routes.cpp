// Embedded-ledger operator routes: POST /ledger/holdings (funding), GET /ledger/totals,
// POST /ledger/faults (outage drills; routed only when ApiDeps::set_outage is given).
#include <algorithm>

#include "api/errors.h"
#include "api/request_parsing.h"
#include "api/routes.h"

namespace sc::api {

HttpResponse Api::postHolding(const HttpRequest& r) {
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto id = requiredExternalId(*body, "account_id");
  if (!id) return errorResponse(id.error());
  auto asset = requiredExternalId(*body, "asset", kInvalidParameter);
  if (!asset) return errorResponse(asset.error());
  // amount: a decimal string, or a JSON integer (never a binary floating-point value). A credit
  // is a ledger operation, so its range is the ledger's, Numeric 10, not a trade's DECIMAL(18,8).
  auto it = body->find("amount");
  if (it == body->end() || it->is_null())
    return errorResponse(reason::kMissingField, "amount is required", "amount");
  std::string amount_text;
  if (it->is_string())
    amount_text = it->get<std::string>();
  else if (it->is_number_integer())
    amount_text = it->dump();
  else
    return errorResponse(reason::kInvalidFieldType, "amount must be a decimal string", "amount");
  auto amount = LedgerAmount::parse(amount_text);
  if (!amount) {
    Error e = amount.error();
    e.message = "credit of " + *asset + ": " + e.message;
    if (e.code == amount_reason::kAmountOutOfRange)
      e.message += " (the ledger's limit is " + LedgerAmount::max().toString() + ")";
    e.field = "amount";
    return errorResponse(e);
  }
  if (!amount->isPositive())
    return errorResponse(reason::kNonPositiveAmount, "amount must be > 0", "amount");
  auto sync = optionalString(*body, "synchronizer");
  if (!sync) return errorResponse(sync.error());
  std::string synchronizer;
  if (*sync) {
    synchronizer = **sync;
    auto known = deps_.ledger.synchronizers();
    if (std::find(known.begin(), known.end(), synchronizer) == known.end())
      return errorResponse(kInvalidParameter, "unknown synchronizer " + synchronizer,
                           "synchronizer");
  } else {
    auto known = deps_.ledger.synchronizers();
    if (!known.empty()) synchronizer = known.front();
  }

  auto h = account_service_.credit(*id, *asset, *amount, synchronizer);
  if (!h) return errorResponse(h.error());
  Json out = holdingJson(*h);
  out["account_id"] = *id;
  return jsonResponse(201, out);
}

HttpResponse Api::getTotals(const HttpRequest&) {
  auto totals = deps_.ledger.totals();
  if (!totals) return errorResponse(totals.error());
  Json list = Json::array();
  for (const auto& t : *totals)
    list.push_back(Json{{"asset", t.asset},
                        {"total", t.total.toString(Decimal::kScale)},
                        {"locked", t.locked.toString(Decimal::kScale)}});
  return jsonResponse(200, Json{{"totals", std::move(list)}});
}

// Operator drill: {"synchronizer": "cash", "down": true} takes a synchronizer of the embedded
// ledger down (its commands fail as unavailable, retryably) until {"down": false}.
HttpResponse Api::postFaults(const HttpRequest& r) {
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto sync = requiredString(*body, "synchronizer");
  if (!sync) return errorResponse(sync.error());
  auto known = deps_.ledger.synchronizers();
  if (std::find(known.begin(), known.end(), *sync) == known.end())
    return errorResponse(kInvalidParameter, "unknown synchronizer " + *sync, "synchronizer");
  auto it = body->find("down");
  if (it == body->end() || it->is_null())
    return errorResponse(reason::kMissingField, "down is required", "down");
  if (!it->is_boolean())
    return errorResponse(reason::kInvalidFieldType, "down must be true or false", "down");
  bool down = it->get<bool>();
  if (auto set = deps_.set_outage(*sync, down); !set) return errorResponse(set.error());
  logger()->warn("synchronizer {} set {} by an operator", *sync, down ? "down" : "up");
  return jsonResponse(200, Json{{"synchronizer", *sync}, {"down", down}});
}

}  // namespace sc::api

#include "api/json_mapping.h"

namespace sc::api {
namespace {

Json timeOrNull(const std::optional<Timestamp>& t) {
  return t ? Json(formatTimestamp(*t)) : Json(nullptr);
}
Json textOrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

// Where a settlement stands in its retries (the dashboard's "stuck": past deadline_at, waiting for
// next_attempt_at, many step_attempt): active settlements only, null once settled or failed.
void addProgress(Json& j, const Settlement& s) {
  const bool active = s.status != Status::kSettled && s.status != Status::kFailed;
  j["last_error"] = textOrNull(s.last_error);
  j["step_attempt"] = s.step_attempt;
  j["deadline_at"] = active ? Json(formatTimestamp(s.deadline_at)) : Json(nullptr);
  j["next_attempt_at"] = active ? Json(formatTimestamp(s.next_attempt_at)) : Json(nullptr);
}

}  // namespace

Json settlementJson(const Settlement& s) {
  const Trade& t = s.trade;
  Json j;
  j["settlement_id"] = s.settlementId();
  j["trade_id"] = t.trade_id;
  j["buyer_account_id"] = t.buyer_account_id;
  j["seller_account_id"] = t.seller_account_id;
  j["symbol"] = t.symbol;
  j["quantity"] = t.quantity.toString();
  j["amount"] = t.amount.toString();
  j["status"] = std::string(toString(s.status));
  j["settlement_date"] = formatDateAsTimestamp(t.settlement_date);
  j["initiated_at"] = timeOrNull(s.initiated_at);
  j["confirmed_at"] = timeOrNull(s.confirmed_at);
  j["settled_at"] = timeOrNull(s.settled_at);
  j["dvp_atomic_transaction_id"] = textOrNull(s.dvp_atomic_transaction_id);
  j["buyer_securities_ledger_ref"] = textOrNull(s.buyer_securities_ledger_ref);
  j["seller_cash_ledger_ref"] = textOrNull(s.seller_cash_ledger_ref);
  // Beyond the spec's example: what an operator needs to understand a settlement.
  j["price"] = t.price ? Json(t.price->toString()) : Json(nullptr);
  j["allow_partial"] = t.allow_partial;
  j["executed_at"] = formatTimestamp(t.executed_at);
  j["failed_at"] = timeOrNull(s.failed_at);
  j["failure_reason"] = textOrNull(s.failure_reason);
  j["failure_code"] = textOrNull(s.failure_code);
  j["failed_step"] = textOrNull(s.failed_step);
  j["retry_count"] = s.retry_count;
  j["dvp_contract_id"] = textOrNull(s.dvp_contract_id);
  j["seller_securities_ledger_ref"] = textOrNull(s.seller_securities_ledger_ref);
  j["buyer_cash_ledger_ref"] = textOrNull(s.buyer_cash_ledger_ref);
  j["settled_quantity"] = s.settled_quantity.toString();
  j["settled_amount"] = s.settled_amount.toString();
  j["created_at"] = formatTimestamp(s.created_at);
  j["updated_at"] = formatTimestamp(s.updated_at);
  addProgress(j, s);
  return j;
}

Json settlementSummaryJson(const Settlement& s) {
  const Trade& t = s.trade;
  Json j;
  j["settlement_id"] = s.settlementId();
  j["trade_id"] = t.trade_id;
  j["symbol"] = t.symbol;
  j["quantity"] = t.quantity.toString();
  j["amount"] = t.amount.toString();
  j["status"] = std::string(toString(s.status));
  j["settlement_date"] = formatDateAsTimestamp(t.settlement_date);
  j["settled_at"] = timeOrNull(s.settled_at);
  j["buyer_account_id"] = t.buyer_account_id;
  j["seller_account_id"] = t.seller_account_id;
  // What the dashboard's stuck and failed lists show without fetching each settlement.
  j["created_at"] = formatTimestamp(s.created_at);
  j["failure_code"] = textOrNull(s.failure_code);
  j["failure_reason"] = textOrNull(s.failure_reason);
  j["failed_step"] = textOrNull(s.failed_step);
  j["retry_count"] = s.retry_count;
  addProgress(j, s);
  return j;
}

Json eventJson(const SettlementEvent& e) {
  Json j;
  j["event_id"] = e.id.prefixed(kEventPrefix);
  j["event_type"] = std::string(eventTypeFor(e.status));
  j["status"] = std::string(toString(e.status));
  // details is a JSON object as stored; embed it (as text if it somehow is not JSON).
  Json details = Json::parse(e.details.empty() ? std::string("{}") : e.details, nullptr, false);
  j["details"] = details.is_discarded() ? Json(e.details) : std::move(details);
  j["created_at"] = formatTimestamp(e.created_at);
  j["position"] = e.position;
  return j;
}

Json accountJson(const Account& a) {
  Json j;
  j["account_id"] = a.account_id;
  j["canton_party"] = a.canton_party;
  j["status"] = std::string(toString(a.status));
  j["created_at"] = formatTimestamp(a.created_at);
  return j;
}

Json holdingJson(const ledger::HoldingView& h) {
  Json j;
  j["contract_id"] = h.contract_id;
  j["owner"] = h.owner;
  j["asset"] = h.asset;
  j["amount"] = h.amount.toString(Decimal::kScale);  // 8 dp, more where the ledger holds them
  j["locked"] = h.locked;
  j["synchronizer"] = h.synchronizer;
  if (h.locked) j["lock_dvp_contract_id"] = h.lock_dvp_contract_id;
  j["in_flight"] = h.in_flight;
  return j;
}

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sc::api

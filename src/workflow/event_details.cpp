#include "workflow/event_details.h"

#include <nlohmann/json.hpp>

#include "domain/time.h"

namespace sc::workflow {

using nlohmann::json;

std::string initiatedDetails(const Settlement& s, const ledger::Outcome& created) {
  return json{{"trade_id", s.trade.trade_id},
              {"buyer_account_id", s.trade.buyer_account_id},
              {"seller_account_id", s.trade.seller_account_id},
              {"symbol", s.trade.symbol},
              {"quantity", s.trade.quantity.toString()},
              {"amount", s.trade.amount.toString()},
              {"settlement_date", formatDateAsTimestamp(s.trade.settlement_date)},
              {"dvp_contract_id", created.contract_id},
              {"synchronizer", created.synchronizer},
              {"update_id", created.update_id}}
      .dump();
}

std::string securitiesLockedDetails(const ledger::Outcome& locked) {
  return json{{"seller_securities_ledger_ref", locked.contract_id},
              {"locked_quantity", locked.quantity.toString()},
              {"synchronizer", locked.synchronizer},
              {"update_id", locked.update_id}}
      .dump();
}

std::string cashLockedDetails(const ledger::Outcome& locked) {
  return json{{"buyer_cash_ledger_ref", locked.contract_id},
              {"locked_amount", locked.amount.toString()},
              {"synchronizer", locked.synchronizer},
              {"update_id", locked.update_id}}
      .dump();
}

std::string executingDetails(const Settlement& s, const ledger::Outcome& reassigned) {
  return json{{"synchronizer", reassigned.synchronizer},
              {"dvp_contract_id", s.dvp_contract_id},
              {"quantity", s.locked_quantity.toString()},
              {"amount", s.locked_amount.toString()}}
      .dump();
}

std::string settleDetails(const Settlement& s, const ledger::Outcome& settled) {
  json details{{"dvp_atomic_transaction_id", settled.update_id},
               {"buyer_securities_ledger_ref", settled.buyer_securities_contract_id},
               {"seller_cash_ledger_ref", settled.seller_cash_contract_id},
               {"ledger_offset", settled.offset},
               {"quantity", settled.quantity.toString()},
               {"amount", settled.amount.toString()},
               {"settled_quantity", s.settled_quantity.toString()},
               {"settled_amount", s.settled_amount.toString()}};
  if (!settled.remainder_dvp_contract_id.empty()) {
    details["remaining_quantity"] = s.trade.quantity.sub(s.settled_quantity)->toString();
    details["remaining_amount"] = s.trade.amount.sub(s.settled_amount)->toString();
    details["remainder_dvp_contract_id"] = settled.remainder_dvp_contract_id;
  }
  return details.dump();
}

std::string settledDetails(const Settlement& s, int64_t ledger_offset) {
  return json{{"dvp_atomic_transaction_id", s.dvp_atomic_transaction_id},
              {"ledger_offset", ledger_offset},
              {"settlement_date", formatDate(s.trade.settlement_date)}}
      .dump();
}

std::string recycledDetails(const Settlement& s) {
  return json{{"recycled", true},
              {"remaining_quantity", s.trade.quantity.sub(s.settled_quantity)->toString()},
              {"retry_count", s.retry_count},
              {"dvp_contract_id", s.dvp_contract_id}}
      .dump();
}

std::string failedDetails(const Settlement& s, std::string_view fence_detail,
                          const std::string& fence_ref) {
  json details{{"failure_code", s.failure_code},
               {"failure_reason", s.failure_reason},
               {"failed_step", s.failed_step},
               {"retry_count", s.retry_count},
               {"settled_quantity", s.settled_quantity.toString()},
               {"settled_amount", s.settled_amount.toString()}};
  details[std::string(fence_detail)] = fence_ref;
  return details.dump();
}

std::string retriedDetails(const Settlement& s, const std::string& reason, Status resumed_at) {
  return json{{"retry", true},
              {"reason", reason},
              {"retry_count", s.retry_count},
              {"resumed_at", toString(resumed_at)}}
      .dump();
}

}  // namespace sc::workflow

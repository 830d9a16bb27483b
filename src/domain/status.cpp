#include "domain/status.h"

namespace sc {

std::string_view toString(Status s) {
  switch (s) {
    case Status::kPending:
      return "pending";
    case Status::kInitiated:
      return "initiated";
    case Status::kSellerSecuritiesLocked:
      return "seller_securities_locked";
    case Status::kBuyerCashLocked:
      return "buyer_cash_locked";
    case Status::kExecuting:
      return "executing";
    case Status::kConfirmed:
      return "confirmed";
    case Status::kSettled:
      return "settled";
    case Status::kFailed:
      return "failed";
    case Status::kPartiallySettled:
      return "partially_settled";
  }
  return "unknown";
}

std::optional<Status> parseStatus(std::string_view s) {
  for (Status st : kAllStatuses)
    if (toString(st) == s) return st;
  return std::nullopt;
}

bool isTerminal(Status s) { return s == Status::kSettled; }

bool isActive(Status s) { return s != Status::kSettled && s != Status::kFailed; }

bool isAllowedTransition(Status from, Status to) {
  using S = Status;
  switch (from) {
    case S::kPending:
      return to == S::kInitiated || to == S::kFailed;
    case S::kInitiated:
      return to == S::kSellerSecuritiesLocked || to == S::kFailed;
    case S::kSellerSecuritiesLocked:
      return to == S::kBuyerCashLocked || to == S::kFailed;
    case S::kBuyerCashLocked:
      return to == S::kExecuting || to == S::kFailed;
    case S::kExecuting:
      return to == S::kConfirmed || to == S::kFailed || to == S::kPartiallySettled;
    case S::kConfirmed:
      return to == S::kSettled;
    case S::kSettled:
      return false;
    case S::kFailed:
      return to == S::kPending || to == S::kInitiated;
    case S::kPartiallySettled:
      return to == S::kInitiated || to == S::kFailed;
  }
  return false;
}

std::string_view eventTypeFor(Status to) {
  switch (to) {
    case Status::kPending:
      return "settlement_pending";
    case Status::kInitiated:
      return "settlement_initiated";
    case Status::kSellerSecuritiesLocked:
      return "settlement_seller_securities_locked";
    case Status::kBuyerCashLocked:
      return "settlement_buyer_cash_locked";
    case Status::kExecuting:
      return "settlement_executing";
    case Status::kConfirmed:
      return "settlement_confirmed";
    case Status::kSettled:
      return "settlement_settled";
    case Status::kFailed:
      return "settlement_failed";
    case Status::kPartiallySettled:
      return "settlement_partially_settled";
  }
  return "settlement_unknown";
}

}  // namespace sc

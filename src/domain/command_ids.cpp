#include "domain/command_ids.h"

namespace sc {

std::string commandId(const Settlement& s, std::string_view step) {
  std::string id = s.settlementId();
  id += ':';
  id += step;
  id += ':';
  id += std::to_string(s.round);
  return id;
}

std::string_view nextLedgerStep(Status s) {
  switch (s) {
    case Status::kPending:
      return steps::kInitiate;
    case Status::kInitiated:
      return steps::kLockSecurities;
    case Status::kSellerSecuritiesLocked:
      return steps::kLockCash;
    case Status::kBuyerCashLocked:
      return steps::kReassign;
    case Status::kExecuting:
      return steps::kSettle;
    default:
      return {};
  }
}

}  // namespace sc

#pragma once
// Operator actions on settlements that need the ledger to decide (DESIGN §4 retry).
#include <string>

#include "domain/result.h"
#include "domain/settlement.h"

namespace sc::workflow {

class SettlementCommands {
 public:
  virtual ~SettlementCommands() = default;
  // Resumes a FAILED or PARTIALLY_SETTLED settlement at the earliest step whose ledger effect is
  // not in place, counting one retry. Errors: "settlement_not_found" (404),
  // "invalid_state" (409; message names the current status).
  virtual Result<Settlement> retry(const Uuid& id, const std::string& reason) = 0;
};

}  // namespace sc::workflow

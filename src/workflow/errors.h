#pragma once
// The error codes the workflow produces (as domain/trade.h's reason:: and ledger/ledger.h do).
// api/errors.cpp maps them to HTTP statuses by these names. The failure codes are also what a
// FAILED settlement's failure_code and the settlement.events "failed" details carry (a public
// contract: do not rename).
#include <string_view>

#include "domain/trade.h"

namespace sc::workflow {

// Failure codes of a settlement (Workflow, DESIGN §4).
inline constexpr std::string_view kSettlementTimeout = "settlement_timeout";  // deadline passed
inline constexpr std::string_view kPartialSettlementIncomplete = "partial_settlement_incomplete";
inline constexpr std::string_view kUnknownAccount = reason::kUnknownAccount;  // account gone
inline constexpr std::string_view kInactiveAccount = reason::kInactiveAccount;
// Retryable step errors (Workflow).
inline constexpr std::string_view kUpdateNotFound =
    "update_not_found";  // settle update not on ledger
inline constexpr std::string_view kLedgerInconsistent =
    "ledger_inconsistent";  // retry: effect unclear
// Operator commands (SettlementCommands::retry) and reads.
inline constexpr std::string_view kSettlementNotFound = "settlement_not_found";
inline constexpr std::string_view kInvalidState = "invalid_state";  // not retryable in this status
// AccountService.
inline constexpr std::string_view kAccountNotFound = "account_not_found";

}  // namespace sc::workflow

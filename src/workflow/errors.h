#pragma once
// The error codes the workflow produces (as domain/trade.h's reason:: and ledger/ledger.h do).
#include <string_view>

namespace sc::workflow {

inline constexpr std::string_view kAccountNotFound = "account_not_found";  // AccountService

}  // namespace sc::workflow

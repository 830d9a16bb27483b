#pragma once
// The error codes the store produces (as domain/trade.h's reason:: and ledger/ledger.h do).
#include <string_view>

namespace sc::store {

inline constexpr std::string_view kAccountExists = "account_exists";  // AccountRepository::create

}  // namespace sc::store

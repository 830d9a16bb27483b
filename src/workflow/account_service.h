#pragma once
// Accounts and their ledger holdings (spec "Accounts"): what the account routes ask for, with no
// HTTP in it. Creating an account allocates its ledger party; a holdings view sums the account's
// holdings per asset into free and locked balances (exact decimals).
//
// Errors: workflow::kAccountNotFound, store::kAccountExists, and whatever the repository or the
// ledger return (unchanged). Thread-safe when the repository and the ledger are.
#include <optional>
#include <string>
#include <vector>

#include "domain/decimal.h"
#include "domain/ledger_amount.h"
#include "domain/result.h"
#include "domain/settlement.h"
#include "domain/time.h"
#include "ledger/ledger.h"
#include "store/repository.h"

namespace sc::workflow {

struct NewAccount {
  std::string account_id;
  std::optional<std::string> canton_party;  // the party hint; absent: the account id
  AccountStatus status = AccountStatus::kActive;
};

// One asset's holdings of an account: free (unlocked) and locked amounts (ledger figures).
struct AssetBalance {
  std::string asset;
  LedgerAmount free, locked;
};

struct AccountHoldings {
  Account account;
  std::vector<ledger::HoldingView> holdings;  // as the ledger lists them
  std::vector<AssetBalance> balances;         // one per asset, by asset name
};

class AccountService {
 public:
  // All three must outlive the service.
  AccountService(store::AccountRepository& accounts, ledger::Ledger& ledger, const Clock& clock);

  // Allocates the ledger party, then stores the account (created_at = now).
  Result<Account> create(const NewAccount& request);
  Result<Account> find(const std::string& account_id);
  // The account with `status`; a no-op when it already has it.
  Result<Account> setStatus(const std::string& account_id, AccountStatus status);
  Result<AccountHoldings> holdings(const std::string& account_id);
  // Credits `amount` of `asset` to the account's party on `synchronizer` (operator funding).
  Result<ledger::HoldingView> credit(const std::string& account_id, const std::string& asset,
                                     LedgerAmount amount, const std::string& synchronizer);

  // The sums per asset of `holdings`, by asset name (amount_out_of_range when a sum overflows).
  static Result<std::vector<AssetBalance>> balances(
      const std::vector<ledger::HoldingView>& holdings);

 private:
  store::AccountRepository& accounts_;
  ledger::Ledger& ledger_;
  const Clock& clock_;
};

}  // namespace sc::workflow

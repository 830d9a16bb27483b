#include "workflow/account_service.h"

#include <map>

#include "store/errors.h"
#include "workflow/errors.h"

namespace sc::workflow {

AccountService::AccountService(store::AccountRepository& accounts, ledger::Ledger& ledger,
                               const Clock& clock)
    : accounts_(accounts), ledger_(ledger), clock_(clock) {}

Result<Account> AccountService::create(const NewAccount& request) {
  auto existing = accounts_.find(request.account_id);
  if (!existing) return existing.error();
  if (*existing)
    return Error::permanent(std::string(store::kAccountExists),
                            "account " + request.account_id + " already exists", "account_id");
  // A party that exists already belongs to another account (or to the issuer or cash provider):
  // an alias would spend its holdings (issue 11). The store's unique index backs this up.
  if (request.canton_party && request.canton_party->find("::") != std::string::npos) {
    auto exists = ledger_.partyExists(*request.canton_party);
    if (!exists) return exists.error();
    if (*exists)
      return Error::permanent(std::string(store::kPartyTaken),
                              "canton_party " + *request.canton_party + " is already in use",
                              "canton_party");
  }
  auto party = ledger_.allocateParty(request.canton_party.value_or(request.account_id));
  if (!party) return party.error();
  Account a;
  a.account_id = request.account_id;
  a.canton_party = *party;
  a.status = request.status;
  a.created_at = clock_.now();
  return accounts_.create(a);
}

Result<Account> AccountService::find(const std::string& account_id) {
  auto a = accounts_.find(account_id);
  if (!a) return a.error();
  if (!*a)
    return Error::permanent(std::string(workflow::kAccountNotFound),
                            "account " + account_id + " not found", "account_id");
  return std::move(**a);
}

Result<Account> AccountService::setStatus(const std::string& account_id, AccountStatus status) {
  auto a = find(account_id);
  if (!a || a->status == status) return a;
  auto set = accounts_.setStatus(account_id, status);
  if (!set) return set.error();
  a->status = status;
  return a;
}

Result<AccountHoldings> AccountService::holdings(const std::string& account_id) {
  auto a = find(account_id);
  if (!a) return a.error();
  auto holdings = ledger_.holdings(a->canton_party);
  if (!holdings) return holdings.error();
  auto sums = balances(*holdings);
  if (!sums) return sums.error();
  return AccountHoldings{std::move(*a), std::move(*holdings), std::move(*sums)};
}

Result<ledger::HoldingView> AccountService::credit(const std::string& account_id,
                                                   const std::string& asset, LedgerAmount amount,
                                                   const std::string& synchronizer) {
  auto a = find(account_id);
  if (!a) return a.error();
  return ledger_.credit(a->canton_party, asset, amount, synchronizer);
}

Result<std::vector<AssetBalance>> AccountService::balances(
    const std::vector<ledger::HoldingView>& holdings) {
  std::map<std::string, AssetBalance> by_asset;
  for (const auto& h : holdings) {
    AssetBalance& b = by_asset[h.asset];
    LedgerAmount& slot = h.locked ? b.locked : b.free;
    auto sum = slot.add(h.amount);
    if (!sum) return sum.error();
    slot = *sum;
  }
  std::vector<AssetBalance> out;
  out.reserve(by_asset.size());
  for (auto& [asset, b] : by_asset) {
    b.asset = asset;
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace sc::workflow

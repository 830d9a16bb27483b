#pragma once
// A ledger with no DvP engine behind it, for tests of what only allocates parties, credits and
// reads holdings (AccountService, the account and ledger routes). Thread-safe (the server's
// handler pool calls it concurrently). Every submitted command fails; `fail_with` makes the
// party, credit, holdings and totals calls return that error (fault injection).
#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ledger/ledger.h"

namespace sc::test {

class FakeLedger final : public ledger::Ledger {
 public:
  std::vector<Result<ledger::Outcome>> submit(std::span<const ledger::Submission> batch) override {
    return std::vector<Result<ledger::Outcome>>(batch.size(),
                                                Error::permanent("invalid_command", "fake"));
  }
  Result<std::string> allocateParty(const std::string& hint) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    std::string party = hint + "::fake";
    parties_.push_back(party);
    return party;
  }
  Result<bool> partyExists(const std::string& party) override {
    std::lock_guard l(mu_);
    return std::find(parties_.begin(), parties_.end(), party) != parties_.end();
  }
  Result<ledger::HoldingView> credit(const std::string& party, const std::string& asset,
                                     LedgerAmount amount,
                                     const std::string& synchronizer) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    return addHolding(party, asset, amount, synchronizer);
  }
  Result<std::vector<ledger::HoldingView>> holdings(const std::string& party) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    std::vector<ledger::HoldingView> out;
    for (auto& h : holdings_)
      if (h.owner == party) out.push_back(h);
    return out;
  }
  Result<std::optional<ledger::DvpView>> dvp(const std::string&) override {
    return std::optional<ledger::DvpView>();
  }
  Result<std::optional<ledger::UpdateView>> updateById(const std::string&) override {
    return std::optional<ledger::UpdateView>();
  }
  Result<std::optional<ledger::Outcome>> completionAfter(const std::string&, int64_t) override {
    return std::optional<ledger::Outcome>();
  }
  Result<int64_t> knownLedgerEnd() override { return int64_t{0}; }
  Result<std::vector<ledger::AssetTotal>> totals() override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    std::map<std::string, ledger::AssetTotal> by;
    for (auto& h : holdings_) {
      auto& t = by[h.asset];
      t.asset = h.asset;
      t.total = *t.total.add(h.amount);
      if (h.locked) t.locked = *t.locked.add(h.amount);
    }
    std::vector<ledger::AssetTotal> out;
    for (auto& [_, t] : by) out.push_back(t);
    return out;
  }
  // No DvP engine, so nothing ever settles; credits are not journaled as movements either.
  Result<ledger::MovementPage> movementsSince(int64_t after, int) override {
    ledger::MovementPage page;
    page.end_offset = after;
    page.at_end = true;
    return page;
  }
  Result<int64_t> prunedUpTo() override { return int64_t{0}; }  // never pruned
  std::vector<std::string> synchronizers() const override {
    return {"securities", "cash", "settlement"};
  }
  Result<void> ping() override { return {}; }

  // Test helper: a locked holding.
  void putLocked(const std::string& party, const std::string& asset, Decimal amount) {
    std::lock_guard l(mu_);
    ledger::HoldingView& h = addHolding(party, asset, amount, "securities");
    h.locked = true;
    h.lock_dvp_contract_id = "dvp1";
  }

  std::optional<Error> fail_with;

 private:
  // Adds a free holding; the caller holds mu_.
  ledger::HoldingView& addHolding(const std::string& party, const std::string& asset,
                                  LedgerAmount amount, const std::string& synchronizer) {
    ledger::HoldingView h;
    h.contract_id = "h" + std::to_string(++next_id_);
    h.owner = party;
    h.asset = asset;
    h.amount = amount;
    h.synchronizer = synchronizer;
    holdings_.push_back(h);
    return holdings_.back();
  }

  std::mutex mu_;
  std::vector<std::string> parties_;
  std::vector<ledger::HoldingView> holdings_;
  int next_id_ = 0;
};

}  // namespace sc::test

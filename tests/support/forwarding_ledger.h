#pragma once
// A Ledger that forwards every call to another one. Test ledgers that inject a fault or a hook
// into one or two calls (workflow_fixture.h's ScriptedLedger, money_path_test's LossyLedger, the
// simulator's WorkerLedger) derive from it and override only those calls.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ledger/ledger.h"

namespace sc::test {

class ForwardingLedger : public ledger::Ledger {
 public:
  explicit ForwardingLedger(ledger::Ledger& target) : target_(&target) {}

  std::vector<Result<ledger::Outcome>> submit(std::span<const ledger::Submission> b) override {
    return target().submit(b);
  }
  Result<std::string> allocateParty(const std::string& h) override {
    return target().allocateParty(h);
  }
  Result<bool> partyExists(const std::string& p) override { return target().partyExists(p); }
  Result<ledger::HoldingView> credit(const std::string& p, const std::string& a,
                                     LedgerAmount amount, const std::string& s) override {
    return target().credit(p, a, amount, s);
  }
  Result<std::vector<ledger::HoldingView>> holdings(const std::string& p) override {
    return target().holdings(p);
  }
  Result<std::optional<ledger::DvpView>> dvp(const std::string& c) override {
    return target().dvp(c);
  }
  Result<std::optional<ledger::UpdateView>> updateById(const std::string& u) override {
    return target().updateById(u);
  }
  Result<std::optional<ledger::Outcome>> completionAfter(const std::string& c,
                                                         int64_t after) override {
    return target().completionAfter(c, after);
  }
  Result<int64_t> knownLedgerEnd() override { return target().knownLedgerEnd(); }
  Result<std::vector<ledger::AssetTotal>> totals() override { return target().totals(); }
  Result<ledger::MovementPage> movementsSince(int64_t after, int limit) override {
    return target().movementsSince(after, limit);
  }
  Result<int64_t> prunedUpTo() override { return target().prunedUpTo(); }
  std::vector<std::string> synchronizers() const override { return target().synchronizers(); }
  Result<void> ping() override { return target().ping(); }

 protected:
  // For a subclass whose target changes (the simulator reopens its ledger after a crash).
  ForwardingLedger() = default;
  // Where the calls go.
  virtual ledger::Ledger& target() const { return *target_; }

 private:
  ledger::Ledger* target_ = nullptr;
};

}  // namespace sc::test

#pragma once
// The simulator's checker, written from DESIGN §7 — not from the workflow's code. It sees the
// three stores as a user would: the settlements and their audit rows, the ledger's holdings,
// totals and command completions, and what was published. Every check returns the first broken
// invariant as text (empty: all hold).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "domain/decimal.h"
#include "domain/ledger_amount.h"
#include "domain/settlement.h"
#include "ledger/ledger.h"

namespace sc::test::sim {

struct PublishedEvent {
  Uuid event_id;
  Uuid settlement_id;
};

class Checker {
 public:
  // What the simulation did, as it happened.
  void credited(const std::string& account, const std::string& asset, LedgerAmount amount);
  void accepted(const std::string& trade_id, const Uuid& settlement_id);
  void rejected(const std::string& trade_id, const std::string& reason_code);
  void account(const std::string& account_id, const std::string& party);

  // After every step. `settles` holds, per settlement, every settle completion the ledger has
  // for any of its rounds (so a settle the database does not know about is counted too).
  std::string checkStep(const std::vector<Settlement>& rows,
                        const std::vector<SettlementEvent>& events,
                        const std::vector<ledger::HoldingView>& holdings,
                        const std::vector<ledger::AssetTotal>& totals,
                        const std::map<Uuid, std::vector<ledger::Outcome>>& settles) const;
  // Once faults have stopped and the run has quiesced: everything terminal and in agreement.
  std::string checkEnd(const std::vector<Settlement>& rows,
                       const std::vector<SettlementEvent>& events,
                       const std::vector<ledger::HoldingView>& holdings,
                       const std::vector<ledger::AssetTotal>& totals,
                       const std::map<Uuid, std::vector<ledger::Outcome>>& settles,
                       const std::vector<PublishedEvent>& published) const;

 private:
  std::map<std::pair<std::string, std::string>, LedgerAmount> credits_;  // (account, asset)
  std::map<std::string, LedgerAmount> asset_credits_;
  std::map<std::string, Uuid> accepted_;         // trade id → settlement
  std::vector<std::string> rejections_;          // reason codes
  std::map<std::string, std::string> party_of_;  // account → party
  std::map<std::string, std::string> account_of_;
};

}  // namespace sc::test::sim

#pragma once
// The comparisons of the reconciler, as pure functions of what it read (no I/O): one settlement
// row against the ledger, one ledger settle against the database, and an asset's total. The
// Reconciler (reconciler.h) gathers the inputs and records what these return.
#include <optional>
#include <string>
#include <vector>

#include "domain/ledger_amount.h"
#include "domain/settlement.h"
#include "ledger/ledger.h"
#include "reconciliation/findings.h"

namespace sc::reconciliation {

// One settle the ledger completed under a settlement's command id "<id>:settle:<round>".
struct LedgerSettle {
  int round = 0;
  ledger::Outcome outcome;             // contract_id = the DvP settled
  std::optional<ledger::DvpView> dvp;  // its terms (nullopt: the ledger does not know it)
};

// What the ledger says about one settlement row.
struct SettlementFacts {
  Settlement row;
  // The account parties (Account::canton_party); "" when the account is unknown.
  std::string buyer_party, seller_party;
  std::vector<LedgerSettle> settles;  // rounds 0..row.round, those that settled
  // The lock check (non-terminal and FAILED rows with a DvP): the locks bound to
  // row.dvp_contract_id and that DvP (nullopt: the ledger does not know it).
  bool locks_read = false;
  std::vector<ledger::HoldingView> locks;
  std::optional<ledger::DvpView> dvp;
};

// Whether the lock check applies to a row (what the reconciler must read for it).
bool needsLockCheck(const Settlement& s);

// Every drift between the row and the ledger, at most one finding per kind.
//  - CONFIRMED/SETTLED: the settles of its rounds add up to the row's settled quantity and amount
//    (which are the trade's), the recorded update id is one of them, and each settled a DvP
//    between the row's buyer and seller parties in its security and cash asset; none at all is
//    ledger_settle_missing, anything else ledger_settle_mismatch. Any other status: what settled
//    (partial fills) agrees the same way.
//  - FAILED: no lock on its DvP (failed_holds_locks), else the DvP archived (failed_dvp_active).
//  - INITIATED … EXECUTING and PARTIALLY_SETTLED: the DvP active and exactly the locks its status
//    says (seller's securities = locked_quantity from SELLER_SECURITIES_LOCKED on, buyer's cash =
//    locked_amount from BUYER_CASH_LOCKED on, none before or when PARTIALLY_SETTLED), else
//    locks_mismatch.
std::vector<Draft> checkSettlement(const SettlementFacts& f);

// A settle on the ledger that no settlement of the database made: its command id names no
// settlement the database has (`owner`: the settlement whose current DvP it settled, if any).
Draft unknownSettle(const ledger::MovementView& m, const std::optional<Settlement>& owner);

// The settlement a ledger command id "<set_…>:<step>:<round>" names, if it is one of ours.
std::optional<Uuid> settlementOfCommand(const std::string& command_id);

// ledger_total_changed when `actual` differs from `expected`.
std::optional<Draft> checkTotal(const std::string& asset, LedgerAmount expected,
                                LedgerAmount actual, int64_t ledger_offset);

}  // namespace sc::reconciliation

#pragma once
// The kinds of drift the reconciler reports (DESIGN §11), and a finding before it is recorded.
#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "domain/ids.h"

namespace sc::reconciliation {

namespace kind {
// PostgreSQL ↔ ledger, per settlement.
// A CONFIRMED/SETTLED row (or one that records a settled part) with no settle on the ledger under
// its command ids.
inline constexpr std::string_view kLedgerSettleMissing = "ledger_settle_missing";
// The ledger's settles of a settlement differ from the row: quantity, amount, counterparties,
// assets, or the recorded update id.
inline constexpr std::string_view kLedgerSettleMismatch = "ledger_settle_mismatch";
// A FAILED row whose DvP still has locks on the ledger.
inline constexpr std::string_view kFailedHoldsLocks = "failed_holds_locks";
// A FAILED row whose DvP is still active (and holds no locks).
inline constexpr std::string_view kFailedDvpActive = "failed_dvp_active";
// A non-terminal row whose locks (or DvP) on the ledger are not what its status says.
inline constexpr std::string_view kLocksMismatch = "locks_mismatch";
// A settle on the ledger that no settlement of the database made.
inline constexpr std::string_view kLedgerSettleUnknown = "ledger_settle_unknown";
// PostgreSQL ↔ settlement.events.
// An audit row never seen on the topic (relayed, past the grace period, the reader caught up).
inline constexpr std::string_view kEventMissing = "event_missing";
// A settlement's event first seen on the topic after a later one of the same settlement.
inline constexpr std::string_view kEventOutOfOrder = "event_out_of_order";
// An event on the topic with no audit row, or with content other than its audit row's.
inline constexpr std::string_view kEventForged = "event_forged";
// The ledger.
// An asset's total on the ledger differs from its last reconciled total plus the credits since.
inline constexpr std::string_view kLedgerTotalChanged = "ledger_total_changed";
// Ledger offsets pruned before the reconciler read their movements: the settles and credits in
// them were not compared (the asset totals take a new baseline after them).
inline constexpr std::string_view kLedgerRangePruned = "ledger_range_pruned";

inline constexpr std::array<std::string_view, 11> kAll = {
    kLedgerSettleMissing, kLedgerSettleMismatch, kFailedHoldsLocks, kFailedDvpActive,
    kLocksMismatch,       kLedgerSettleUnknown,  kEventMissing,     kEventOutOfOrder,
    kEventForged,         kLedgerTotalChanged,   kLedgerRangePruned};

// The kinds a re-check of one settlement row can clear (the others are history: they stay until
// an operator acknowledges them, or clear by their own rule).
inline constexpr std::array<std::string_view, 5> kSettlementKinds = {
    kLedgerSettleMissing, kLedgerSettleMismatch, kFailedHoldsLocks, kFailedDvpActive,
    kLocksMismatch};

inline bool isKnown(std::string_view k) {
  for (auto x : kAll)
    if (x == k) return true;
  return false;
}
inline bool isSettlementKind(std::string_view k) {
  for (auto x : kSettlementKinds)
    if (x == k) return true;
  return false;
}
}  // namespace kind

// A finding as a check produced it, before it is recorded (store::Finding once it is).
struct Draft {
  std::string kind;
  std::optional<Uuid> settlement_id;
  std::string subject;  // only for findings without a settlement: what tells them apart
  nlohmann::json evidence = nlohmann::json::object();
};

}  // namespace sc::reconciliation

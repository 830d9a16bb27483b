#pragma once
// What the reconciler (src/reconciliation, DESIGN §11) reads and records in PostgreSQL, as an
// interface: PgReconciliationRepository (reconciliation_repository.h) implements it on the tables
// of migration 0007 and the settlement tables; tests may fake it.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "domain/ledger_amount.h"
#include "domain/result.h"
#include "domain/settlement.h"
#include "domain/time.h"

namespace sc::store {

// The reconciler's progress (one row, shared by the instances).
struct ReconciliationState {
  int64_t watermark = 0;      // settlement_events.position reconciled up to
  int64_t ledger_offset = 0;  // ledger movements read up to
  int64_t passes = 0;
  int64_t checked_settlements = 0;
  std::optional<Timestamp> last_pass_at;
  // Per asset, the total the ledger should hold at ledger_offset.
  std::map<std::string, LedgerAmount> expected_totals;
};

// A settlement row as the reconciler needs it: the row and whether a worker holds (or held, and
// has not written since) its lease.
struct ReconciliationRow {
  Settlement settlement;
  bool leased = false;  // lease_until or lease_token set
};

// Where the audit trail is final: every settlement_events row with position <= max_position
// exists for good once every transaction that was running when it was read has ended (positions
// come from a sequence, so a transaction still running then may commit a lower one later).
struct EventHorizon {
  int64_t max_position = 0;
  std::string snapshot;  // pg_current_snapshot() as text, for horizonFinal()
};

struct Finding {
  int64_t id = 0;  // assigned by the store
  std::string kind;
  std::optional<Uuid> settlement_id;
  std::string trade_id;         // read: the settlement's trade, when the database knows it
  std::string subject;          // tells findings without a settlement apart ("" otherwise)
  std::string evidence = "{}";  // JSON object text
  Timestamp found_at{};
  std::string status = "open";  // open | resolved | acknowledged
  std::optional<Timestamp> resolved_at;
  std::string resolution;  // JSON object text, or "" (what the pass that resolved it saw)
  std::string acknowledged_by;
  std::optional<Timestamp> acknowledged_at;
  std::string note;
};

struct FindingQuery {
  std::optional<std::string> status;  // open | resolved | acknowledged; nullopt: any
  std::optional<std::string> kind;
  int limit = 100;  // newest first
};

class ReconciliationRepository {
 public:
  virtual ~ReconciliationRepository() = default;

  virtual Result<ReconciliationState> state() = 0;
  // The least ledger_offset_floor of the settlements with audit rows after `position` (the
  // reconciler's watermark): what it has still to compare on the ledger, from their first lease
  // on. nullopt when there is none. The embedded ledger's pruning waits for it
  // (workflow/ledger_pruner.h).
  virtual Result<std::optional<int64_t>> leastFloorToCompare(int64_t position) = 0;
  // Saves the progress and the expected totals (replacing them) in one transaction.
  virtual Result<void> saveState(const ReconciliationState& s) = 0;

  virtual Result<EventHorizon> eventHorizon() = 0;
  // Whether every transaction running when `h` was read has ended.
  virtual Result<bool> horizonFinal(const EventHorizon& h) = 0;
  // Audit rows with after < position <= up_to, by position, at most `limit`.
  virtual Result<std::vector<SettlementEvent>> eventsAfter(int64_t after, int64_t up_to,
                                                           int limit) = 0;
  // Audit rows by event id (any order; unknown ids are left out).
  virtual Result<std::vector<SettlementEvent>> eventsByIds(std::span<const Uuid> ids) = 0;
  // The positions among `positions` still in settlement_outbox (not yet relayed).
  virtual Result<std::vector<int64_t>> undelivered(std::span<const int64_t> positions) = 0;
  // Settlement rows by id (any order; unknown ids are left out).
  virtual Result<std::vector<ReconciliationRow>> settlements(std::span<const Uuid> ids) = 0;
  // Settlements whose current DvP is one of `dvp_contract_ids` (a rare look-up, unindexed).
  virtual Result<std::vector<Settlement>> settlementsByDvp(
      std::span<const std::string> dvp_contract_ids) = 0;

  // Records an open finding; false when an open one of the same kind, settlement and subject
  // exists already (nothing is written).
  virtual Result<bool> raise(const Finding& f) = 0;
  // Open findings, oldest first, at most `limit`.
  virtual Result<std::vector<Finding>> openFindings(int limit) = 0;
  // Marks an open finding resolved (`resolution`: JSON object text); false if it was not open.
  virtual Result<bool> resolve(int64_t id, Timestamp at, const std::string& resolution) = 0;
  // Marks an open finding acknowledged by `actor`: the finding as it now is. An acknowledged
  // ledger_total_changed also drops its asset's expected total, so the next pass takes the
  // ledger's total as the new baseline. Errors: kFindingNotFound, kFindingNotOpen (errors.h).
  virtual Result<Finding> acknowledge(int64_t id, const std::string& actor, const std::string& note,
                                      Timestamp at) = 0;
  virtual Result<std::vector<Finding>> findings(const FindingQuery& q) = 0;
  // Open findings per kind.
  virtual Result<std::map<std::string, int64_t>> openByKind() = 0;
};

}  // namespace sc::store

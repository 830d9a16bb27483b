#pragma once
// PostgreSQL implementation of store/reconciliation.h (migration 0007 and the settlement tables).
// One pooled connection per call; safe from any thread.
#include "store/pool.h"
#include "store/reconciliation.h"

namespace sc::store {

class PgReconciliationRepository final : public ReconciliationRepository {
 public:
  explicit PgReconciliationRepository(pg::ConnectionPool& pool) : pool_(pool) {}

  Result<ReconciliationState> state() override;
  Result<std::optional<int64_t>> leastFloorToCompare(int64_t position) override;
  Result<void> saveState(const ReconciliationState& s) override;
  Result<EventHorizon> eventHorizon() override;
  Result<bool> horizonFinal(const EventHorizon& h) override;
  Result<std::vector<SettlementEvent>> eventsAfter(int64_t after, int64_t up_to,
                                                   int limit) override;
  Result<std::vector<SettlementEvent>> eventsByIds(std::span<const Uuid> ids) override;
  Result<std::vector<int64_t>> undelivered(std::span<const int64_t> positions) override;
  Result<std::vector<ReconciliationRow>> settlements(std::span<const Uuid> ids) override;
  Result<std::vector<Settlement>> settlementsByDvp(
      std::span<const std::string> dvp_contract_ids) override;
  Result<bool> raise(const Finding& f) override;
  Result<std::vector<Finding>> openFindings(int limit) override;
  Result<bool> resolve(int64_t id, Timestamp at, const std::string& resolution) override;
  Result<Finding> acknowledge(int64_t id, const std::string& actor, const std::string& note,
                              Timestamp at) override;
  Result<std::vector<Finding>> findings(const FindingQuery& q) override;
  Result<std::map<std::string, int64_t>> openByKind() override;

 private:
  pg::ConnectionPool& pool_;
};

}  // namespace sc::store

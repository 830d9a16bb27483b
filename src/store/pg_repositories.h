#pragma once
// PostgreSQL implementations of the store interfaces (repository.h). Each call leases one pooled
// connection and runs one transaction, pipelined so that a call costs one or two round trips
// whatever its batch size. Safe to call from many threads at once.
#include "store/pool.h"
#include "store/repository.h"

namespace sc::store {

class PgSettlementRepository final : public SettlementRepository {
 public:
  explicit PgSettlementRepository(pg::ConnectionPool& pool) : pool_(pool) {}

  Result<std::vector<IntakeOutcome>> intake(std::span<const Trade> trades, Timestamp now,
                                            Duration deadline) override;
  Result<std::optional<Settlement>> find(const Uuid& id) override;
  Result<std::optional<Settlement>> findByTradeId(const std::string& trade_id) override;
  Result<SettlementPage> list(const ListQuery& q) override;
  Result<std::vector<SettlementEvent>> events(const Uuid& settlement_id) override;
  Result<std::vector<Settlement>> leaseDue(Timestamp now, int limit, Duration lease,
                                           int64_t ledger_offset) override;
  Result<std::vector<bool>> write(std::span<const StateWrite> writes) override;
  Result<std::vector<std::pair<Status, int64_t>>> countByStatus() override;
  Result<int64_t> countPending() override;
  Result<std::optional<int64_t>> leastActiveLedgerFloor() override;

 private:
  Result<std::vector<IntakeOutcome>> intakeOnce(std::span<const Trade> trades, Timestamp now,
                                                Duration deadline);
  Result<std::vector<bool>> writeOnce(std::span<const StateWrite> writes);
  pg::ConnectionPool& pool_;
};

class PgAccountRepository final : public AccountRepository {
 public:
  explicit PgAccountRepository(pg::ConnectionPool& pool) : pool_(pool) {}
  Result<Account> create(const Account& a) override;
  Result<std::optional<Account>> find(const std::string& account_id) override;
  Result<std::vector<Account>> findMany(std::span<const std::string> ids) override;
  Result<void> setStatus(const std::string& account_id, AccountStatus s) override;

 private:
  pg::ConnectionPool& pool_;
};

class PgOutboxRepository final : public OutboxRepository {
 public:
  explicit PgOutboxRepository(pg::ConnectionPool& pool) : pool_(pool) {}
  Result<std::vector<SettlementEvent>> pending(int limit) override;
  Result<void> markPublished(std::span<const int64_t> positions, Timestamp at) override;
  Result<int64_t> backlog() override;
  Result<int64_t> trim(int64_t keep) override;

 private:
  pg::ConnectionPool& pool_;
};

}  // namespace sc::store

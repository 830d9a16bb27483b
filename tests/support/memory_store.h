#pragma once
// In-memory store with the semantics of the PostgreSQL one (src/store), for tests that must run
// without a database (unit label, sanitizers) and for the simulator. What it mirrors, and what
// tests/store pins to the real database:
//  - intake: unknown/inactive accounts rejected, same trade id + same content is a duplicate,
//    different content a conflict; a created settlement gets its "pending" event;
//  - leaseDue: active rows due at `now` that no live lease holds, oldest due first, each with a
//    fresh lease token;
//  - write: applied only when the row's status is `expected` and its lease token equals the
//    writer's (nil: the row must not be leased); chained writes of one row in one call keep the
//    token for the next; every write ends the lease; a status change writes one event and one
//    outbox entry; an illegal transition rejects the whole call and writes nothing;
//  - the outbox: events by position until marked published.
// Thread-safe. Faults: failNextWrites(n) makes the next n write() calls fail before applying
// anything (a lost commit as the caller sees it); failWritesAfterCommit(n) applies them and
// then reports a failure (the commit happened, the answer was lost).
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/repository.h"

namespace sc::test {

class MemoryAccounts final : public store::AccountRepository {
 public:
  Result<Account> create(const Account& a) override;
  Result<std::optional<Account>> find(const std::string& account_id) override;
  Result<void> setStatus(const std::string& account_id, AccountStatus s) override;

  // Test helper: an account `id` whose party is "<id>::party".
  void put(const std::string& id, AccountStatus s = AccountStatus::kActive);

  std::optional<Error> fail_with;  // every call fails with it while set

 private:
  mutable std::mutex mu_;
  std::map<std::string, Account> accounts_;
};

class MemoryStore final : public store::SettlementRepository, public store::OutboxRepository {
 public:
  explicit MemoryStore(store::AccountRepository& accounts) : accounts_(accounts) {}

  // SettlementRepository
  Result<std::vector<store::IntakeOutcome>> intake(std::span<const Trade> trades, Timestamp now,
                                                   Duration deadline) override;
  Result<std::optional<Settlement>> find(const Uuid& id) override;
  Result<std::optional<Settlement>> findByTradeId(const std::string& trade_id) override;
  Result<store::SettlementPage> list(const store::ListQuery& q) override;
  Result<std::vector<SettlementEvent>> events(const Uuid& settlement_id) override;
  Result<std::vector<Settlement>> leaseDue(Timestamp now, int limit, Duration lease,
                                           int64_t ledger_offset) override;
  Result<std::vector<bool>> write(std::span<const store::StateWrite> writes) override;
  Result<std::vector<std::pair<Status, int64_t>>> countByStatus() override;
  Result<std::optional<int64_t>> leastActiveLedgerFloor() override;

  // OutboxRepository
  Result<std::vector<SettlementEvent>> pending(int limit) override;
  Result<void> markPublished(std::span<const int64_t> positions, Timestamp at) override;
  Result<int64_t> backlog() override;
  Result<int64_t> trim(int64_t keep) override;

  // Faults and test helpers.
  void failNextWrites(int n, bool after_commit = false);
  std::optional<Error> fail_with;  // every call fails with it while set
  // Called inside write() with the lock held, before the guards are checked (e.g. to let a test
  // observe or interleave); not called for failed calls.
  std::function<void(std::span<const store::StateWrite>)> on_write;
  // The row as stored (lease fields included).
  std::optional<Settlement> row(const Uuid& id) const;
  std::vector<Settlement> rows() const;
  // Every event of every settlement, in position order.
  std::vector<SettlementEvent> allEvents() const;
  // Replaces a row as is (tests that tamper with the store behind the workflow's back).
  void put(const Settlement& s);
  // Appends an event (and its outbox entry) as a status change would.
  void addEvent(const Uuid& id, Status st, const std::string& details, Timestamp at);
  // The query of the last list() call, failed ones included.
  std::optional<store::ListQuery> lastQuery() const;

 private:
  struct Row {
    Settlement s;
    std::optional<Timestamp> lease_until;
    bool leased_before = false;  // ledger_offset_floor is set (by the first lease)
  };
  void addEventLocked(const Uuid& id, Status st, const std::string& details, Timestamp at);

  store::AccountRepository& accounts_;
  mutable std::mutex mu_;
  std::map<Uuid, Row> rows_;
  std::map<std::string, Uuid> by_trade_;
  std::vector<SettlementEvent> events_;  // position order
  std::map<int64_t, size_t> outbox_;     // undelivered: position → index in events_
  int64_t position_ = 0;
  std::optional<store::ListQuery> last_query_;
  int fail_writes_ = 0;
  bool fail_after_commit_ = false;
};

}  // namespace sc::test

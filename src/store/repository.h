#pragma once
// Storage interfaces (DESIGN §2). PgSettlementRepository implements them on PostgreSQL.
// Every call is one database transaction; batch calls exist because round trips dominate cost.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "domain/result.h"
#include "domain/settlement.h"

namespace sc::store {

enum class IntakeKind {
  kCreated,    // new settlement in PENDING (with its "pending" audit event)
  kDuplicate,  // same trade_id, same content: the existing settlement
  kRejected,   // a stateful rule failed: unknown_account, inactive_account, trade_conflict
};

struct IntakeOutcome {
  IntakeKind kind = IntakeKind::kCreated;
  Settlement settlement;  // created or existing (for a conflict: the existing one)
  std::optional<Error> rejection;
};

// A guarded write of one settlement row: applied only if the row's status is still `expected`
// and the row still carries next.lease_token — the token leaseDue returned (nil: only if the row
// is not leased; find() and list() return a nil token). A worker whose lease expired and was
// taken over is fenced this way, and so is a manual write to a row a worker holds.
// If next.status != expected the move must be allowed by isAllowedTransition and exactly one
// settlement_events row (details = `event_details`, a JSON object) is written with it; a write
// that keeps the status (rescheduling a retry) writes no event. Every write clears the lease
// (lease_until and lease_token; next.lease_token is only ever compared, never stored), so a
// leaseholder's write holds once; further writes of one row in the same write() call chain.
struct StateWrite {
  Settlement next;
  Status expected = Status::kPending;
  std::string event_details = "{}";
};

struct ListQuery {
  std::optional<std::string> account_id;  // buyer or seller
  // The caller's scope (an account holder's token): only settlements with a buyer or seller in
  // this list, counted in `total` likewise. nullopt: no scope; an empty list sees nothing.
  std::optional<std::vector<std::string>> visible_accounts;
  // Whether visible_accounts admits a settlement between these accounts (in-memory stores).
  bool visible(const std::string& buyer, const std::string& seller) const {
    if (!visible_accounts) return true;
    for (const auto& a : *visible_accounts)
      if (a == buyer || a == seller) return true;
    return false;
  }
  std::vector<Status> statuses;              // empty: any
  std::optional<Date> start_date, end_date;  // inclusive, on settlement_date
  // Stuck settlements (the dashboard's list): active ones (neither settled nor failed) that are
  // past their deadline (CONFIRMED excepted: it cannot fail and may wait days for its settlement
  // date), or waiting for a retry (next attempt after `now`, step attempts made), or whose
  // current step has been attempted at least `min_step_attempts` times.
  struct Stuck {
    Timestamp now{};
    int min_step_attempts = 3;
  };
  std::optional<Stuck> stuck;
  // Whether `stuck` admits this settlement (in-memory stores; the SQL says the same).
  bool stuckMatches(const Settlement& s) const {
    if (!stuck) return true;
    if (s.status == Status::kSettled || s.status == Status::kFailed) return false;
    return (s.status != Status::kConfirmed && s.deadline_at < stuck->now) ||
           (s.step_attempt > 0 && s.next_attempt_at > stuck->now) ||
           s.step_attempt >= stuck->min_step_attempts;
  }
  // Keyset pagination: only settlements after this one in the list's order (created_at desc,
  // id desc), found through the (created_at, id) index however deep the page is.
  struct After {
    Timestamp created_at{};
    Uuid id;
  };
  std::optional<After> after;
  int limit = 50;
  int offset = 0;  // skipped rows after `after`: bounded by the caller (the API: 10,000)
};

// A list's `total` counts at most this many matches: no request makes the database count more.
inline constexpr int64_t kListCountCap = 10000;

struct SettlementPage {
  std::vector<Settlement> settlements;  // newest first (created_at desc, id desc)
  int64_t total = 0;          // matches of the filters (ignoring `after`), at most kListCountCap
  bool total_capped = false;  // more than kListCountCap match
  bool more = false;          // settlements follow this page (a next cursor exists)
};

class SettlementRepository {
 public:
  virtual ~SettlementRepository() = default;

  // Accepts trades that passed stateless validation, in one transaction: checks the accounts,
  // inserts new settlements (PENDING + audit event), recognises duplicates and conflicts.
  // `deadline` is added to now for deadline_at. Outcomes are in input order.
  virtual Result<std::vector<IntakeOutcome>> intake(std::span<const Trade> trades, Timestamp now,
                                                    Duration deadline) = 0;

  virtual Result<std::optional<Settlement>> find(const Uuid& id) = 0;
  virtual Result<std::optional<Settlement>> findByTradeId(const std::string& trade_id) = 0;
  virtual Result<SettlementPage> list(const ListQuery& q) = 0;
  virtual Result<std::vector<SettlementEvent>> events(const Uuid& settlement_id) = 0;

  // Leases up to `limit` active settlements whose next_attempt_at <= now and that no live lease
  // holds (FOR UPDATE SKIP LOCKED), oldest due first, for `lease` long. Each returned settlement
  // carries a fresh lease_token that its writes must present. PostgreSQL times the lease by its
  // own clock (clock skew between instances cannot shorten or stretch it); `now` only decides
  // what is due. (The in-memory test store times it by `now`.) A row leased for the first time
  // records `ledger_offset` as its ledger_offset_floor (Ledger::knownLedgerEnd(), read before this
  // call); later leases keep the first.
  virtual Result<std::vector<Settlement>> leaseDue(Timestamp now, int limit, Duration lease,
                                                   int64_t ledger_offset) = 0;

  // Applies the writes in order in one transaction. Returns, per write, whether its guard held;
  // writes to one settlement that chain (each expects the status the previous one set) hold or
  // fail together, with the first one's guard.
  // A write that is not allowed by the transition table is a programming error → Error
  // "illegal_transition" and nothing is written.
  virtual Result<std::vector<bool>> write(std::span<const StateWrite> writes) = 0;

  // The least stepFloor() (the later of ledger_offset_floor and step_offset_floor) of the
  // settlements still active (not settled or failed) that have been leased; nullopt when none
  // has. Every command an active settlement may still submit or resend, and every lookup it
  // makes, carries its stepFloor(), which only grows: the embedded ledger's pruning watermark
  // (workflow/ledger_pruner.h). A row without a floor has no command yet; its first lease
  // records a ledger end read just before it.
  virtual Result<std::optional<int64_t>> leastActiveLedgerFloor() = 0;

  // Counts by status, for /metrics and tests.
  virtual Result<std::vector<std::pair<Status, int64_t>>> countByStatus() = 0;

  // Settlements in PENDING: the intake backlog the Kafka consumer throttles on (polled often, so
  // implementations should count only those rows). Default: from countByStatus().
  virtual Result<int64_t> countPending() {
    auto counts = countByStatus();
    if (!counts) return counts.error();
    for (const auto& [status, n] : *counts)
      if (status == Status::kPending) return n;
    return int64_t{0};
  }
};

class AccountRepository {
 public:
  virtual ~AccountRepository() = default;
  // Error "account_exists" (permanent) when the id is taken.
  virtual Result<Account> create(const Account& a) = 0;
  virtual Result<std::optional<Account>> find(const std::string& account_id) = 0;
  // The accounts among `ids` that exist (any order). Default: one find() each.
  virtual Result<std::vector<Account>> findMany(std::span<const std::string> ids) {
    std::vector<Account> out;
    for (const auto& id : ids) {
      auto a = find(id);
      if (!a) return a.error();
      if (*a) out.push_back(std::move(**a));
    }
    return out;
  }
  virtual Result<void> setStatus(const std::string& account_id, AccountStatus s) = 0;
};

// The outbox: settlement events not yet delivered to Kafka, by position (the event's identity and
// order). Every settlement_events row enters the outbox in the transaction that writes it.
class OutboxRepository {
 public:
  virtual ~OutboxRepository() = default;
  // Up to `limit` undelivered events, lowest position first.
  virtual Result<std::vector<SettlementEvent>> pending(int limit) = 0;
  // Records the events at `positions` as delivered (at `at`; an implementation may not keep the
  // time): pending() and backlog() no longer count them. Unknown or already delivered positions
  // are ignored, so repeating a call is harmless.
  virtual Result<void> markPublished(std::span<const int64_t> positions, Timestamp at) = 0;
  // How many events are undelivered.
  virtual Result<int64_t> backlog() = 0;
  // Drops the undelivered events beyond the newest `keep` (lowest positions first): only for a
  // service without Kafka, where nothing will ever deliver them (store/outbox_cap.h). Returns
  // how many it dropped. settlement_events, the audit trail, keeps every one.
  virtual Result<int64_t> trim(int64_t keep) = 0;
};

}  // namespace sc::store

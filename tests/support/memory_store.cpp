#include "support/memory_store.h"

#include <algorithm>
#include <set>

namespace sc::test {

// ---- accounts
// ------------------------------------------------------------------------------------

Result<Account> MemoryAccounts::create(const Account& a) {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  if (accounts_.count(a.account_id))
    return Error::permanent("account_exists", "account " + a.account_id + " exists", "account_id");
  for (const auto& [id, other] : accounts_)  // accounts.canton_party is UNIQUE
    if (other.canton_party == a.canton_party)
      return Error::permanent("canton_party_taken", "canton_party " + a.canton_party + " taken",
                              "canton_party");
  accounts_[a.account_id] = a;
  return a;
}

Result<std::optional<Account>> MemoryAccounts::find(const std::string& id) {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  auto it = accounts_.find(id);
  if (it == accounts_.end()) return std::optional<Account>();
  return std::optional<Account>(it->second);
}

Result<void> MemoryAccounts::setStatus(const std::string& id, AccountStatus s) {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  auto it = accounts_.find(id);
  if (it == accounts_.end()) return Error::permanent("account_not_found", "no account " + id);
  it->second.status = s;
  return {};
}

void MemoryAccounts::put(const std::string& id, AccountStatus s) {
  std::lock_guard l(mu_);
  accounts_[id] = Account{id, id + "::party", s, {}};
}

// ---- settlements
// ---------------------------------------------------------------------------------

void MemoryStore::addEventLocked(const Uuid& id, Status st, const std::string& details,
                                 Timestamp at) {
  SettlementEvent e;
  e.id = Uuid::generateV7();
  e.settlement_id = id;
  e.status = st;
  e.details = details.empty() ? "{}" : details;
  e.created_at = at;
  e.position = ++position_;
  outbox_[e.position] = events_.size();
  events_.push_back(std::move(e));
}

Result<std::vector<store::IntakeOutcome>> MemoryStore::intake(std::span<const Trade> trades,
                                                              Timestamp now, Duration deadline) {
  std::vector<store::IntakeOutcome> out;
  out.reserve(trades.size());
  for (const Trade& t : trades) {
    store::IntakeOutcome o;
    for (const auto* id : {&t.buyer_account_id, &t.seller_account_id}) {
      auto a = accounts_.find(*id);
      if (!a) return a.error();
      const char* field = id == &t.buyer_account_id ? "buyer_account_id" : "seller_account_id";
      if (o.rejection) break;
      if (!*a)
        o.rejection = Error::permanent("unknown_account", "unknown account " + *id, field);
      else if ((*a)->status != AccountStatus::kActive)
        o.rejection = Error::permanent("inactive_account", "inactive account " + *id, field);
    }
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    if (auto it = by_trade_.find(t.trade_id); it != by_trade_.end()) {
      // A resubmission is recognised before the account checks (as in PostgreSQL): an account
      // deactivated since must not turn a duplicate into a rejection.
      o.settlement = rows_.at(it->second).s;
      o.settlement.lease_token = Uuid();
      if (o.settlement.trade.sameContent(t)) {
        o.kind = store::IntakeKind::kDuplicate;
        o.rejection.reset();
      } else {
        o.kind = store::IntakeKind::kRejected;
        o.rejection = Error::permanent("trade_conflict",
                                       "trade " + t.trade_id +
                                           " was already submitted with "
                                           "different content",
                                       "trade_id");
      }
      out.push_back(std::move(o));
      continue;
    }
    if (o.rejection) {
      o.kind = store::IntakeKind::kRejected;
      out.push_back(std::move(o));
      continue;
    }
    Settlement s;
    s.id = Uuid::generateV7();
    s.trade = t;
    s.created_at = s.updated_at = s.next_attempt_at = now;
    s.deadline_at = now + deadline;
    rows_[s.id] = Row{s, std::nullopt};
    by_trade_[t.trade_id] = s.id;
    addEventLocked(s.id, Status::kPending, R"({"trade_id":")" + t.trade_id + "\"}", now);
    o.kind = store::IntakeKind::kCreated;
    o.settlement = s;
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::optional<Settlement>> MemoryStore::find(const Uuid& id) {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  auto it = rows_.find(id);
  if (it == rows_.end()) return std::optional<Settlement>();
  Settlement s = it->second.s;
  s.lease_token = Uuid();  // as find() in PostgreSQL: a nil token
  return std::optional<Settlement>(std::move(s));
}

Result<std::optional<Settlement>> MemoryStore::findByTradeId(const std::string& trade_id) {
  Uuid id;
  {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    auto it = by_trade_.find(trade_id);
    if (it == by_trade_.end()) return std::optional<Settlement>();
    id = it->second;
  }
  return find(id);
}

Result<store::SettlementPage> MemoryStore::list(const store::ListQuery& q) {
  std::lock_guard l(mu_);
  last_query_ = q;
  if (fail_with) return *fail_with;
  std::vector<Settlement> all;
  for (const auto& [_, r] : rows_) {
    const Settlement& s = r.s;
    if (q.account_id && s.trade.buyer_account_id != *q.account_id &&
        s.trade.seller_account_id != *q.account_id)
      continue;
    if (!q.visible(s.trade.buyer_account_id, s.trade.seller_account_id)) continue;
    if (!q.statuses.empty() &&
        std::find(q.statuses.begin(), q.statuses.end(), s.status) == q.statuses.end())
      continue;
    if (q.start_date && s.trade.settlement_date < *q.start_date) continue;
    if (q.end_date && s.trade.settlement_date > *q.end_date) continue;
    if (!q.stuckMatches(s)) continue;
    all.push_back(s);
    all.back().lease_token = Uuid();
  }
  std::sort(all.begin(), all.end(), [](const Settlement& a, const Settlement& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
  });
  store::SettlementPage page;
  page.total = std::min(static_cast<int64_t>(all.size()), store::kListCountCap);
  page.total_capped = static_cast<int64_t>(all.size()) > store::kListCountCap;
  size_t i = 0;
  if (q.after) {
    while (i < all.size() &&
           (all[i].created_at > q.after->created_at ||
            (all[i].created_at == q.after->created_at && all[i].id >= q.after->id)))
      ++i;
  }
  for (i += static_cast<size_t>(std::max(q.offset, 0));
       i < all.size() && page.settlements.size() < static_cast<size_t>(q.limit); ++i)
    page.settlements.push_back(all[i]);
  page.more = i < all.size();
  return page;
}

Result<std::vector<SettlementEvent>> MemoryStore::events(const Uuid& id) {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  std::vector<SettlementEvent> out;
  for (const auto& e : events_)
    if (e.settlement_id == id) out.push_back(e);
  return out;
}

Result<std::vector<Settlement>> MemoryStore::leaseDue(Timestamp now, int limit, Duration lease,
                                                      int64_t ledger_offset) {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  std::vector<Row*> due;
  for (auto& [_, r] : rows_) {
    if (!isActive(r.s.status) || r.s.next_attempt_at > now) continue;
    if (r.lease_until && !(*r.lease_until < now)) continue;
    due.push_back(&r);
  }
  std::sort(due.begin(), due.end(), [](const Row* a, const Row* b) {
    return a->s.next_attempt_at != b->s.next_attempt_at
               ? a->s.next_attempt_at < b->s.next_attempt_at
               : a->s.id < b->s.id;
  });
  if (limit < 0) limit = 0;
  if (due.size() > static_cast<size_t>(limit)) due.resize(static_cast<size_t>(limit));
  std::vector<Settlement> out;
  out.reserve(due.size());
  for (Row* r : due) {
    r->lease_until = now + lease;
    r->s.lease_token = Uuid::generateV7();
    // The first lease's (the in-memory store holds no rows of older binaries).
    if (!r->leased_before) r->s.ledger_offset_floor = ledger_offset;
    r->leased_before = true;
    out.push_back(r->s);
  }
  return out;
}

Result<std::vector<bool>> MemoryStore::write(std::span<const store::StateWrite> writes) {
  for (const store::StateWrite& w : writes) {
    if (w.next.status != w.expected && !isAllowedTransition(w.expected, w.next.status)) {
      return Error::permanent("illegal_transition", "settlement " + w.next.settlementId() + ": " +
                                                        std::string(toString(w.expected)) + " -> " +
                                                        std::string(toString(w.next.status)) +
                                                        " is not an allowed transition");
    }
  }
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  bool report_failure = false;
  if (fail_writes_ > 0) {
    --fail_writes_;
    if (!fail_after_commit_)
      return Error::transient("database_unavailable", "injected: connection lost before commit");
    report_failure = true;
  }
  if (on_write) on_write(writes);
  // Which writes another write of the same row follows (those keep the lease token).
  std::vector<bool> followed(writes.size(), false);
  {
    std::set<Uuid> later;
    for (size_t i = writes.size(); i-- > 0;) followed[i] = !later.insert(writes[i].next.id).second;
  }
  std::vector<bool> held(writes.size(), false);
  for (size_t i = 0; i < writes.size(); ++i) {
    const store::StateWrite& w = writes[i];
    auto it = rows_.find(w.next.id);
    if (it == rows_.end()) continue;
    Row& r = it->second;
    if (r.s.status != w.expected || r.s.lease_token != w.next.lease_token) continue;
    held[i] = true;
    Settlement next = w.next;
    // What the database owns is not the writer's to change.
    next.trade = r.s.trade;
    next.created_at = r.s.created_at;
    next.ledger_offset_floor = r.s.ledger_offset_floor;
    next.step_offset_floor = std::max(r.s.step_offset_floor, w.next.step_offset_floor);  // GREATEST
    next.lease_token = followed[i] ? w.next.lease_token : Uuid();
    r.s = std::move(next);
    r.lease_until.reset();
    if (w.next.status != w.expected)
      addEventLocked(w.next.id, w.next.status, w.event_details, w.next.updated_at);
  }
  if (report_failure)
    return Error::transient("database_unavailable", "injected: connection lost after commit");
  return held;
}

Result<std::vector<std::pair<Status, int64_t>>> MemoryStore::countByStatus() {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  std::map<Status, int64_t> by;
  for (const auto& [_, r] : rows_) by[r.s.status]++;
  return std::vector<std::pair<Status, int64_t>>(by.begin(), by.end());
}

Result<std::optional<int64_t>> MemoryStore::leastActiveLedgerFloor() {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  std::optional<int64_t> least;
  for (const auto& [_, r] : rows_)
    if (r.leased_before && r.s.status != Status::kSettled && r.s.status != Status::kFailed)
      least = std::min(least.value_or(r.s.stepFloor()), r.s.stepFloor());
  return least;
}

Result<std::vector<SettlementEvent>> MemoryStore::pending(int limit) {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  std::vector<SettlementEvent> out;
  for (auto it = outbox_.begin(); it != outbox_.end() && static_cast<int>(out.size()) < limit; ++it)
    out.push_back(events_[it->second]);
  return out;
}

Result<void> MemoryStore::markPublished(std::span<const int64_t> positions, Timestamp) {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  for (int64_t p : positions) outbox_.erase(p);
  return {};
}

Result<int64_t> MemoryStore::backlog() {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  return static_cast<int64_t>(outbox_.size());
}

Result<int64_t> MemoryStore::trim(int64_t keep) {
  std::lock_guard l(mu_);
  if (fail_with) return *fail_with;
  int64_t dropped = 0;
  while (static_cast<int64_t>(outbox_.size()) > std::max<int64_t>(keep, 0)) {
    outbox_.erase(outbox_.begin());
    ++dropped;
  }
  return dropped;
}

void MemoryStore::failNextWrites(int n, bool after_commit) {
  std::lock_guard l(mu_);
  fail_writes_ = n;
  fail_after_commit_ = after_commit;
}

std::optional<Settlement> MemoryStore::row(const Uuid& id) const {
  std::lock_guard l(mu_);
  auto it = rows_.find(id);
  if (it == rows_.end()) return std::nullopt;
  return it->second.s;
}

std::vector<Settlement> MemoryStore::rows() const {
  std::lock_guard l(mu_);
  std::vector<Settlement> out;
  for (const auto& [_, r] : rows_) out.push_back(r.s);
  return out;
}

std::vector<SettlementEvent> MemoryStore::allEvents() const {
  std::lock_guard l(mu_);
  return events_;
}

void MemoryStore::put(const Settlement& s) {
  std::lock_guard l(mu_);
  auto& r = rows_[s.id];
  r.s = s;
  by_trade_[s.trade.trade_id] = s.id;
}

void MemoryStore::addEvent(const Uuid& id, Status st, const std::string& details, Timestamp at) {
  std::lock_guard l(mu_);
  addEventLocked(id, st, details, at);
}

std::optional<store::ListQuery> MemoryStore::lastQuery() const {
  std::lock_guard l(mu_);
  return last_query_;
}

}  // namespace sc::test

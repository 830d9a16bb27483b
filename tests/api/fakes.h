#pragma once
// In-memory fakes of the interfaces the API depends on. Thread-safe (the server's handler pool
// calls them concurrently). `fail_with` makes every call return that error (fault injection).
#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "domain/settlement.h"
#include "ledger/ledger.h"
#include "store/audit.h"
#include "store/repository.h"
#include "workflow/commands.h"

namespace sc::test {

class FakeClock final : public Clock {
 public:
  Timestamp now() const override { return now_; }
  Timestamp now_ = startOf(Date(std::chrono::year(2024) / 11 / 17)) + std::chrono::hours(16) +
                   std::chrono::minutes(30);
};

class FakeAccountRepository final : public AccountRepository {
 public:
  Result<Account> create(const Account& a) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    if (accounts_.count(a.account_id))
      return Error::permanent("account_exists", "account " + a.account_id + " exists",
                              "account_id");
    for (const auto& [_, other] : accounts_)
      if (other.canton_party == a.canton_party)
        return Error::permanent("canton_party_taken", "canton_party " + a.canton_party + " taken",
                                "canton_party");
    accounts_[a.account_id] = a;
    return a;
  }
  Result<std::optional<Account>> find(const std::string& id) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    auto it = accounts_.find(id);
    if (it == accounts_.end()) return std::optional<Account>();
    return std::optional<Account>(it->second);
  }
  Result<void> setStatus(const std::string& id, AccountStatus s) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    auto it = accounts_.find(id);
    if (it == accounts_.end()) return Error::permanent("account_not_found", "no account " + id);
    it->second.status = s;
    return {};
  }
  void put(const std::string& id, AccountStatus s = AccountStatus::kActive) {
    std::lock_guard l(mu_);
    accounts_[id] = Account{id, id + "::party", s, {}};
  }

  std::optional<Error> fail_with;

 private:
  std::mutex mu_;
  std::map<std::string, Account> accounts_;
};

class FakeSettlementRepository final : public SettlementRepository {
 public:
  explicit FakeSettlementRepository(FakeAccountRepository& accounts) : accounts_(accounts) {}

  Result<std::vector<IntakeOutcome>> intake(std::span<const Trade> trades, Timestamp now,
                                            Duration deadline) override {
    std::vector<IntakeOutcome> out;
    for (const Trade& t : trades) {
      IntakeOutcome o;
      for (const auto* id : {&t.buyer_account_id, &t.seller_account_id}) {
        auto a = accounts_.find(*id);
        if (!a) return a.error();
        const char* field = id == &t.buyer_account_id ? "buyer_account_id" : "seller_account_id";
        if (!*a && !o.rejection)
          o.rejection = Error::permanent("unknown_account", "unknown account " + *id, field);
        else if (*a && (*a)->status != AccountStatus::kActive && !o.rejection)
          o.rejection = Error::permanent("inactive_account", "inactive account " + *id, field);
      }
      std::lock_guard l(mu_);
      if (fail_with) return *fail_with;
      if (o.rejection) {
        o.kind = IntakeKind::kRejected;
        out.push_back(std::move(o));
        continue;
      }
      auto existing = std::find_if(rows_.begin(), rows_.end(), [&](const auto& kv) {
        return kv.second.trade.trade_id == t.trade_id;
      });
      if (existing != rows_.end()) {
        o.settlement = existing->second;
        if (existing->second.trade.sameContent(t)) {
          o.kind = IntakeKind::kDuplicate;
        } else {
          o.kind = IntakeKind::kRejected;
          o.rejection =
              Error::permanent("trade_conflict", "trade " + t.trade_id + " differs", "trade_id");
        }
        out.push_back(std::move(o));
        continue;
      }
      Settlement s;
      s.id = Uuid::generateV7();
      s.trade = t;
      s.created_at = s.updated_at = now;
      s.deadline_at = now + deadline;
      rows_[s.id] = s;
      addEventLocked(s.id, Status::kPending, R"({"trade_id":")" + t.trade_id + "\"}", now);
      o.kind = IntakeKind::kCreated;
      o.settlement = s;
      out.push_back(std::move(o));
    }
    return out;
  }

  Result<std::optional<Settlement>> find(const Uuid& id) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    auto it = rows_.find(id);
    if (it == rows_.end()) return std::optional<Settlement>();
    return std::optional<Settlement>(it->second);
  }
  Result<std::optional<Settlement>> findByTradeId(const std::string& trade_id) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    for (auto& [_, s] : rows_)
      if (s.trade.trade_id == trade_id) return std::optional<Settlement>(s);
    return std::optional<Settlement>();
  }
  Result<SettlementPage> list(const ListQuery& q) override {
    std::lock_guard l(mu_);
    last_query = q;
    if (fail_with) return *fail_with;
    std::vector<Settlement> all;
    for (auto& [_, s] : rows_) {
      if (q.account_id && s.trade.buyer_account_id != *q.account_id &&
          s.trade.seller_account_id != *q.account_id)
        continue;
      if (!q.visible(s.trade.buyer_account_id, s.trade.seller_account_id)) continue;
      if (!q.statuses.empty() &&
          std::find(q.statuses.begin(), q.statuses.end(), s.status) == q.statuses.end())
        continue;
      if (q.start_date && s.trade.settlement_date < *q.start_date) continue;
      if (q.end_date && s.trade.settlement_date > *q.end_date) continue;
      all.push_back(s);
    }
    std::sort(all.begin(), all.end(), [](const Settlement& a, const Settlement& b) {
      return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
    });
    SettlementPage page;
    page.total = static_cast<int64_t>(all.size());
    for (size_t i = static_cast<size_t>(q.offset);
         i < all.size() && page.settlements.size() < static_cast<size_t>(q.limit); ++i)
      page.settlements.push_back(all[i]);
    return page;
  }
  Result<std::vector<SettlementEvent>> events(const Uuid& id) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    std::vector<SettlementEvent> out;
    for (auto& e : events_)
      if (e.settlement_id == id) out.push_back(e);
    return out;
  }
  Result<std::vector<Settlement>> leaseDue(Timestamp, int, Duration) override {
    return std::vector<Settlement>();
  }
  Result<std::vector<bool>> write(std::span<const StateWrite> writes) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    std::vector<bool> out;
    for (const auto& w : writes) {
      auto it = rows_.find(w.next.id);
      bool held = it != rows_.end() && it->second.status == w.expected;
      if (held) {
        bool moved = w.next.status != w.expected;
        it->second = w.next;
        if (moved) addEventLocked(w.next.id, w.next.status, w.event_details, w.next.updated_at);
      }
      out.push_back(held);
    }
    return out;
  }
  Result<std::vector<std::pair<Status, int64_t>>> countByStatus() override {
    return std::vector<std::pair<Status, int64_t>>();
  }

  // Test helpers.
  void put(const Settlement& s) {
    std::lock_guard l(mu_);
    rows_[s.id] = s;
  }
  void addEvent(const Uuid& id, Status st, const std::string& details, Timestamp at) {
    std::lock_guard l(mu_);
    addEventLocked(id, st, details, at);
  }
  std::optional<ListQuery> lastQuery() {
    std::lock_guard l(mu_);
    return last_query;
  }

  std::optional<Error> fail_with;  // set before requests are made

 private:
  void addEventLocked(const Uuid& id, Status st, const std::string& details, Timestamp at) {
    SettlementEvent e;
    e.id = Uuid::generateV7();
    e.settlement_id = id;
    e.status = st;
    e.details = details;
    e.created_at = at;
    e.position = ++position_;
    events_.push_back(e);
  }

  FakeAccountRepository& accounts_;
  std::mutex mu_;
  std::map<Uuid, Settlement> rows_;
  std::vector<SettlementEvent> events_;
  int64_t position_ = 0;
  std::optional<ListQuery> last_query;
};

class FakeCommands final : public SettlementCommands {
 public:
  explicit FakeCommands(FakeSettlementRepository& repo) : repo_(repo) {}
  Result<Settlement> retry(const Uuid& id, const std::string& reason) override {
    last_reason = reason;
    auto s = repo_.find(id);
    if (!s) return s.error();
    if (!*s) return Error::permanent("settlement_not_found", "settlement not found");
    Settlement next = **s;
    if (next.status != Status::kFailed && next.status != Status::kPartiallySettled)
      return Error::permanent("invalid_state",
                              "only failed or partially settled settlements can be retried");
    Status from = next.status;
    next.status = next.dvp_contract_id.empty() ? Status::kPending : Status::kInitiated;
    next.retry_count += 1;
    StateWrite w{next, from, R"({"reason":"manual retry"})"};
    auto r = repo_.write(std::span<const StateWrite>(&w, 1));
    if (!r) return r.error();
    return next;
  }
  std::string last_reason;

 private:
  FakeSettlementRepository& repo_;
};

class FakeLedger final : public ledger::Ledger {
 public:
  std::vector<Result<ledger::Outcome>> submit(std::span<const ledger::Submission> batch) override {
    return std::vector<Result<ledger::Outcome>>(batch.size(),
                                                Error::permanent("invalid_command", "fake"));
  }
  Result<std::string> allocateParty(const std::string& hint) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    std::string party = hint + "::fake";
    parties_.push_back(party);
    return party;
  }
  Result<bool> partyExists(const std::string& party) override {
    std::lock_guard l(mu_);
    return std::find(parties_.begin(), parties_.end(), party) != parties_.end();
  }
  Result<ledger::HoldingView> credit(const std::string& party, const std::string& asset,
                                     Decimal amount, const std::string& synchronizer) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    ledger::HoldingView h;
    h.contract_id = "h" + std::to_string(++next_id_);
    h.owner = party;
    h.asset = asset;
    h.amount = amount;
    h.synchronizer = synchronizer;
    holdings_.push_back(h);
    return h;
  }
  Result<std::vector<ledger::HoldingView>> holdings(const std::string& party) override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    std::vector<ledger::HoldingView> out;
    for (auto& h : holdings_)
      if (h.owner == party) out.push_back(h);
    return out;
  }
  Result<std::optional<ledger::DvpView>> dvp(const std::string&) override {
    return std::optional<ledger::DvpView>();
  }
  Result<std::optional<ledger::UpdateView>> updateById(const std::string&) override {
    return std::optional<ledger::UpdateView>();
  }
  Result<std::optional<ledger::Outcome>> completion(const std::string&) override {
    return std::optional<ledger::Outcome>();
  }
  Result<std::vector<ledger::AssetTotal>> totals() override {
    std::lock_guard l(mu_);
    if (fail_with) return *fail_with;
    std::map<std::string, ledger::AssetTotal> by;
    for (auto& h : holdings_) {
      auto& t = by[h.asset];
      t.asset = h.asset;
      t.total = *t.total.add(h.amount);
      if (h.locked) t.locked = *t.locked.add(h.amount);
    }
    std::vector<ledger::AssetTotal> out;
    for (auto& [_, t] : by) out.push_back(t);
    return out;
  }
  std::vector<std::string> synchronizers() const override {
    return {"securities", "cash", "settlement"};
  }
  Result<void> ping() override { return {}; }

  // Test helper: a locked holding.
  void putLocked(const std::string& party, const std::string& asset, Decimal amount) {
    std::lock_guard l(mu_);
    ledger::HoldingView h;
    h.contract_id = "h" + std::to_string(++next_id_);
    h.owner = party;
    h.asset = asset;
    h.amount = amount;
    h.locked = true;
    h.lock_dvp_contract_id = "dvp1";
    h.synchronizer = "securities";
    holdings_.push_back(h);
  }

  std::optional<Error> fail_with;

 private:
  std::mutex mu_;
  std::vector<std::string> parties_;
  std::vector<ledger::HoldingView> holdings_;
  int next_id_ = 0;
};

class FakeAuditRepository final : public AuditRepository {
 public:
  Result<void> record(const AuditEntry& e) override {
    std::lock_guard l(mu_);
    entries_.push_back(e);
    entries_.back().id = static_cast<int64_t>(entries_.size());
    return {};
  }
  Result<std::vector<AuditEntry>> list(const AuditQuery& q) override {
    std::lock_guard l(mu_);
    std::vector<AuditEntry> out;
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      if (q.actor && it->actor != *q.actor) continue;
      if (q.action && it->action != *q.action) continue;
      if (q.target && it->target != *q.target) continue;
      if (q.before_id && it->id >= *q.before_id) continue;
      if (static_cast<int>(out.size()) == q.limit) break;
      out.push_back(*it);
    }
    return out;
  }
  std::vector<AuditEntry> entries() {
    std::lock_guard l(mu_);
    return entries_;
  }

 private:
  std::mutex mu_;
  std::vector<AuditEntry> entries_;
};

class FakeCreditRequests final : public CreditRequestRepository {
 public:
  Result<CreditClaim> claim(const std::string& key, const std::string& sha) override {
    std::lock_guard l(mu_);
    auto [it, inserted] = rows_.try_emplace(key, Row{sha, false, 0, {}});
    if (inserted) return CreditClaim{};
    CreditClaim c;
    if (it->second.sha != sha)
      c.kind = CreditClaim::Kind::kOtherBody;
    else if (it->second.done)
      c = CreditClaim{CreditClaim::Kind::kDone, it->second.status, it->second.response};
    else
      c.kind = CreditClaim::Kind::kPending;
    return c;
  }
  Result<void> complete(const std::string& key, int status, const std::string& body) override {
    std::lock_guard l(mu_);
    rows_[key] = Row{rows_[key].sha, true, status, body};
    return {};
  }
  Result<void> release(const std::string& key) override {
    std::lock_guard l(mu_);
    rows_.erase(key);
    return {};
  }

 private:
  struct Row {
    std::string sha;
    bool done;
    int status;
    std::string response;
  };
  std::mutex mu_;
  std::map<std::string, Row> rows_;
};

}  // namespace sc::test

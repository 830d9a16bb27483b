#pragma once
// The reconciler's store (store/reconciliation.h) in memory, over a MemoryStore's settlements,
// audit trail and outbox, with PostgreSQL's semantics: one open finding per (kind, settlement,
// subject), acknowledgement only of open findings, an acknowledged ledger_total_changed drops its
// asset's expected total. Every write is committed at once, so every horizon is final.
// Thread-safe (the API's handler pool calls it).
#include <algorithm>
#include <mutex>

#include "store/errors.h"
#include "store/reconciliation.h"
#include "support/memory_store.h"

namespace sc::test {

class MemoryReconciliation final : public store::ReconciliationRepository {
 public:
  explicit MemoryReconciliation(MemoryStore& store) : store_(store) {}

  Result<store::ReconciliationState> state() override {
    std::lock_guard l(mu_);
    return state_;
  }
  Result<void> saveState(const store::ReconciliationState& s) override {
    std::lock_guard l(mu_);
    state_ = s;
    return {};
  }
  Result<store::EventHorizon> eventHorizon() override {
    auto events = store_.allEvents();
    return store::EventHorizon{events.empty() ? 0 : events.back().position, "memory"};
  }
  Result<bool> horizonFinal(const store::EventHorizon&) override { return true; }
  Result<std::optional<int64_t>> leastFloorToCompare(int64_t position) override {
    std::optional<int64_t> least;
    for (const auto& e : store_.allEvents())
      if (e.position > position)
        if (auto s = store_.row(e.settlement_id))
          least = std::min(least.value_or(s->ledger_offset_floor), s->ledger_offset_floor);
    return least;
  }
  Result<std::vector<SettlementEvent>> eventsAfter(int64_t after, int64_t up_to,
                                                   int limit) override {
    std::vector<SettlementEvent> out;
    for (auto& e : store_.allEvents())
      if (e.position > after && e.position <= up_to && static_cast<int>(out.size()) < limit)
        out.push_back(std::move(e));
    return out;
  }
  Result<std::vector<SettlementEvent>> eventsByIds(std::span<const Uuid> ids) override {
    std::vector<SettlementEvent> out;
    for (auto& e : store_.allEvents())
      if (std::find(ids.begin(), ids.end(), e.id) != ids.end()) out.push_back(std::move(e));
    return out;
  }
  Result<std::vector<int64_t>> undelivered(std::span<const int64_t> positions) override {
    auto pending = store_.pending(1 << 30);
    if (!pending) return pending.error();
    std::vector<int64_t> out;
    for (const auto& e : *pending)
      if (std::find(positions.begin(), positions.end(), e.position) != positions.end())
        out.push_back(e.position);
    return out;
  }
  Result<std::vector<store::ReconciliationRow>> settlements(std::span<const Uuid> ids) override {
    std::vector<store::ReconciliationRow> out;
    for (const auto& id : ids)
      if (auto s = store_.row(id)) out.push_back({*s, !s->lease_token.isNil()});
    return out;
  }
  Result<std::vector<Settlement>> settlementsByDvp(
      std::span<const std::string> dvp_contract_ids) override {
    std::vector<Settlement> out;
    for (auto& s : store_.rows())
      if (std::find(dvp_contract_ids.begin(), dvp_contract_ids.end(), s.dvp_contract_id) !=
          dvp_contract_ids.end())
        out.push_back(std::move(s));
    return out;
  }

  Result<bool> raise(const store::Finding& f) override {
    std::lock_guard l(mu_);
    for (const auto& g : findings_)
      if (g.status == "open" && g.kind == f.kind && g.settlement_id == f.settlement_id &&
          g.subject == f.subject)
        return false;
    store::Finding n = f;
    n.id = ++next_id_;
    n.status = "open";
    if (n.settlement_id)
      if (auto s = store_.row(*n.settlement_id)) n.trade_id = s->trade.trade_id;
    findings_.push_back(std::move(n));
    return true;
  }
  Result<std::vector<store::Finding>> openFindings(int limit) override {
    std::lock_guard l(mu_);
    std::vector<store::Finding> out;
    for (const auto& f : findings_)
      if (f.status == "open" && static_cast<int>(out.size()) < limit) out.push_back(f);
    return out;
  }
  Result<bool> resolve(int64_t id, Timestamp at, const std::string& resolution) override {
    std::lock_guard l(mu_);
    for (auto& f : findings_)
      if (f.id == id && f.status == "open") {
        f.status = "resolved";
        f.resolved_at = at;
        f.resolution = resolution;
        return true;
      }
    return false;
  }
  Result<store::Finding> acknowledge(int64_t id, const std::string& actor, const std::string& note,
                                     Timestamp at) override {
    std::lock_guard l(mu_);
    for (auto& f : findings_) {
      if (f.id != id) continue;
      if (f.status != "open")
        return Error::permanent(std::string(store::kFindingNotOpen),
                                "finding " + std::to_string(id) + " is " + f.status, "id");
      f.status = "acknowledged";
      f.acknowledged_by = actor;
      f.acknowledged_at = at;
      f.note = note;
      if (f.kind == "ledger_total_changed") state_.expected_totals.erase(f.subject);
      return f;
    }
    return Error::permanent(std::string(store::kFindingNotFound),
                            "no reconciliation finding " + std::to_string(id), "id");
  }
  Result<std::vector<store::Finding>> findings(const store::FindingQuery& q) override {
    std::lock_guard l(mu_);
    std::vector<store::Finding> out;
    for (auto it = findings_.rbegin(); it != findings_.rend(); ++it) {
      if (q.status && it->status != *q.status) continue;
      if (q.kind && it->kind != *q.kind) continue;
      if (static_cast<int>(out.size()) == q.limit) break;
      out.push_back(*it);
    }
    return out;
  }
  Result<std::map<std::string, int64_t>> openByKind() override {
    std::lock_guard l(mu_);
    std::map<std::string, int64_t> out;
    for (const auto& f : findings_)
      if (f.status == "open") ++out[f.kind];
    return out;
  }

 private:
  MemoryStore& store_;
  std::mutex mu_;
  store::ReconciliationState state_;
  std::vector<store::Finding> findings_;
  int64_t next_id_ = 0;
};

}  // namespace sc::test

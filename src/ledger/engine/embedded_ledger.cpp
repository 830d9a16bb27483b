#include "ledger/engine/embedded_ledger.h"

#include <algorithm>
#include <thread>

#include "domain/ids.h"
#include "ledger/engine/impl.h"

namespace sc::ledger {

using namespace engine;

// ---------------------------------------------------------------------------------------------

EmbeddedLedger::EmbeddedLedger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EmbeddedLedger::~EmbeddedLedger() = default;

namespace {
// A batch was applied but not made durable (its journal write or sync failed, and the ledger
// halted): after a restart each command may be there or not, and a refusal may have been judged
// against effects that are not. None of them is answered as done or as refused.
std::vector<Result<Outcome>> unknownOutcomes(std::span<const Submission> batch, const Error& e) {
  std::vector<Result<Outcome>> out;
  out.reserve(batch.size());
  for (const auto& s : batch) out.emplace_back(outcomeUnknown("command " + s.command_id, e));
  return out;
}
}  // namespace

std::vector<Result<Outcome>> EmbeddedLedger::submit(std::span<const Submission> batch) {
  Impl& L = *impl_;
  std::vector<Result<Outcome>> results;
  results.reserve(batch.size());
  uint64_t end = 0;
  std::chrono::microseconds latency{0};
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) {
      for (size_t i = 0; i < batch.size(); ++i) results.emplace_back(u.error());
      return results;
    }
    for (const auto& s : batch) {
      L.pending_latency = std::chrono::microseconds{0};
      results.push_back(L.execute(s));
      latency += L.pending_latency;
    }
    if (auto f = L.flushLocked(); !f) return unknownOutcomes(batch, f.error());
    end = L.written.load(std::memory_order_relaxed);
  }
  if (auto d = L.ensureDurable(end); !d) return unknownOutcomes(batch, d.error());
  // Due compactions run here, after this batch is durable and answered for: one halting (the new
  // journal in place but not usable) fails later calls, never these results.
  L.compactIfDue();
  if (latency.count() > 0) std::this_thread::sleep_for(latency);
  return results;
}

Result<Outcome> EmbeddedLedger::submitOne(const std::string& command_id, Command command) {
  Submission s{command_id, std::move(command)};
  return std::move(submit(std::span<const Submission>(&s, 1)).front());
}

Result<std::string> EmbeddedLedger::allocateParty(const std::string& hint) {
  Impl& L = *impl_;
  // A hint ("buyer") gets a fingerprint appended; an already full party id
  // ("securities-issuer::12345", as SECURITIES_ISSUER_PARTY names one) is registered as is.
  const size_t sep = hint.find("::");
  const bool full_id = sep != std::string::npos;
  if (!isValidExternalId(hint) || (full_id && (sep == 0 || sep + 2 == hint.size() ||
                                               hint.find("::", sep + 2) != std::string::npos))) {
    return invalid("party '" + hint +
                       "' must be a hint (1-64 of [A-Za-z0-9_.:-] without '::') or a full party "
                       "id '<hint>::<fingerprint>'",
                   "hint");
  }
  uint64_t end = 0;
  std::string id;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    if (auto it = L.party_by_hint.find(hint); it != L.party_by_hint.end()) return it->second;
    if (full_id) {
      id = hint;
    } else {
      id = hint + "::1220";
      for (uint64_t i = 0; i < 4; ++i) appendHex(id, hashString(hint, L.salt + i), 16);
    }
    Record rec;
    rec.ops.push_back(journal::PartyOp{hint, id});
    if (auto cr = L.commit(std::move(rec)); !cr) return cr.error();
    if (auto f = L.flushLocked(); !f) return f.error();
    end = L.written.load(std::memory_order_relaxed);
  }
  if (auto d = L.ensureDurable(end); !d) return d.error();
  return id;
}

Result<bool> EmbeddedLedger::partyExists(const std::string& party) {
  Impl& L = *impl_;
  uint64_t end = 0;
  bool exists = false;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    exists = L.parties.count(party) > 0;
    end = L.written.load(std::memory_order_relaxed);
  }
  return L.afterDurable(end, exists);
}

Result<HoldingView> EmbeddedLedger::credit(const std::string& party, const std::string& asset,
                                           LedgerAmount amount, const std::string& synchronizer) {
  Impl& L = *impl_;
  uint64_t end = 0;
  HoldingView v;
  std::chrono::microseconds latency{0};
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    if (!L.parties.count(party)) {
      return Error::permanent(kUnknownParty, "unknown party '" + party + "'", "party");
    }
    if (asset.empty()) return invalid("asset must not be empty", "asset");
    if (!amount.isPositive()) return invalid("credit amount must be positive", "amount");
    auto sit = L.sync_index.find(synchronizer);
    if (sit == L.sync_index.end()) {
      return invalid("unknown synchronizer '" + synchronizer + "'", "synchronizer");
    }
    auto tit = L.totals.find(asset);
    const engine::Units total = tit == L.totals.end() ? 0 : tit->second.total;
    if (total > LedgerAmount::kMaxUnits - amount.units()) {
      return Error::permanent(kAmountOutOfRange,
                              "crediting " + amount.toString(Decimal::kScale) + " " + asset +
                                  " would take the ledger's total of " + asset + " from " +
                                  engine::dec(total) + " past the Numeric 10 limit of " +
                                  LedgerAmount::max().toString(),
                              "amount");
    }
    L.pending_latency = std::chrono::microseconds{0};
    if (auto t = L.touch(sit->second); !t) return t.error();
    latency = L.pending_latency;
    Record rec = L.newTx("");
    journal::CreateHoldingOp op{L.contractId(rec.offset, 0),
                                party,
                                asset,
                                amount.units(),
                                synchronizer,
                                "",
                                LockKind::kNone};
    std::string cid = op.contract_id;
    rec.ops.push_back(std::move(op));
    if (auto cr = L.commit(std::move(rec)); !cr) return cr.error();
    if (auto f = L.flushLocked(); !f) return outcomeUnknown("credit to " + party, f.error());
    end = L.written.load(std::memory_order_relaxed);
    v = L.view(L.holdings.at(cid));
  }
  if (auto d = L.ensureDurable(end); !d) return outcomeUnknown("credit to " + party, d.error());
  if (latency.count() > 0) std::this_thread::sleep_for(latency);
  return v;
}

Result<std::vector<HoldingView>> EmbeddedLedger::holdings(const std::string& party) {
  Impl& L = *impl_;
  uint64_t end = 0;
  std::vector<HoldingView> out;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    if (auto it = L.by_owner.find(party); it != L.by_owner.end()) {
      out.reserve(it->second.size());
      for (const auto& cid : it->second) out.push_back(L.view(L.holdings.at(cid)));
    }
    end = L.written.load(std::memory_order_relaxed);
  }
  return L.afterDurable(end, std::move(out));
}

std::vector<HoldingView> EmbeddedLedger::allHoldings() const {
  Impl& L = *impl_;
  std::lock_guard l(L.mu);
  std::vector<HoldingView> out;
  out.reserve(L.holdings.size());
  for (const auto& [cid, h] : L.holdings) out.push_back(L.view(h));
  std::sort(out.begin(), out.end(), [](const HoldingView& a, const HoldingView& b) {
    return a.contract_id < b.contract_id;
  });
  return out;
}

Result<std::optional<DvpView>> EmbeddedLedger::dvp(const std::string& contract_id) {
  Impl& L = *impl_;
  uint64_t end = 0;
  std::optional<DvpView> out;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    end = L.written.load(std::memory_order_relaxed);
    if (auto it = L.dvps.find(contract_id); it != L.dvps.end()) out = L.dvpView(it->second);
  }
  return L.afterDurable(end, std::move(out));
}

Result<std::optional<UpdateView>> EmbeddedLedger::updateById(const std::string& update_id) {
  Impl& L = *impl_;
  uint64_t end = 0;
  std::optional<UpdateView> out;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    end = L.written.load(std::memory_order_relaxed);
    if (auto it = L.updates.find(update_id); it != L.updates.end()) out = it->second;
  }
  return L.afterDurable(end, std::move(out));
}

Result<std::optional<Outcome>> EmbeddedLedger::completionAfter(const std::string& command_id,
                                                               int64_t after_offset) {
  Impl& L = *impl_;
  uint64_t end = 0;
  std::optional<Outcome> out;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    // A completion of an id first submitted before the pruned offset may be gone: "none" would
    // be a guess. (The id's own after_offset bounds where its completion can be, as for submit.)
    if (after_offset < L.pruned_before) {
      return Error::permanent(kLedgerPruned,
                              "the completion of " + command_id + " after offset " +
                                  std::to_string(after_offset) +
                                  " may be pruned: the ledger is pruned below offset " +
                                  std::to_string(L.pruned_before),
                              "after_offset");
    }
    end = L.written.load(std::memory_order_relaxed);
    if (auto it = L.completions.find(command_id); it != L.completions.end()) out = it->second;
  }
  return L.afterDurable(end, std::move(out));
}

Result<std::vector<AssetTotal>> EmbeddedLedger::totals() {
  Impl& L = *impl_;
  uint64_t end = 0;
  std::vector<AssetTotal> out;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    end = L.written.load(std::memory_order_relaxed);
    out.reserve(L.totals.size());
    for (const auto& [asset, t] : L.totals) {
      out.push_back({asset, engine::amountOf(t.total), engine::amountOf(t.locked)});
    }
  }
  return L.afterDurable(end, std::move(out));
}

Result<int64_t> EmbeddedLedger::prunedUpTo() {
  const int64_t before = prunedBefore();
  return before > 0 ? before - 1 : 0;
}

Result<MovementPage> EmbeddedLedger::movementsSince(int64_t after_offset, int limit) {
  Impl& L = *impl_;
  if (limit <= 0) return invalid("limit must be positive", "limit");
  uint64_t end = 0;
  MovementPage page;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    end = L.written.load(std::memory_order_relaxed);
    // Movements at offsets after `after_offset` are asked for: those below the pruned offset
    // are gone, so a read that needs them fails rather than skipping them.
    if (after_offset + 1 < L.pruned_before) {
      return Error::permanent(kLedgerPruned,
                              "movements after offset " + std::to_string(after_offset) +
                                  " are asked for, but the ledger is pruned below offset " +
                                  std::to_string(L.pruned_before),
                              "after_offset");
    }
    page.end_offset = std::max(after_offset, L.ledger_end);
    page.at_end = true;
    auto it = std::upper_bound(
        L.movements.begin(), L.movements.end(), after_offset,
        [](int64_t offset, const engine::Movement& m) { return offset < m.offset; });
    for (; it != L.movements.end(); ++it) {
      if (static_cast<int>(page.movements.size()) == limit) {
        page.end_offset = page.movements.back().offset;
        page.at_end = false;
        break;
      }
      const engine::Movement& m = *it;
      MovementView v;
      v.update_id = m.update_id;
      v.offset = m.offset;
      v.recorded_at = Timestamp(std::chrono::microseconds(m.recorded_at_us));
      v.command_id = m.command_id;
      if (m.credit) {
        v.kind = MovementView::Kind::kCredit;
        v.owner = m.owner;
        v.asset = m.asset;
        v.credited = engine::amountOf(m.credited);
      } else {
        v.kind = MovementView::Kind::kSettle;
        v.dvp_contract_id = m.contract_id;
        v.remainder_dvp_contract_id = m.remainder_dvp;
        v.quantity = m.quantity;
        v.amount = m.amount;
        if (auto d = L.dvps.find(m.contract_id); d != L.dvps.end()) {
          v.buyer = d->second.buyer;
          v.seller = d->second.seller;
          v.security = d->second.security;
          v.cash_asset = d->second.cash_asset;
        }
      }
      page.movements.push_back(std::move(v));
    }
  }
  return L.afterDurable(end, std::move(page));
}

std::vector<std::string> EmbeddedLedger::synchronizers() const { return impl_->sync_names; }

Result<void> EmbeddedLedger::ping() {
  std::lock_guard l(impl_->mu);
  return impl_->checkUsable();  // names the failure that halted this instance
}

std::string EmbeddedLedger::securitiesIssuer() const { return impl_->issuer; }

std::string EmbeddedLedger::cashProvider() const { return impl_->provider; }

const std::string& EmbeddedLedger::settlementSynchronizer() const {
  return impl_->sync_names[impl_->settle_sync];
}

Result<int64_t> EmbeddedLedger::knownLedgerEnd() { return ledgerEnd(); }

int64_t EmbeddedLedger::ledgerEnd() const {
  std::lock_guard l(impl_->mu);
  return impl_->ledger_end;
}

Result<EmbeddedLedger::PruneResult> EmbeddedLedger::prune(int64_t before) {
  Impl& L = *impl_;
  PruneResult out;
  uint64_t end = 0;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    if (before > L.ledger_end) {
      return invalid("cannot prune below offset " + std::to_string(before) +
                         ": past the ledger end " + std::to_string(L.ledger_end),
                     "before");
    }
    if (before > L.pruned_before) {
      Record rec;
      rec.ops.push_back(journal::PruneOp{before});
      if (auto cr = L.commit(std::move(rec)); !cr) return cr.error();
      if (auto f = L.flushLocked(); !f) return f.error();
    }
    out.pruned_before = L.pruned_before;
    end = L.written.load(std::memory_order_relaxed);
  }
  if (auto d = L.ensureDurable(end); !d) return d.error();
  // What it pruned is dropped in chunks, the lock released between them: a pass after a backlog
  // drained has hundreds of thousands of entries to drop, and commands go on meanwhile.
  constexpr size_t kDropChunk = 10000;
  for (;;) {
    std::lock_guard l(L.mu);
    const auto d = L.dropPruned(kDropChunk);
    out.completions += d.completions;
    out.updates += d.updates;
    out.movements += d.movements;
    out.dvps += d.dvps;
    if (d.entries < kDropChunk) break;
  }
  if (auto c = L.compact(false); !c) return c.error();
  return out;
}

int64_t EmbeddedLedger::prunedBefore() const {
  std::lock_guard l(impl_->mu);
  return impl_->pruned_before;
}

Result<void> EmbeddedLedger::compact() { return impl_->compact(true); }

uint64_t EmbeddedLedger::journalPosition() const {
  std::lock_guard l(impl_->mu);
  return impl_->written.load(std::memory_order_relaxed);
}

Result<void> EmbeddedLedger::syncUpTo(uint64_t position) { return impl_->syncUpTo(position); }

EmbeddedLedger::Stats EmbeddedLedger::stats() const {
  std::lock_guard l(impl_->mu);
  Stats s = impl_->stats;
  s.fsyncs = impl_->fsync_count.load();
  s.durable_bytes = impl_->synced.load() - impl_->journal_base;  // of the current file
  s.epoch = impl_->journaling() ? impl_->epoch : 0;
  return s;
}

// ---- Read methods for the JSON Ledger API sandbox (src/ledger/sandbox) ----

std::vector<std::string> EmbeddedLedger::allParties() const {
  std::lock_guard l(impl_->mu);
  std::vector<std::string> out(impl_->parties.begin(), impl_->parties.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<DvpView> EmbeddedLedger::activeDvps() const {
  std::vector<std::string> ids;
  {
    std::lock_guard l(impl_->mu);
    for (const auto& [cid, d] : impl_->dvps) {
      if (d.active) ids.push_back(cid);
    }
  }
  std::sort(ids.begin(), ids.end());
  std::vector<DvpView> out;
  out.reserve(ids.size());
  auto* self = const_cast<EmbeddedLedger*>(this);
  for (const auto& id : ids) {
    auto v = self->dvp(id);
    if (v && *v && (*v)->active) out.push_back(**v);
  }
  return out;
}

std::optional<HoldingView> EmbeddedLedger::holdingById(const std::string& contract_id) const {
  std::lock_guard l(impl_->mu);
  auto it = impl_->holdings.find(contract_id);
  if (it == impl_->holdings.end()) return std::nullopt;
  return impl_->view(it->second);
}

std::optional<Date> EmbeddedLedger::dvpSettlementDate(const std::string& contract_id) const {
  std::lock_guard l(impl_->mu);
  auto it = impl_->dvps.find(contract_id);
  if (it == impl_->dvps.end()) return std::nullopt;
  return Date{std::chrono::days{it->second.date_days}};
}

// ---- end of sandbox read methods ----

}  // namespace sc::ledger

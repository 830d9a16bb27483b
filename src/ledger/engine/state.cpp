// EmbeddedLedger state: ids, the apply of journal ops (live and on replay), indexes, views and
// the integrity check.
#include "ledger/engine/impl.h"

namespace sc::ledger {

using namespace engine;

std::string EmbeddedLedger::Impl::updateId(int64_t offset) const {
  std::string id = "1220";
  appendHex(id, epoch, 8);
  appendHex(id, splitmix(salt ^ static_cast<uint64_t>(offset)), 8);
  appendHex(id, static_cast<uint64_t>(offset), 16);
  return id;
}

std::string EmbeddedLedger::Impl::contractId(int64_t offset, int index) const {
  std::string id = "00";
  appendHex(id, static_cast<uint64_t>(offset), 16);
  appendHex(id, static_cast<uint64_t>(index), 4);
  appendHex(id, epoch, 8);
  appendHex(id, splitmix(salt + static_cast<uint64_t>(offset) * 65536 + index), 8);
  return id;
}

Result<int> EmbeddedLedger::Impl::syncOf(const std::string& name) const {
  auto it = sync_index.find(name);
  if (it == sync_index.end()) {
    return Error::permanent(kInvalidCommand, "journal references unknown synchronizer '" + name +
                                                 "'; add it to the options");
  }
  return it->second;
}

void EmbeddedLedger::Impl::indexFree(const Holding& h) {
  auto& fi = free_index[key(h.owner, h.asset)];
  if (fi.by_sync.empty()) fi.by_sync.resize(sync_names.size());
  fi.by_sync[h.sync].emplace(h.seq, h.cid);
  fi.free += h.units;
}

void EmbeddedLedger::Impl::unindexFree(const Holding& h) {
  auto it = free_index.find(key(h.owner, h.asset));
  if (it == free_index.end()) return;
  it->second.by_sync[h.sync].erase(h.seq);
  it->second.free -= h.units;
}

Result<void> EmbeddedLedger::Impl::applyOp(const journal::Op& op, const std::string& command_id) {
  if (auto* o = std::get_if<journal::GenesisOp>(&op)) {
    salt = o->salt;
  } else if (auto* o = std::get_if<journal::PartyOp>(&op)) {
    party_by_hint[o->hint] = o->party_id;
    parties.insert(o->party_id);
  } else if (auto* o = std::get_if<journal::CreateHoldingOp>(&op)) {
    auto s = syncOf(o->synchronizer);
    if (!s) return s.error();
    // The engine sums raw units without overflow checks (engine::Units): a journal that breaks
    // the Numeric 10 bound of a holding or of its asset's total is refused, not applied.
    const Units before = totals.count(o->asset) ? totals.at(o->asset).total : 0;
    if (o->units <= 0 || o->units > LedgerAmount::kMaxUnits ||
        before > LedgerAmount::kMaxUnits - o->units) {
      return invalid("journal creates holding " + o->contract_id + " of " + o->asset +
                     " outside the ledger's Numeric 10 range (its total would exceed " +
                     LedgerAmount::max().toString() + ")");
    }
    Holding h;
    h.cid = o->contract_id;
    h.owner = o->owner;
    h.asset = o->asset;
    h.units = o->units;
    h.sync = *s;
    h.lock_dvp = o->lock_dvp;
    h.kind = o->lock_kind;
    h.seq = ++seq;
    auto& t = totals[h.asset];
    t.total += h.units;
    if (h.locked()) {
      t.locked += h.units;
      auto& l = locks[h.lock_dvp];
      (h.kind == LockKind::kSecurities ? l.securities : l.cash).push_back(h.cid);
    } else {
      indexFree(h);
    }
    by_owner[h.owner].insert(h.cid);
    holdings.emplace(h.cid, std::move(h));
  } else if (auto* o = std::get_if<journal::CreateDvpOp>(&op)) {
    auto s = syncOf(o->synchronizer);
    if (!s) return s.error();
    // A DvP's figures are trade figures: positive DECIMAL(18,8). Refused here, not later where
    // the views convert them back.
    for (int64_t units : {o->quantity_units, o->amount_units}) {
      if (units <= 0 || units > Decimal::kMaxUnits) {
        return invalid("journal creates DvP " + o->contract_id + " with a quantity or amount (" +
                       std::to_string(units) + " units of 10^-8) outside positive DECIMAL(18,8)");
      }
    }
    Dvp d;
    d.cid = o->contract_id;
    d.buyer = o->buyer;
    d.seller = o->seller;
    d.issuer = o->issuer;
    d.provider = o->provider;
    d.security = o->security;
    d.cash_asset = o->cash_asset;
    d.quantity = unitsOf(Decimal::fromUnits(o->quantity_units));
    d.amount = unitsOf(Decimal::fromUnits(o->amount_units));
    d.date_days = o->settlement_date_days;
    d.sync = *s;
    dvps.emplace(d.cid, std::move(d));
  } else if (auto* o = std::get_if<journal::ArchiveOp>(&op)) {
    if (o->dvp) {
      auto it = dvps.find(o->contract_id);
      if (it == dvps.end()) return invalid("journal archives unknown DvP " + o->contract_id);
      if (it->second.active) archived_dvps.emplace_back(applying_at, o->contract_id);
      it->second.active = false;
    } else {
      auto it = holdings.find(o->contract_id);
      if (it == holdings.end())
        return invalid("journal archives unknown holding " + o->contract_id);
      Holding& h = it->second;
      auto& t = totals[h.asset];
      t.total -= h.units;
      if (h.locked()) {
        t.locked -= h.units;
        auto lit = locks.find(h.lock_dvp);
        if (lit != locks.end()) {
          auto& v = h.kind == LockKind::kSecurities ? lit->second.securities : lit->second.cash;
          v.erase(std::remove(v.begin(), v.end(), h.cid), v.end());
          if (lit->second.empty()) locks.erase(lit);
        }
      } else {
        unindexFree(h);
      }
      auto oit = by_owner.find(h.owner);
      if (oit != by_owner.end()) oit->second.erase(h.cid);
      holdings.erase(it);
    }
  } else if (auto* o = std::get_if<journal::UnassignOp>(&op)) {
    auto s = syncOf(o->target);
    if (!s) return s.error();
    auto it = holdings.find(o->contract_id);
    if (it == holdings.end()) return invalid("journal unassigns unknown " + o->contract_id);
    if (usable(it->second)) unindexFree(it->second);
    it->second.in_flight = true;
    it->second.target = *s;
  } else if (std::holds_alternative<journal::FenceOp>(op)) {
    if (fenced.insert(command_id).second) command_order.emplace_back(applying_at, command_id);
  } else if (auto* o = std::get_if<journal::PruneOp>(&op)) {
    pruneBelow(o->before);
  } else if (auto* o = std::get_if<journal::LedgerEndOp>(&op)) {
    ledger_end = std::max(ledger_end, o->ledger_end);
    applying_at = std::max(applying_at, ledger_end);
  } else if (auto* o = std::get_if<journal::KeptCommandOp>(&op)) {
    const bool added = o->completion ? completions.emplace(o->command_id, *o->completion).second
                                     : fenced.insert(o->command_id).second;
    if (added) command_order.emplace_back(o->at, o->command_id);
  } else if (auto* o = std::get_if<journal::KeptUpdateOp>(&op)) {
    UpdateView u;
    u.update_id = o->update_id;
    u.offset = o->offset;
    u.recorded_at = Timestamp(std::chrono::microseconds(o->recorded_at_us));
    u.command_id = o->command_id;
    if (updates.emplace(o->update_id, std::move(u)).second)
      update_order.emplace_back(o->offset, o->update_id);
  } else if (auto* o = std::get_if<journal::KeptMovementOp>(&op)) {
    Movement mv;
    mv.offset = o->offset;
    mv.update_id = o->update_id;
    mv.command_id = o->command_id;
    mv.recorded_at_us = o->recorded_at_us;
    mv.credit = o->credit;
    mv.contract_id = o->contract_id;
    mv.remainder_dvp = o->remainder_dvp;
    mv.quantity = Decimal::fromUnits(o->quantity_units);
    mv.amount = Decimal::fromUnits(o->amount_units);
    mv.owner = o->owner;
    mv.asset = o->asset;
    mv.credited = o->credited;
    movements.push_back(std::move(mv));
  } else if (auto* o = std::get_if<journal::AssignOp>(&op)) {
    auto s = syncOf(o->target);
    if (!s) return s.error();
    auto it = holdings.find(o->contract_id);
    if (it == holdings.end()) return invalid("journal assigns unknown " + o->contract_id);
    it->second.sync = *s;
    it->second.in_flight = false;
    it->second.target = -1;
    if (usable(it->second)) indexFree(it->second);
  }
  return {};
}

Result<void> EmbeddedLedger::Impl::apply(Record&& rec) {
  applying_at = std::max(ledger_end, rec.offset);
  for (const auto& op : rec.ops) {
    auto r = applyOp(op, rec.command_id);
    if (!r) return r;
  }
  if (rec.offset > 0) {
    ledger_end = rec.offset;
    UpdateView u;
    u.update_id = rec.update_id;
    u.offset = rec.offset;
    u.recorded_at = Timestamp(std::chrono::microseconds(rec.recorded_at_us));
    u.command_id = rec.command_id;
    if (updates.emplace(rec.update_id, std::move(u)).second)
      update_order.emplace_back(rec.offset, rec.update_id);
  }
  if (rec.offset > 0) indexMovement(rec);
  if (rec.completion && !rec.command_id.empty()) {
    if (completions.emplace(rec.command_id, std::move(*rec.completion)).second)
      command_order.emplace_back(applying_at, rec.command_id);
  }
  return {};
}

// Why each thing dropped below `before` (the coordinator's watermark: no live settlement's
// ledger_offset_floor is below it) is safe to drop:
//  - A completion or a fence recorded at an offset below `before`: every command id is
//    submitted with an after_offset no later than the ledger end when it was first submitted,
//    so its completion or fence is at or after that after_offset. From now on execute() refuses
//    (kLedgerPruned) every submission with an after_offset below `before`, so no submission that
//    is still accepted can be a resend of a dropped id: the deduplication it would have needed
//    is never asked for, and a stale worker cannot run a round a second time.
//  - An update below `before`: updateById serves the workflow's confirmation of a settle, which a
//    live settlement made after its floor; completionAfter and movementsSince refuse reads that
//    start below `before` (kLedgerPruned) instead of answering with a hole.
//  - A movement below `before`: movementsSince refuses to start below it (the reconciler's
//    position is part of the watermark).
//  - A DvP archived below `before`: only the movements and completions above name it.
// Holdings, active DvPs, locks, parties and totals are live state and never pruned.
// Completions and fences go at once: a command id submitted again from an offset at or after
// `before` (a release resubmitted from the first kept offset) must neither be deduplicated
// against its pruned completion nor have its new one ignored (apply() keeps an id's first), live
// or on replay. The updates, movements and archived DvPs below it are dropped in chunks
// (dropPruned); until then every read that could need them checks pruned_before first, and a
// snapshot leaves them out.
void EmbeddedLedger::Impl::pruneBelow(int64_t before) {
  if (before <= pruned_before) return;
  pruned_before = before;
  m.pruned_before.set(before);
  while (!command_order.empty() && command_order.front().first < before) {
    const std::string& id = command_order.front().second;
    dropped_commands += completions.erase(id) + fenced.erase(id);
    command_order.pop_front();
  }
}

EmbeddedLedger::Impl::Dropped EmbeddedLedger::Impl::dropPruned(size_t max) {
  Dropped d;
  const int64_t before = pruned_before;
  d.completions = dropped_commands;
  dropped_commands = 0;
  while (d.entries < max && !update_order.empty() && update_order.front().first < before) {
    d.updates += updates.erase(update_order.front().second);
    update_order.pop_front();
    ++d.entries;
  }
  while (d.entries < max && !movements.empty() && movements.front().offset < before) {
    movements.pop_front();
    ++d.movements;
    ++d.entries;
  }
  while (d.entries < max && !archived_dvps.empty() && archived_dvps.front().first < before) {
    auto it = dvps.find(archived_dvps.front().second);
    if (it != dvps.end() && !it->second.active) {
      dvps.erase(it);
      ++d.dvps;
    }
    archived_dvps.pop_front();
    ++d.entries;
  }
  return d;
}

void EmbeddedLedger::Impl::snapshotRecords(std::string& out) const {
  // Ops go into records of about a MiB each, far below the journal's record limit.
  constexpr size_t kChunk = 1u << 20;
  std::vector<journal::Op> ops;
  size_t approx = 0;
  auto flush = [&] {
    if (ops.empty()) return;
    Record rec;
    rec.ops = std::move(ops);
    journal::encode(rec, out);
    ops.clear();
    approx = 0;
  };
  auto add = [&](journal::Op op, size_t bytes) {
    ops.push_back(std::move(op));
    approx += bytes + 16;
    if (approx >= kChunk) flush();
  };
  add(journal::GenesisOp{salt}, 8);
  // First the ledger end, so that what is replayed after it counts as recorded at it.
  add(journal::LedgerEndOp{ledger_end}, 8);
  if (pruned_before > 0) add(journal::PruneOp{pruned_before}, 8);
  for (const auto& [hint, id] : party_by_hint)
    add(journal::PartyOp{hint, id}, hint.size() + id.size());
  // Holdings in creation order: the free index spends the oldest first.
  std::vector<const Holding*> live;
  live.reserve(holdings.size());
  for (const auto& [cid, h] : holdings) live.push_back(&h);
  std::sort(live.begin(), live.end(),
            [](const Holding* a, const Holding* b) { return a->seq < b->seq; });
  for (const Holding* h : live) {
    journal::CreateHoldingOp o;
    o.contract_id = h->cid;
    o.owner = h->owner;
    o.asset = h->asset;
    o.units = h->units;
    o.synchronizer = sync_names[h->sync];
    o.lock_dvp = h->lock_dvp;
    o.lock_kind = h->kind;
    add(std::move(o), 200);
    if (h->in_flight) add(journal::UnassignOp{h->cid, sync_names[h->target]}, 100);
  }
  std::unordered_set<std::string_view> pruned_dvps;  // archived below it, not dropped yet
  for (auto it = archived_dvps.begin(); it != archived_dvps.end() && it->first < pruned_before;
       ++it)
    pruned_dvps.insert(it->second);
  for (const auto& [cid, d] : dvps) {
    if (!d.active && pruned_dvps.count(cid)) continue;
    journal::CreateDvpOp o;
    o.contract_id = d.cid;
    o.buyer = d.buyer;
    o.seller = d.seller;
    o.issuer = d.issuer;
    o.provider = d.provider;
    o.security = d.security;
    o.cash_asset = d.cash_asset;
    o.quantity_units = tradeOf(d.quantity).value().units();
    o.amount_units = tradeOf(d.amount).value().units();
    o.settlement_date_days = d.date_days;
    o.synchronizer = sync_names[d.sync];
    add(std::move(o), 400);
    // Archived after the ledger end above: kept until pruning passes the snapshot's end.
    if (!d.active) add(journal::ArchiveOp{d.cid, true}, 80);
  }
  for (const auto& [at, id] : command_order) {
    journal::KeptCommandOp o;
    o.command_id = id;
    o.at = at;
    if (auto it = completions.find(id); it != completions.end()) o.completion = it->second;
    add(std::move(o), 400);
  }
  for (const auto& [offset, id] : update_order) {
    if (offset < pruned_before) continue;
    const UpdateView& u = updates.at(id);
    add(journal::KeptUpdateOp{u.update_id, u.offset, u.recorded_at.time_since_epoch().count(),
                              u.command_id},
        150);
  }
  for (const auto& mv : movements) {
    if (mv.offset < pruned_before) continue;
    journal::KeptMovementOp o;
    o.offset = mv.offset;
    o.update_id = mv.update_id;
    o.command_id = mv.command_id;
    o.recorded_at_us = mv.recorded_at_us;
    o.credit = mv.credit;
    o.contract_id = mv.contract_id;
    o.remainder_dvp = mv.remainder_dvp;
    o.quantity_units = mv.quantity.units();
    o.amount_units = mv.amount.units();
    o.owner = mv.owner;
    o.asset = mv.asset;
    o.credited = mv.credited;
    add(std::move(o), 300);
  }
  flush();
}

void EmbeddedLedger::Impl::indexMovement(const Record& rec) {
  Movement m;
  m.offset = rec.offset;
  m.update_id = rec.update_id;
  m.command_id = rec.command_id;
  m.recorded_at_us = rec.recorded_at_us;
  if (rec.completion && !rec.completion->buyer_securities_contract_id.empty()) {
    // Only a settle creates the buyer's securities holding (run(Settle)).
    m.contract_id = rec.completion->contract_id;
    m.remainder_dvp = rec.completion->remainder_dvp_contract_id;
    m.quantity = rec.completion->quantity;
    m.amount = rec.completion->amount;
  } else if (rec.command_id.empty() && rec.ops.size() == 1) {
    // credit(): one free holding created outside any command.
    const auto* h = std::get_if<journal::CreateHoldingOp>(&rec.ops.front());
    if (!h || h->lock_kind != LockKind::kNone) return;
    m.credit = true;
    m.contract_id = h->contract_id;
    m.owner = h->owner;
    m.asset = h->asset;
    m.credited = h->units;
  } else {
    return;
  }
  movements.push_back(std::move(m));
}

HoldingView EmbeddedLedger::Impl::view(const Holding& h) const {
  HoldingView v;
  v.contract_id = h.cid;
  v.owner = h.owner;
  v.asset = h.asset;
  v.amount = amountOf(h.units);
  v.locked = h.locked();
  v.lock_dvp_contract_id = h.lock_dvp;
  v.synchronizer = sync_names[h.sync];
  v.in_flight = h.in_flight;
  return v;
}

DvpView EmbeddedLedger::Impl::dvpView(const Dvp& d) const {
  DvpView v;
  v.contract_id = d.cid;
  v.active = d.active;
  v.buyer = d.buyer;
  v.seller = d.seller;
  v.security = d.security;
  v.cash_asset = d.cash_asset;
  // A DvP's figures come from DECIMAL(18,8) (CreateDvpOp): the way back is exact.
  v.quantity = tradeOf(d.quantity).value();
  v.amount = tradeOf(d.amount).value();
  v.synchronizer = sync_names[d.sync];
  return v;
}

Result<void> EmbeddedLedger::verifyIntegrity() const {
  Impl& L = *impl_;
  std::lock_guard l(L.mu);
  std::map<std::string, AssetTotals> totals;
  std::unordered_map<std::string, Units> free;
  std::unordered_map<std::string, std::pair<size_t, size_t>> lock_counts;
  for (const auto& [cid, h] : L.holdings) {
    if (h.units <= 0) return invalid("holding " + cid + " has non-positive amount");
    auto& t = totals[h.asset];
    t.total += h.units;
    if (h.locked()) {
      t.locked += h.units;
      auto& c = lock_counts[h.lock_dvp];
      (h.kind == LockKind::kSecurities ? c.first : c.second)++;
    } else if (!h.in_flight) {
      free[Impl::key(h.owner, h.asset)] += h.units;
    }
    auto oit = L.by_owner.find(h.owner);
    if (oit == L.by_owner.end() || !oit->second.count(cid)) {
      return invalid("holding " + cid + " missing from its owner's index");
    }
  }
  for (const auto& [asset, t] : L.totals) {
    auto it = totals.find(asset);
    AssetTotals r = it == totals.end() ? AssetTotals{} : it->second;
    if (r.total != t.total || r.locked != t.locked) {
      return invalid("totals of " + asset + " disagree with contracts: " + dec(t.total) + "/" +
                     dec(t.locked) + " vs " + dec(r.total) + "/" + dec(r.locked));
    }
  }
  for (const auto& [k, fi] : L.free_index) {
    Units sum = 0;
    for (const auto& m : fi.by_sync) {
      for (const auto& [seq_no, cid] : m) {
        auto it = L.holdings.find(cid);
        if (it == L.holdings.end() || !L.usable(it->second)) {
          return invalid("free index lists unusable contract " + cid);
        }
        sum += it->second.units;
      }
    }
    auto f = free.find(k);
    Units expect = f == free.end() ? 0 : f->second;
    if (sum != fi.free || sum != expect) return invalid("free total mismatch for " + k);
  }
  for (const auto& [dvp_cid, dl] : L.locks) {
    auto c = lock_counts[dvp_cid];
    if (c.first != dl.securities.size() || c.second != dl.cash.size()) {
      return invalid("lock index mismatch for DvP " + dvp_cid);
    }
  }
  return {};
}

}  // namespace sc::ledger

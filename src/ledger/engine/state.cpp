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
    fenced.insert(command_id);
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
    updates.emplace(rec.update_id, std::move(u));
  }
  if (rec.offset > 0) indexMovement(rec);
  if (rec.completion && !rec.command_id.empty()) {
    completions.emplace(rec.command_id, std::move(*rec.completion));
  }
  return {};
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

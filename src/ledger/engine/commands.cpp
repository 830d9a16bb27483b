// EmbeddedLedger command handlers: each builds its record without touching state (every check,
// fault and injected abort happens first), then commits it.
#include "ledger/engine/impl.h"

namespace sc::ledger {

using namespace engine;

namespace {
class InjectedSettleFailure {};
}  // namespace

Result<const Dvp*> EmbeddedLedger::Impl::activeDvp(const std::string& cid) const {
  auto it = dvps.find(cid);
  if (it == dvps.end() || !it->second.active) return notActive(cid);
  return &it->second;
}

Result<void> EmbeddedLedger::Impl::completionOnly(const std::string& command_id, Outcome& out) {
  out.offset = ledger_end;
  Record rec;
  rec.command_id = command_id;
  rec.completion = out;
  return commit(std::move(rec));
}

Result<Outcome> EmbeddedLedger::Impl::execute(const Submission& s) {
  if (s.command_id.empty()) return invalid("command id must not be empty", "command_id");
  if (s.after_offset < pruned_before) {
    // Its completion or fence may have been pruned: running it could run it twice.
    m.countFailure(kLedgerPruned);
    return Error::permanent(kLedgerPruned,
                            "command " + s.command_id + " was first submitted after offset " +
                                std::to_string(s.after_offset) +
                                ", but the ledger is pruned below offset " +
                                std::to_string(pruned_before) +
                                ": its deduplication cannot be checked, so it is not run",
                            "after_offset");
  }
  if (fenced.count(s.command_id)) {
    if (std::holds_alternative<FenceCommand>(s.command)) {
      Outcome o;
      o.fenced = o.deduplicated = true;
      return o;
    }
    m.countFailure(kCommandFenced);
    return Error::permanent(kCommandFenced,
                            "command id " + s.command_id + " was fenced: its round was abandoned");
  }
  if (auto it = completions.find(s.command_id); it != completions.end()) {
    Outcome o = it->second;
    o.deduplicated = true;
    m.commands_deduplicated.inc();
    return o;
  }
  auto r = std::visit([&](const auto& c) { return run(s.command_id, c); }, s.command);
  if (r) {
    m.commands_applied.inc();
  } else {
    m.countFailure(r.error().code);
  }
  return r;
}

Result<Outcome> EmbeddedLedger::Impl::run(const std::string& cmd, const CreateDvp& c) {
  if (!parties.count(c.buyer)) {
    return Error::permanent(kUnknownParty, "unknown party '" + c.buyer + "'", "buyer");
  }
  if (!parties.count(c.seller)) {
    return Error::permanent(kUnknownParty, "unknown party '" + c.seller + "'", "seller");
  }
  if (c.buyer == c.seller) return invalid("buyer and seller must differ", "seller");
  if (c.security.empty() || c.cash_asset.empty() || c.security == c.cash_asset) {
    return invalid("security and cash asset must be non-empty and differ", "security");
  }
  if (!c.quantity.isPositive()) return invalid("quantity must be positive", "quantity");
  if (!c.amount.isPositive()) return invalid("amount must be positive", "amount");
  if (auto t = touch(settle_sync); !t) return t.error();
  Record rec = newTx(cmd);
  journal::CreateDvpOp op;
  op.contract_id = contractId(rec.offset, 0);
  op.buyer = c.buyer;
  op.seller = c.seller;
  op.issuer = issuer;
  op.provider = provider;
  op.security = c.security;
  op.cash_asset = c.cash_asset;
  op.quantity_units = c.quantity.units();
  op.amount_units = c.amount.units();
  op.settlement_date_days = static_cast<int32_t>(c.settlement_date.time_since_epoch().count());
  op.synchronizer = sync_names[settle_sync];
  Outcome out;
  out.update_id = rec.update_id;
  out.offset = rec.offset;
  out.contract_id = op.contract_id;
  out.synchronizer = op.synchronizer;
  out.quantity = c.quantity;
  out.amount = c.amount;
  rec.ops.push_back(std::move(op));
  rec.completion = out;
  if (auto cr = commit(std::move(rec)); !cr) return cr.error();
  return out;
}

Result<Outcome> EmbeddedLedger::Impl::lockAssets(const std::string& cmd, const Dvp& d,
                                                 const std::string& owner, const std::string& asset,
                                                 Units units, bool allow_partial, LockKind kind) {
  const bool sec = kind == LockKind::kSecurities;
  const char* what = sec ? "securities" : "cash";
  if (units <= 0)
    return invalid(std::string(what) + " to lock must be positive", sec ? "quantity" : "amount");
  if (units > (sec ? d.quantity : d.amount)) {
    return invalid(std::string("cannot lock ") + dec(units) + " " + asset +
                       ", more than the DvP's " + dec(sec ? d.quantity : d.amount),
                   sec ? "quantity" : "amount");
  }
  if (auto it = locks.find(d.cid); it != locks.end()) {
    const auto& existing = sec ? it->second.securities : it->second.cash;
    if (!existing.empty()) {
      return invalid("DvP " + d.cid + " already has " + what + " locked (" + existing.front() +
                     "); release them first");
    }
  }
  auto fit = free_index.find(key(owner, asset));
  const Units available = fit == free_index.end() ? 0 : fit->second.free;
  // A partial lock takes what is available cut down to the trade's 8 decimals: what settles is a
  // trade figure (settled_quantity is DECIMAL(18,8)) although a holding may carry 10 decimals.
  const Units lockable = amountOf(available).truncatedToTradeScale().units();
  Units need = units;
  if (available < units) {
    if (!(sec && allow_partial && lockable > 0)) {
      return Error::permanent(sec ? kInsufficientSecurities : kInsufficientCash,
                              "party " + owner + " has " + dec(available) + " " + asset +
                                  " available, needs " + dec(units));
    }
    need = lockable;
    // A part pays its pro-rata cash (half-even to the trade's scale, as Settle computes it). A
    // part so small that its cash rounds to zero cannot settle: it is not deliverable yet, the
    // same answer as when nothing is available, so the trade waits for the seller. So is a part
    // whose cash rounds up to the whole amount: its remainder would owe nothing and never settle.
    auto pay = amountOf(d.amount).mulDiv(amountOf(need), amountOf(d.quantity), Decimal::kScale);
    if (!pay || pay->units() <= 0 || pay->units() >= d.amount) {
      return Error::permanent(kInsufficientSecurities,
                              "party " + owner + " has " + dec(available) + " " + asset +
                                  " available, whose pro-rata " + "share of the DvP's " +
                                  dec(d.amount) + " rounds to " +
                                  (pay ? dec(pay->units()) : std::string("nothing")) +
                                  ": not a part that can settle; needs " + dec(units));
    }
  }
  // Choose holdings: the DvP's synchronizer first (no reassignment needed), then the others.
  std::vector<int> order{d.sync};
  for (int s = 0; s < static_cast<int>(sync_names.size()); ++s) {
    if (s != d.sync) order.push_back(s);
  }
  struct Take {
    const Holding* h;
    Units units;
  };
  std::vector<std::vector<Take>> takes(sync_names.size());
  std::vector<int> touched;
  Units remaining = need;
  for (int s : order) {
    if (remaining == 0) break;
    for (const auto& [seq_no, cid] : fit->second.by_sync[s]) {
      const Holding& h = holdings.at(cid);
      Units take = std::min(remaining, h.units);
      takes[s].push_back({&h, take});
      touched.push_back(s);
      remaining -= take;
      if (remaining == 0) break;
    }
  }
  if (remaining != 0) {
    log->critical("free index of {} {} disagrees with its holdings", owner, asset);
    return invalid("internal error: free index inconsistent");
  }
  if (auto t = touchAll(touched); !t) return t.error();

  Record rec = newTx(cmd);
  int idx = 0;
  Outcome out;
  out.update_id = rec.update_id;
  out.offset = rec.offset;
  for (int s : order) {
    if (takes[s].empty()) continue;
    Units sum = 0;
    for (const auto& t : takes[s]) {
      rec.ops.push_back(journal::ArchiveOp{t.h->cid, false});
      if (t.units < t.h->units) {
        rec.ops.push_back(journal::CreateHoldingOp{contractId(rec.offset, idx++), owner, asset,
                                                   t.h->units - t.units, sync_names[s], "",
                                                   LockKind::kNone});
      }
      sum += t.units;
    }
    std::string lock_id = contractId(rec.offset, idx++);
    rec.ops.push_back(
        journal::CreateHoldingOp{lock_id, owner, asset, sum, sync_names[s], d.cid, kind});
    if (out.contract_id.empty()) {
      out.contract_id = lock_id;
      out.synchronizer = sync_names[s];
    }
  }
  auto locked = tradeOf(need);  // 8 decimals and at most the DvP's figure: exact
  if (!locked) return locked.error();
  (sec ? out.quantity : out.amount) = *locked;
  rec.completion = out;
  if (auto cr = commit(std::move(rec)); !cr) return cr.error();
  return out;
}

Result<Outcome> EmbeddedLedger::Impl::run(const std::string& cmd, const LockSecurities& c) {
  auto d = activeDvp(c.dvp_contract_id);
  if (!d) return d.error();
  return lockAssets(cmd, **d, (*d)->seller, (*d)->security, unitsOf(c.quantity), c.allow_partial,
                    LockKind::kSecurities);
}

Result<Outcome> EmbeddedLedger::Impl::run(const std::string& cmd, const LockCash& c) {
  auto d = activeDvp(c.dvp_contract_id);
  if (!d) return d.error();
  return lockAssets(cmd, **d, (*d)->buyer, (*d)->cash_asset, unitsOf(c.amount), false,
                    LockKind::kCash);
}

std::vector<std::string> EmbeddedLedger::Impl::locksOf(const std::string& dvp_cid) const {
  std::vector<std::string> out;
  if (auto it = locks.find(dvp_cid); it != locks.end()) {
    out = it->second.securities;
    out.insert(out.end(), it->second.cash.begin(), it->second.cash.end());
  }
  return out;
}

Result<Outcome> EmbeddedLedger::Impl::run(const std::string& cmd, const ReassignLocks& c) {
  auto dit = dvps.find(c.dvp_contract_id);
  if (dit == dvps.end()) return notActive(c.dvp_contract_id);
  const int target = dit->second.sync;
  Outcome out;
  out.synchronizer = sync_names[target];
  bool moved = false;
  // Each unassign and assign is its own transaction (not atomic, as in Canton); the check of
  // where each contract sits makes the command idempotent although reassignments are not
  // deduplicated.
  for (const auto& cid : locksOf(c.dvp_contract_id)) {
    const Holding& h = holdings.at(cid);
    if (!h.in_flight && h.sync == target) continue;
    if (!h.in_flight) {
      if (auto t = touch(h.sync); !t) return t.error();
      Record un = newTx(cmd);
      un.ops.push_back(journal::UnassignOp{cid, sync_names[target]});
      if (auto cr = commit(std::move(un)); !cr) return cr.error();
    }
    if (auto t = touch(target); !t) {
      return Error::transient(kUnavailable, "contract " + cid + " is in flight to '" +
                                                sync_names[target] + "': " + t.error().message);
    }
    Record as = newTx(cmd);
    as.ops.push_back(journal::AssignOp{cid, sync_names[target]});
    out.update_id = as.update_id;
    out.offset = as.offset;
    out.contract_id = cid;
    if (auto cr = commit(std::move(as)); !cr) return cr.error();
    moved = true;
  }
  // The completion is its own record: the command succeeded only once every lock arrived.
  Record done;
  done.command_id = cmd;
  if (!moved) out.offset = ledger_end;
  done.completion = out;
  if (auto cr = commit(std::move(done)); !cr) return cr.error();
  return out;
}

Result<Outcome> EmbeddedLedger::Impl::run(const std::string& cmd, const Settle& c) {
  int step = 0;
  const int fail_at = fail_settle_at;
  auto checkpoint = [&] {
    if (step == fail_at) {
      fail_settle_at = -1;
      throw InjectedSettleFailure{};
    }
    ++step;
  };
  try {
    checkpoint();  // step 0: validation
    auto dr = activeDvp(c.dvp_contract_id);
    if (!dr) return dr.error();
    const Dvp& d = **dr;
    auto lit = locks.find(d.cid);
    if (lit == locks.end() || lit->second.securities.empty()) {
      return invalid("DvP " + d.cid + " has no securities locked", "dvp_contract_id");
    }
    if (lit->second.cash.empty()) {
      return invalid("DvP " + d.cid + " has no cash locked", "dvp_contract_id");
    }
    const DvpLocks& l = lit->second;
    Units sec_units = 0, cash_units = 0;
    for (const auto* group : {&l.securities, &l.cash}) {
      for (const auto& cid : *group) {
        const Holding& h = holdings.at(cid);
        if (h.in_flight) {
          return Error::transient(kContractInFlight,
                                  "lock " + cid + " is in flight; reassign to complete");
        }
        if (h.sync != d.sync) {
          return invalid("lock " + cid + " sits on '" + sync_names[h.sync] + "', not on '" +
                         sync_names[d.sync] + "'; reassign the locks first");
        }
        (group == &l.securities ? sec_units : cash_units) += h.units;
      }
    }
    if (sec_units > d.quantity) return invalid("securities lock exceeds the DvP quantity");
    Units pay = d.amount;
    if (sec_units < d.quantity) {  // DESIGN §4: pro rata, half-even to the trade's 8 decimals
      auto p =
          amountOf(d.amount).mulDiv(amountOf(sec_units), amountOf(d.quantity), Decimal::kScale);
      if (!p) return p.error();
      pay = p->units();
    }
    // Trade figures (at most the DvP's, 8 decimals), so the conversions are exact.
    auto settled_quantity = tradeOf(sec_units);
    if (!settled_quantity) return settled_quantity.error();
    auto settled_amount = tradeOf(pay);
    if (!settled_amount) return settled_amount.error();
    auto rest_quantity = tradeOf(d.quantity - sec_units);
    if (!rest_quantity) return rest_quantity.error();
    auto rest_amount = tradeOf(d.amount - pay);
    if (!rest_amount) return rest_amount.error();
    if (cash_units < pay) {
      return invalid("cash lock " + dec(cash_units) + " is less than the " + dec(pay) +
                     " due for " + dec(sec_units) + " " + d.security);
    }
    if (auto t = touch(d.sync); !t) return t.error();

    Record rec = newTx(cmd);
    int idx = 0;
    const std::string& sync = sync_names[d.sync];
    for (const auto& cid : l.securities) {
      checkpoint();
      rec.ops.push_back(journal::ArchiveOp{cid, false});
    }
    for (const auto& cid : l.cash) {
      checkpoint();
      rec.ops.push_back(journal::ArchiveOp{cid, false});
    }
    Outcome out;
    out.update_id = rec.update_id;
    out.offset = rec.offset;
    out.contract_id = d.cid;
    out.synchronizer = sync;
    out.quantity = *settled_quantity;
    out.amount = *settled_amount;
    checkpoint();
    out.buyer_securities_contract_id = contractId(rec.offset, idx++);
    rec.ops.push_back(journal::CreateHoldingOp{out.buyer_securities_contract_id, d.buyer,
                                               d.security, sec_units, sync, "", LockKind::kNone});
    if (pay > 0) {
      checkpoint();
      out.seller_cash_contract_id = contractId(rec.offset, idx++);
      rec.ops.push_back(journal::CreateHoldingOp{out.seller_cash_contract_id, d.seller,
                                                 d.cash_asset, pay, sync, "", LockKind::kNone});
    }
    if (cash_units > pay) {  // over-locked cash goes back to the buyer
      checkpoint();
      rec.ops.push_back(journal::CreateHoldingOp{contractId(rec.offset, idx++), d.buyer,
                                                 d.cash_asset, cash_units - pay, sync, "",
                                                 LockKind::kNone});
    }
    checkpoint();
    rec.ops.push_back(journal::ArchiveOp{d.cid, true});
    if (sec_units < d.quantity) {
      checkpoint();
      journal::CreateDvpOp r;
      r.contract_id = contractId(rec.offset, idx++);
      r.buyer = d.buyer;
      r.seller = d.seller;
      r.issuer = d.issuer;
      r.provider = d.provider;
      r.security = d.security;
      r.cash_asset = d.cash_asset;
      r.quantity_units = rest_quantity->units();
      r.amount_units = rest_amount->units();
      r.settlement_date_days = d.date_days;
      r.synchronizer = sync;
      out.remainder_dvp_contract_id = r.contract_id;
      rec.ops.push_back(std::move(r));
    }
    checkpoint();  // last: commit
    rec.completion = out;
    last_settle_steps = step;
    if (fail_at >= step) fail_settle_at = -1;  // armed past the end: disarm, nothing to fail
    const std::string buyer = d.buyer, seller = d.seller, security = d.security,
                      cash_asset = d.cash_asset;
    const int settled_on = d.sync;
    if (auto cr = commit(std::move(rec)); !cr) return cr.error();
    mergeFree(buyer, security, settled_on);
    mergeFree(seller, cash_asset, settled_on);
    if (cash_units > pay) mergeFree(buyer, cash_asset, settled_on);
    return out;
  } catch (const InjectedSettleFailure&) {
    return Error::transient(kUnavailable,
                            "settle aborted by injected failure at step " + std::to_string(step));
  }
}

Result<Outcome> EmbeddedLedger::Impl::run(const std::string& cmd, const ReleaseLocks& c) {
  auto ids = locksOf(c.dvp_contract_id);
  Outcome out;
  auto dit = dvps.find(c.dvp_contract_id);
  const bool archive = c.archive_dvp && dit != dvps.end() && dit->second.active;
  if (dit != dvps.end()) {
    out.synchronizer = sync_names[dit->second.sync];
    out.contract_id = dit->second.cid;
  }
  if (ids.empty() && !archive) {
    if (auto cr = completionOnly(cmd, out); !cr) return cr.error();
    return out;
  }
  // A lock in flight between synchronizers cannot be archived where it is: its assignment to
  // the DvP's synchronizer is finished first (its own transaction, as in Canton). Every
  // synchronizer involved is checked before anything is committed, so a failure changes nothing.
  std::vector<int> touched;
  for (const auto& cid : ids) {
    const Holding& h = holdings.at(cid);
    touched.push_back(h.in_flight ? dit->second.sync : h.sync);
  }
  if (archive) touched.push_back(dit->second.sync);
  if (auto t = touchAll(touched); !t) return t.error();
  for (const auto& cid : ids) {
    if (!holdings.at(cid).in_flight) continue;
    Record as = newTx(cmd);
    as.ops.push_back(journal::AssignOp{cid, sync_names[dit->second.sync]});
    if (auto cr = commit(std::move(as)); !cr) return cr.error();
  }
  Record rec = newTx(cmd);
  out.update_id = rec.update_id;
  out.offset = rec.offset;
  int idx = 0;
  Units sec = 0, cash = 0;
  std::set<std::tuple<std::string, std::string, int>> returned;  // owner, asset, synchronizer
  for (const auto& cid : ids) {
    const Holding& h = holdings.at(cid);
    returned.emplace(h.owner, h.asset, h.sync);
    rec.ops.push_back(journal::ArchiveOp{cid, false});
    rec.ops.push_back(journal::CreateHoldingOp{contractId(rec.offset, idx++), h.owner, h.asset,
                                               h.units, sync_names[h.sync], "", LockKind::kNone});
    (h.kind == LockKind::kSecurities ? sec : cash) += h.units;
  }
  if (archive) rec.ops.push_back(journal::ArchiveOp{dit->second.cid, true});
  auto released_quantity = tradeOf(sec);  // locks hold trade figures: exact
  if (!released_quantity) return released_quantity.error();
  auto released_amount = tradeOf(cash);
  if (!released_amount) return released_amount.error();
  out.quantity = *released_quantity;
  out.amount = *released_amount;
  rec.completion = out;
  if (auto cr = commit(std::move(rec)); !cr) return cr.error();
  for (const auto& [owner, asset, sync] : returned) mergeFree(owner, asset, sync);
  return out;
}

// Holdings merge (MergeSecurities / MergeCash in daml/Settlement/Holding.daml): once an owner
// holds more than Options::merge_holdings_above free holdings of one asset on one synchronizer,
// they become one holding of their sum. A transaction of the engine's own, committed right after
// the settle or release that passed the bound: no command id (nothing to deduplicate), and no
// movement (no owner's total changes). Without it every settle leaves the buyer and the seller
// one more contract, so holdings(), the free index and every snapshot would grow with all-time
// volume instead of with parties × assets. Skipped while the synchronizer is down (the next
// settle merges); a merge never consumes injected faults, so it changes no fault sequence.
void EmbeddedLedger::Impl::mergeFree(const std::string& owner, const std::string& asset, int sync) {
  if (opts.merge_holdings_above == 0 || faults[sync].down) return;
  auto it = free_index.find(key(owner, asset));
  if (it == free_index.end() || it->second.by_sync.empty()) return;
  const auto& on = it->second.by_sync[sync];
  if (on.size() <= opts.merge_holdings_above) return;
  Record rec = newTx("");
  Units sum = 0;
  for (const auto& [seq_no, cid] : on) {
    sum += holdings.at(cid).units;
    rec.ops.push_back(journal::ArchiveOp{cid, false});
  }
  rec.ops.push_back(journal::CreateHoldingOp{contractId(rec.offset, 0), owner, asset, sum,
                                             sync_names[sync], "", LockKind::kNone});
  if (auto cr = commit(std::move(rec)); !cr) {
    log->warn("merge of {}'s {} holdings of {} skipped: {}", owner, on.size(), asset,
              cr.error().message);
  }
}

Result<Outcome> EmbeddedLedger::Impl::run(const std::string& cmd, const FenceCommand&) {
  Record rec;
  rec.command_id = cmd;
  rec.ops.push_back(journal::FenceOp{});
  if (auto cr = commit(std::move(rec)); !cr) return cr.error();
  Outcome out;
  out.fenced = true;
  return out;
}

Result<Outcome> EmbeddedLedger::Impl::run(const std::string& cmd, const ArchiveDvp& c) {
  auto dit = dvps.find(c.dvp_contract_id);
  if (dit == dvps.end()) return notActive(c.dvp_contract_id);
  const Dvp& d = dit->second;
  Outcome out;
  out.contract_id = d.cid;
  out.synchronizer = sync_names[d.sync];
  if (!d.active) {
    if (auto cr = completionOnly(cmd, out); !cr) return cr.error();
    return out;
  }
  if (locks.count(d.cid)) return invalid("DvP " + d.cid + " still has locks; release them first");
  if (auto t = touch(d.sync); !t) return t.error();
  Record rec = newTx(cmd);
  out.update_id = rec.update_id;
  out.offset = rec.offset;
  rec.ops.push_back(journal::ArchiveOp{d.cid, true});
  rec.completion = out;
  if (auto cr = commit(std::move(rec)); !cr) return cr.error();
  return out;
}

}  // namespace sc::ledger

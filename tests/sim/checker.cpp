#include "sim/checker.h"

#include <algorithm>
#include <sstream>

namespace sc::test::sim {
namespace {

Decimal add(Decimal a, Decimal b) { return a.add(b).value(); }
// Ledger figures (credits, holdings, totals) are Numeric 10: their sums too.
LedgerAmount add(LedgerAmount a, LedgerAmount b) { return a.add(b).value(); }
LedgerAmount sub(LedgerAmount a, LedgerAmount b) { return a.sub(b).value(); }

std::string describe(const Settlement& s) {
  return s.settlementId() + " (trade " + s.trade.trade_id + ", " + std::string(toString(s.status)) +
         ", round " + std::to_string(s.round) + ")";
}

struct Totals {
  Decimal quantity, amount;
};

std::map<Uuid, Totals> ledgerSettled(const std::map<Uuid, std::vector<ledger::Outcome>>& settles) {
  std::map<Uuid, Totals> out;
  for (const auto& [id, list] : settles) {
    Totals& t = out[id];
    for (const auto& o : list) {
      t.quantity = add(t.quantity, o.quantity);
      t.amount = add(t.amount, o.amount);
    }
  }
  return out;
}

}  // namespace

void Checker::credited(const std::string& account, const std::string& asset, LedgerAmount amount) {
  auto& c = credits_[{account, asset}];
  c = add(c, amount);
  auto& t = asset_credits_[asset];
  t = add(t, amount);
}

void Checker::accepted(const std::string& trade_id, const Uuid& settlement_id) {
  accepted_.emplace(trade_id, settlement_id);
}

void Checker::rejected(const std::string&, const std::string& reason_code) {
  rejections_.push_back(reason_code);
}

void Checker::account(const std::string& account_id, const std::string& party) {
  party_of_[account_id] = party;
  account_of_[party] = account_id;
}

std::string Checker::checkStep(const std::vector<Settlement>& rows,
                               const std::vector<SettlementEvent>& events,
                               const std::vector<ledger::HoldingView>& holdings,
                               const std::vector<ledger::AssetTotal>& totals,
                               const std::map<Uuid, std::vector<ledger::Outcome>>& settles) const {
  std::ostringstream err;
  // §7.2: per asset, the ledger total never changes (only credits add to it).
  for (const auto& t : totals) {
    auto it = asset_credits_.find(t.asset);
    LedgerAmount credited = it == asset_credits_.end() ? LedgerAmount() : it->second;
    if (t.total != credited) {
      err << "ledger total of " << t.asset << " is " << t.total.toString() << ", credits sum to "
          << credited.toString();
      return err.str();
    }
  }
  // §7.1: each accepted trade has exactly one settlement; each rejection has a reason.
  std::map<std::string, int> per_trade;
  for (const auto& s : rows) per_trade[s.trade.trade_id]++;
  for (const auto& [trade_id, id] : accepted_) {
    if (per_trade[trade_id] != 1)
      return "trade " + trade_id + " has " + std::to_string(per_trade[trade_id]) + " settlements";
  }
  if (rows.size() != accepted_.size())
    return std::to_string(rows.size()) + " settlements for " + std::to_string(accepted_.size()) +
           " accepted trades";
  for (const auto& code : rejections_)
    if (code.empty()) return "a rejected trade has no reason code";

  // §7.3: one audit row per state change, in order, a legal path from pending to the row's state.
  std::map<Uuid, std::vector<const SettlementEvent*>> trail;
  int64_t last_position = 0;
  for (const auto& e : events) {
    if (e.position <= last_position) return "audit positions are not increasing";
    last_position = e.position;
    trail[e.settlement_id].push_back(&e);
  }
  auto settled = ledgerSettled(settles);
  for (const auto& s : rows) {
    const auto& t = trail[s.id];
    if (t.empty() || t.front()->status != Status::kPending)
      return describe(s) + ": audit trail does not start with pending";
    for (size_t i = 1; i < t.size(); ++i) {
      if (!isAllowedTransition(t[i - 1]->status, t[i]->status))
        return describe(s) + ": audit trail moves " + std::string(toString(t[i - 1]->status)) +
               " -> " + std::string(toString(t[i]->status));
    }
    if (t.back()->status != s.status)
      return describe(s) + ": last audit row says " + std::string(toString(t.back()->status));
    // §7.2: the ledger never settles more than the trade, and the database never claims more
    // than the ledger settled.
    const Totals& l = settled[s.id];
    if (l.quantity > s.trade.quantity || l.amount > s.trade.amount)
      return describe(s) + ": the ledger settled " + l.quantity.toString() + " for " +
             l.amount.toString() + " of a trade of " + s.trade.quantity.toString() + " for " +
             s.trade.amount.toString() + " (settled twice?)";
    if (s.settled_quantity > l.quantity || s.settled_amount > l.amount)
      return describe(s) + ": the database records " + s.settled_quantity.toString() +
             " settled, the ledger " + l.quantity.toString();
    // §7.4: a terminal settlement holds no lock.
    if (s.status == Status::kFailed || s.status == Status::kSettled) {
      for (const auto& h : holdings) {
        if (h.locked && !s.dvp_contract_id.empty() && h.lock_dvp_contract_id == s.dvp_contract_id)
          return describe(s) + ": holds lock " + h.contract_id + " of " + h.amount.toString() +
                 " " + h.asset;
      }
    }
  }
  return {};
}

std::string Checker::checkEnd(const std::vector<Settlement>& rows,
                              const std::vector<SettlementEvent>& events,
                              const std::vector<ledger::HoldingView>& holdings,
                              const std::vector<ledger::AssetTotal>& totals,
                              const std::map<Uuid, std::vector<ledger::Outcome>>& settles,
                              const std::vector<PublishedEvent>& published) const {
  if (auto e = checkStep(rows, events, holdings, totals, settles); !e.empty()) return e;
  auto settled = ledgerSettled(settles);
  // Every trade terminal once faults stop; what it settled agrees in both stores.
  std::map<std::pair<std::string, std::string>, LedgerAmount> expected = credits_;
  for (const auto& s : rows) {
    if (s.status != Status::kSettled && s.status != Status::kFailed)
      return describe(s) + ": not terminal after the faults stopped (" + s.failure_code + " " +
             s.last_error + ")";
    const Totals& l = settled[s.id];
    if (s.settled_quantity != l.quantity || s.settled_amount != l.amount)
      return describe(s) + ": database says " + s.settled_quantity.toString() + " for " +
             s.settled_amount.toString() + ", ledger " + l.quantity.toString() + " for " +
             l.amount.toString();
    if (s.status == Status::kSettled &&
        (s.settled_quantity != s.trade.quantity || s.settled_amount != s.trade.amount))
      return describe(s) + ": settled " + s.settled_quantity.toString() + " for " +
             s.settled_amount.toString() + ", the trade is " + s.trade.quantity.toString() +
             " for " + s.trade.amount.toString();
    const Trade& t = s.trade;
    auto& bs = expected[{t.buyer_account_id, t.securityAsset()}];
    bs = add(bs, LedgerAmount(l.quantity));
    auto& ss = expected[{t.seller_account_id, t.securityAsset()}];
    ss = sub(ss, LedgerAmount(l.quantity));
    auto& bc = expected[{t.buyer_account_id, t.cashAsset()}];
    bc = sub(bc, LedgerAmount(l.amount));
    auto& sc = expected[{t.seller_account_id, t.cashAsset()}];
    sc = add(sc, LedgerAmount(l.amount));
  }
  // §7.4: nothing stays locked.
  for (const auto& t : totals)
    if (!t.locked.isZero()) return t.asset + " still has " + t.locked.toString() + " locked";
  // §7.2: per party, exactly what its credits and settled trades say.
  std::map<std::pair<std::string, std::string>, LedgerAmount> held;
  for (const auto& h : holdings) {
    auto a = account_of_.find(h.owner);
    if (a == account_of_.end()) {
      if (!h.amount.isZero())
        return "party " + h.owner + " holds " + h.amount.toString() + " " + h.asset;
      continue;
    }
    auto& v = held[{a->second, h.asset}];
    v = add(v, h.amount);
  }
  for (const auto& [who, amount] : expected) {
    if (held[who] != amount)
      return who.first + " holds " + held[who].toString() + " " + who.second +
             ", its credits and settled trades say " + amount.toString();
  }
  for (const auto& [who, amount] : held)
    if (!expected.count(who) && !amount.isZero())
      return who.first + " holds " + amount.toString() + " " + who.second + " from nowhere";
  // §7.3: every audit row published, per settlement in audit order (duplicates allowed).
  std::set<Uuid> audit_ids;
  std::map<Uuid, std::vector<Uuid>> audit_order;
  for (const auto& e : events) {
    audit_ids.insert(e.id);
    audit_order[e.settlement_id].push_back(e.id);
  }
  std::map<Uuid, std::vector<Uuid>> first_copies;
  std::set<Uuid> seen;
  for (const auto& p : published) {
    if (!audit_ids.count(p.event_id)) return "published an event that is not in the audit trail";
    if (seen.insert(p.event_id).second) first_copies[p.settlement_id].push_back(p.event_id);
  }
  for (const auto& [id, order] : audit_order) {
    if (first_copies[id] != order)
      return "settlement " + id.prefixed(kSettlementPrefix) + ": " +
             std::to_string(first_copies[id].size()) + " of " + std::to_string(order.size()) +
             " events published, or out of audit order";
  }
  return {};
}

}  // namespace sc::test::sim

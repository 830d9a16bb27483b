#include "reconciliation/checks.h"

#include <algorithm>

namespace sc::reconciliation {
namespace {

using Json = nlohmann::json;

bool hasDvp(const Settlement& s) { return !s.dvp_contract_id.empty(); }

// Sums that cannot overflow in practice (a trade's parts, a DvP's locks); saturate if they do, so
// the comparison still fails loudly.
Decimal plus(Decimal a, Decimal b) {
  auto r = a.add(b);
  return r ? *r : Decimal::fromUnits(Decimal::kMaxUnits);
}
LedgerAmount plus(LedgerAmount a, LedgerAmount b) {
  auto r = a.add(b);
  return r ? *r : LedgerAmount::max();
}

Json rowEvidence(const Settlement& s) {
  Json j{{"status", std::string(toString(s.status))},
         {"round", s.round},
         {"quantity", s.trade.quantity.toString()},
         {"amount", s.trade.amount.toString()},
         {"settled_quantity", s.settled_quantity.toString()},
         {"settled_amount", s.settled_amount.toString()},
         {"locked_quantity", s.locked_quantity.toString()},
         {"locked_amount", s.locked_amount.toString()},
         {"dvp_contract_id", s.dvp_contract_id},
         {"dvp_atomic_transaction_id", s.dvp_atomic_transaction_id},
         {"buyer_account_id", s.trade.buyer_account_id},
         {"seller_account_id", s.trade.seller_account_id},
         {"symbol", s.trade.symbol}};
  return j;
}

Json settleEvidence(const LedgerSettle& l) {
  Json j{{"round", l.round},
         {"update_id", l.outcome.update_id},
         {"offset", l.outcome.offset},
         {"dvp_contract_id", l.outcome.contract_id},
         {"quantity", l.outcome.quantity.toString()},
         {"amount", l.outcome.amount.toString()}};
  if (l.dvp) {
    j["buyer"] = l.dvp->buyer;
    j["seller"] = l.dvp->seller;
    j["security"] = l.dvp->security;
    j["cash_asset"] = l.dvp->cash_asset;
  } else {
    j["dvp_known"] = false;
  }
  return j;
}

Draft draft(std::string_view kind, const Settlement& s, Json evidence) {
  Draft d;
  d.kind = std::string(kind);
  d.settlement_id = s.id;
  d.evidence = std::move(evidence);
  return d;
}

// The settles' drift from the row; empty when they agree.
std::vector<std::string> settleDifferences(const SettlementFacts& f, Decimal sum_q, Decimal sum_a) {
  const Settlement& s = f.row;
  std::vector<std::string> diffs;
  const bool final_state = s.status == Status::kConfirmed || s.status == Status::kSettled;
  if (sum_q != s.settled_quantity)
    diffs.push_back("the ledger settled quantity " + sum_q.toString() + ", the row records " +
                    s.settled_quantity.toString());
  if (sum_a != s.settled_amount)
    diffs.push_back("the ledger settled amount " + sum_a.toString() + ", the row records " +
                    s.settled_amount.toString());
  if (final_state && s.settled_quantity != s.trade.quantity)
    diffs.push_back("the row is " + std::string(toString(s.status)) + " with settled quantity " +
                    s.settled_quantity.toString() + " of " + s.trade.quantity.toString());
  if (final_state && s.settled_amount != s.trade.amount)
    diffs.push_back("the row is " + std::string(toString(s.status)) + " with settled amount " +
                    s.settled_amount.toString() + " of " + s.trade.amount.toString());
  if (final_state) {
    bool recorded = std::any_of(f.settles.begin(), f.settles.end(), [&](const LedgerSettle& l) {
      return l.outcome.update_id == s.dvp_atomic_transaction_id;
    });
    if (!recorded)
      diffs.push_back("the recorded dvp_atomic_transaction_id '" + s.dvp_atomic_transaction_id +
                      "' is none of the ledger's settles");
  }
  for (const auto& l : f.settles) {
    const std::string which = "the settle " + l.outcome.update_id;
    if (!l.dvp) {
      diffs.push_back(which + " settled DvP " + l.outcome.contract_id +
                      ", which the ledger does not know");
      continue;
    }
    if (l.dvp->buyer != f.buyer_party)
      diffs.push_back(which + " paid buyer party '" + l.dvp->buyer + "', the buyer account " +
                      s.trade.buyer_account_id + " is party '" + f.buyer_party + "'");
    if (l.dvp->seller != f.seller_party)
      diffs.push_back(which + " paid seller party '" + l.dvp->seller + "', the seller account " +
                      s.trade.seller_account_id + " is party '" + f.seller_party + "'");
    if (l.dvp->security != s.trade.securityAsset() || l.dvp->cash_asset != s.trade.cashAsset())
      diffs.push_back(which + " moved " + l.dvp->security + "/" + l.dvp->cash_asset +
                      ", the trade is " + s.trade.symbol);
  }
  return diffs;
}

// Sums of the locks on a DvP, by the trade's two assets (anything else is listed apart).
struct LockSums {
  LedgerAmount securities, cash;
  std::vector<std::string> other;
};

LockSums sumLocks(const SettlementFacts& f) {
  LockSums sums;
  for (const auto& h : f.locks) {
    if (h.asset == f.row.trade.securityAsset() && h.owner == f.seller_party)
      sums.securities = plus(sums.securities, h.amount);
    else if (h.asset == f.row.trade.cashAsset() && h.owner == f.buyer_party)
      sums.cash = plus(sums.cash, h.amount);
    else
      sums.other.push_back(h.contract_id);
  }
  return sums;
}

Json locksEvidence(const SettlementFacts& f, const LockSums& sums) {
  Json locks = Json::array();
  for (const auto& h : f.locks)
    locks.push_back(Json{{"contract_id", h.contract_id},
                         {"owner", h.owner},
                         {"asset", h.asset},
                         {"amount", h.amount.toString(Decimal::kScale)},
                         {"synchronizer", h.synchronizer},
                         {"in_flight", h.in_flight}});
  return Json{{"securities_locked", sums.securities.toString(Decimal::kScale)},
              {"cash_locked", sums.cash.toString(Decimal::kScale)},
              {"dvp_active", f.dvp && f.dvp->active},
              {"dvp_known", f.dvp.has_value()},
              {"locks", std::move(locks)}};
}

}  // namespace

bool needsLockCheck(const Settlement& s) {
  if (!hasDvp(s)) return false;
  switch (s.status) {
    case Status::kInitiated:
    case Status::kSellerSecuritiesLocked:
    case Status::kBuyerCashLocked:
    case Status::kExecuting:
    case Status::kPartiallySettled:
    case Status::kFailed:
      return true;
    default:
      return false;
  }
}

std::vector<Draft> checkSettlement(const SettlementFacts& f) {
  const Settlement& s = f.row;
  std::vector<Draft> out;

  // PostgreSQL ↔ ledger: what settled.
  Decimal sum_q, sum_a;
  for (const auto& l : f.settles) {
    sum_q = plus(sum_q, l.outcome.quantity);
    sum_a = plus(sum_a, l.outcome.amount);
  }
  const bool final_state = s.status == Status::kConfirmed || s.status == Status::kSettled;
  const bool claims_settled = final_state || s.settled_quantity.units() > 0;
  Json ledger_settles = Json::array();
  for (const auto& l : f.settles) ledger_settles.push_back(settleEvidence(l));
  if (f.settles.empty() && claims_settled) {
    out.push_back(
        draft(kind::kLedgerSettleMissing, s,
              Json{{"database", rowEvidence(s)},
                   {"ledger", Json{{"settles", std::move(ledger_settles)},
                                   {"command_rounds_checked", s.round + 1}}},
                   {"differences", Json::array({"no settle on the ledger under the command ids of "
                                                "rounds 0.." +
                                                std::to_string(s.round)})}}));
  } else if (!f.settles.empty()) {
    auto diffs = settleDifferences(f, sum_q, sum_a);
    if (!diffs.empty())
      out.push_back(draft(kind::kLedgerSettleMismatch, s,
                          Json{{"database", rowEvidence(s)},
                               {"ledger", Json{{"settles", std::move(ledger_settles)},
                                               {"buyer_party", f.buyer_party},
                                               {"seller_party", f.seller_party}}},
                               {"differences", diffs}}));
  }

  // Locks and the DvP.
  if (!f.locks_read || !needsLockCheck(s)) return out;
  const LockSums sums = sumLocks(f);
  const bool dvp_active = f.dvp && f.dvp->active;
  if (s.status == Status::kFailed) {
    if (!f.locks.empty()) {
      out.push_back(draft(kind::kFailedHoldsLocks, s,
                          Json{{"database", rowEvidence(s)}, {"ledger", locksEvidence(f, sums)}}));
    } else if (dvp_active) {
      out.push_back(draft(kind::kFailedDvpActive, s,
                          Json{{"database", rowEvidence(s)}, {"ledger", locksEvidence(f, sums)}}));
    }
    return out;
  }
  LedgerAmount want_securities, want_cash;
  if (s.status == Status::kSellerSecuritiesLocked || s.status == Status::kBuyerCashLocked ||
      s.status == Status::kExecuting)
    want_securities = LedgerAmount(s.locked_quantity);
  if (s.status == Status::kBuyerCashLocked || s.status == Status::kExecuting)
    want_cash = LedgerAmount(s.locked_amount);
  std::vector<std::string> diffs;
  if (!dvp_active)
    diffs.push_back("the DvP " + s.dvp_contract_id + (f.dvp ? " is archived" : " is unknown") +
                    " while the row is " + std::string(toString(s.status)));
  if (sums.securities.units() != want_securities.units())
    diffs.push_back("securities locked " + sums.securities.toString(Decimal::kScale) +
                    ", the status says " + want_securities.toString(Decimal::kScale));
  if (sums.cash.units() != want_cash.units())
    diffs.push_back("cash locked " + sums.cash.toString(Decimal::kScale) + ", the status says " +
                    want_cash.toString(Decimal::kScale));
  if (!sums.other.empty())
    diffs.push_back(std::to_string(sums.other.size()) +
                    " lock(s) on the DvP are neither the seller's securities nor the buyer's cash");
  if (!diffs.empty()) {
    Json ledger = locksEvidence(f, sums);
    out.push_back(draft(
        kind::kLocksMismatch, s,
        Json{{"database", rowEvidence(s)},
             {"expected", Json{{"securities_locked", want_securities.toString(Decimal::kScale)},
                               {"cash_locked", want_cash.toString(Decimal::kScale)},
                               {"dvp_active", true}}},
             {"ledger", std::move(ledger)},
             {"differences", diffs}}));
  }
  return out;
}

std::optional<Uuid> settlementOfCommand(const std::string& command_id) {
  auto colon = command_id.find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string_view id(command_id.data(), colon);
  if (!id.starts_with(kSettlementPrefix)) return std::nullopt;
  return Uuid::parsePrefixed(id, kSettlementPrefix);
}

Draft unknownSettle(const ledger::MovementView& m, const std::optional<Settlement>& owner) {
  Draft d;
  d.kind = std::string(kind::kLedgerSettleUnknown);
  if (owner) d.settlement_id = owner->id;
  d.subject = m.update_id;  // one finding per settle, even for one settlement's DvP
  d.evidence = Json{{"update_id", m.update_id},
                    {"offset", m.offset},
                    {"recorded_at", formatTimestamp(m.recorded_at)},
                    {"command_id", m.command_id},
                    {"dvp_contract_id", m.dvp_contract_id},
                    {"buyer", m.buyer},
                    {"seller", m.seller},
                    {"security", m.security},
                    {"cash_asset", m.cash_asset},
                    {"quantity", m.quantity.toString()},
                    {"amount", m.amount.toString()},
                    {"remainder_dvp_contract_id", m.remainder_dvp_contract_id}};
  d.evidence["differences"] =
      Json::array({owner ? "the settle consumed the DvP of settlement " + owner->settlementId() +
                               " under a command id that is not the settlement's"
                         : "no settlement of the database made this settle or knows its DvP"});
  return d;
}

std::optional<Draft> checkTotal(const std::string& asset, LedgerAmount expected,
                                LedgerAmount actual, int64_t ledger_offset) {
  if (expected.units() == actual.units()) return std::nullopt;
  Draft d;
  d.kind = std::string(kind::kLedgerTotalChanged);
  d.subject = asset;
  auto change = actual.sub(expected);
  d.evidence = Json{{"asset", asset},
                    {"expected_total", expected.toString(Decimal::kScale)},
                    {"ledger_total", actual.toString(Decimal::kScale)},
                    {"change", change ? change->toString(Decimal::kScale) : std::string("?")},
                    {"ledger_offset", ledger_offset},
                    {"differences", Json::array({"the ledger's total of " + asset +
                                                 " is not its last reconciled total plus the "
                                                 "credits since"})}};
  return d;
}

}  // namespace sc::reconciliation

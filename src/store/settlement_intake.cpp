// PgSettlementRepository::intake: a batch of trades recorded in one transaction (one statement
// inserts the new settlements, their "pending" events and outbox rows); duplicates and conflicts
// are told apart from what already exists.
#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "store/codec.h"
#include "store/errors.h"
#include "store/pg_repositories.h"
#include "store/settlement_sql.h"
#include "store/store_metrics.h"

namespace sc::store {
namespace {

using pg::Param;
using pg::Params;
using pg::Statement;

// trade_conflict: `t`'s trade id was already received, with other content, as `existing`.
Error tradeConflict(const Trade& t, const Settlement& existing) {
  return Error::permanent(std::string(reason::kTradeConflict),
                          "trade " + t.trade_id + " was already received with different content (" +
                              existing.settlementId() + ")",
                          "trade_id");
}

const std::string kSelectAccounts =
    "SELECT account_id, status FROM accounts WHERE account_id = ANY($1::text[])";

// One statement inserts every new settlement, its "pending" audit event and the event's outbox row
// (migration 0004). Rows are inserted in
// trade_id order so concurrent intakes of overlapping batches wait on each other instead of
// deadlocking; trade_ids that already exist are skipped (ON CONFLICT DO NOTHING).
const std::string kInsertSettlements = R"sql(
WITH input AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::numeric[], $8::numeric[], $9::numeric[], $10::bool[],
                       $11::timestamptz[], $12::date[], $13::uuid[])
    WITH ORDINALITY AS t(id, trade_id, event_id, buyer, seller, symbol, quantity, price, amount,
                         allow_partial, executed_at, settlement_date, event_row_id, ord)
), ins AS (
  INSERT INTO settlements (id, trade_id, event_id, buyer_account_id, seller_account_id, symbol,
                           quantity, price, amount, allow_partial, executed_at, settlement_date,
                           status, created_at, updated_at, next_attempt_at, deadline_at)
  SELECT id, trade_id, event_id, buyer, seller, symbol, quantity, price, amount, allow_partial,
         executed_at, settlement_date, 'pending', $14::timestamptz, $14::timestamptz,
         $14::timestamptz, $15::timestamptz
  FROM input ORDER BY trade_id
  ON CONFLICT (trade_id) DO NOTHING
  RETURNING id, trade_id
), ev AS (
  INSERT INTO settlement_events (id, settlement_id, event_type, details, created_at)
  SELECT input.event_row_id, ins.id, 'pending', jsonb_build_object('trade_id', ins.trade_id),
         $14::timestamptz
  FROM ins JOIN input ON input.id = ins.id
  ORDER BY input.ord
  RETURNING position, id, settlement_id, event_type, details, created_at
)
INSERT INTO settlement_outbox (position, id, settlement_id, event_type, details, created_at)
SELECT position, id, settlement_id, event_type, details, created_at FROM ev
RETURNING settlement_id::text
)sql";

const std::string kSelectExisting =
    selectSettlements("WHERE trade_id = ANY($1::text[]) AND NOT (id = ANY($2::uuid[]))");

}  // namespace

Result<std::vector<IntakeOutcome>> PgSettlementRepository::intake(std::span<const Trade> trades,
                                                                  Timestamp now,
                                                                  Duration deadline) {
  if (trades.empty()) return std::vector<IntakeOutcome>{};
  metrics::ScopedTimer timed(metrics().db_intake);
  return withRetry([&] { return intakeOnce(trades, now, deadline); });
}

Result<std::vector<IntakeOutcome>> PgSettlementRepository::intakeOnce(std::span<const Trade> trades,
                                                                      Timestamp now,
                                                                      Duration deadline) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  pg::Connection& c = **lease;

  // Round trip 1: open the transaction and read every account the batch names.
  std::vector<std::string> account_ids;
  {
    std::unordered_set<std::string> seen;
    for (const Trade& t : trades)
      for (const std::string* id : {&t.buyer_account_id, &t.seller_account_id})
        if (seen.insert(*id).second) account_ids.push_back(*id);
  }
  std::vector<Statement> first = {{"BEGIN", {}},
                                  {kSelectAccounts, {pg::arrayLiteral(account_ids)}}};
  auto accounts = c.pipeline(first);
  if (!accounts.ok()) return accounts.error();
  std::unordered_map<std::string, bool> active;  // account_id → active
  {
    const pg::Rows& rows = (*accounts)[1];
    for (int i = 0; i < rows.size(); ++i)
      active[std::string(rows.text(i, 0))] = rows.text(i, 1) == "active";
  }

  // Decide per trade: rejected on accounts, a candidate for insertion, or a repeat of an earlier
  // trade of this batch (resolved against that one's outcome at the end).
  std::vector<IntakeOutcome> out(trades.size());
  std::vector<int> repeat_of(trades.size(), -1);
  std::vector<size_t> candidates;
  std::vector<size_t> account_rejected;  // resolved against an existing settlement, if any
  std::unordered_map<std::string, size_t> first_index;  // trade_id → index of its first occurrence
  for (size_t i = 0; i < trades.size(); ++i) {
    const Trade& t = trades[i];
    std::optional<Error> rejection;
    for (auto [id, field] : {std::pair{&t.buyer_account_id, "buyer_account_id"},
                             std::pair{&t.seller_account_id, "seller_account_id"}}) {
      auto it = active.find(*id);
      std::string role = field == std::string_view("buyer_account_id") ? "buyer" : "seller";
      if (it == active.end()) {
        rejection = Error::permanent(std::string(reason::kUnknownAccount),
                                     role + " account " + *id + " does not exist", field);
        break;
      }
      if (!it->second) {
        rejection = Error::permanent(std::string(reason::kInactiveAccount),
                                     role + " account " + *id + " is inactive", field);
        break;
      }
    }
    if (rejection) {
      out[i].kind = IntakeKind::kRejected;
      out[i].settlement.trade = t;
      out[i].rejection = std::move(rejection);
      account_rejected.push_back(i);
      continue;
    }
    auto [it, inserted] = first_index.try_emplace(t.trade_id, i);
    if (!inserted) {
      repeat_of[i] = static_cast<int>(it->second);
      continue;
    }
    Settlement& s = out[i].settlement;
    s.id = Uuid::generateV7();
    s.trade = t;
    s.status = Status::kPending;
    s.created_at = s.updated_at = s.next_attempt_at = now;
    s.deadline_at = now + deadline;
    candidates.push_back(i);
  }

  // Round trip 2: insert, read the settlements of trade_ids that already existed, commit.
  std::unordered_map<std::string, Settlement> existing;  // trade_id → stored settlement
  std::unordered_set<std::string> created;               // settlement ids (canonical)
  std::vector<Statement> second;
  std::vector<Param> id_params;  // ids of the settlements this intake inserts
  if (!candidates.empty()) {
    std::vector<Param> ids, trade_ids, event_ids, buyers, sellers, symbols, quantities, prices,
        amounts, partials, executed, dates, event_rows;
    for (size_t i : candidates) {
      const Settlement& s = out[i].settlement;
      const Trade& t = s.trade;
      ids.emplace_back(s.id.canonical());
      trade_ids.emplace_back(t.trade_id);
      event_ids.emplace_back(codec::text(t.event_id));
      buyers.emplace_back(t.buyer_account_id);
      sellers.emplace_back(t.seller_account_id);
      symbols.emplace_back(t.symbol);
      quantities.emplace_back(t.quantity.toString());
      prices.emplace_back(t.price ? Param{t.price->toString()} : Param{});
      amounts.emplace_back(t.amount.toString());
      partials.emplace_back(t.allow_partial ? "t" : "f");
      executed.emplace_back(codec::timestamp(t.executed_at));
      dates.emplace_back(codec::date(t.settlement_date));
      event_rows.emplace_back(Uuid::generateV7().canonical());
    }
    Params p;
    for (auto* a : {&ids, &trade_ids, &event_ids, &buyers, &sellers, &symbols, &quantities, &prices,
                    &amounts, &partials, &executed, &dates, &event_rows})
      p.emplace_back(pg::arrayLiteral(*a));
    p.emplace_back(codec::timestamp(now));
    p.emplace_back(codec::timestamp(now + deadline));
    id_params.assign(ids.begin(), ids.end());
    second.push_back({kInsertSettlements, std::move(p)});
  }
  // Existing settlements of the candidates' trade_ids (inserted concurrently or before) and of
  // the account-rejected ones: a trade accepted before its account was deactivated or removed
  // is a duplicate (or a conflict), not a rejection of a trade that in fact has a settlement.
  std::vector<std::string> tids;
  for (size_t i : candidates) tids.push_back(trades[i].trade_id);
  for (size_t i : account_rejected) tids.push_back(trades[i].trade_id);
  if (!tids.empty())
    second.push_back({kSelectExisting, {pg::arrayLiteral(tids), pg::arrayLiteral(id_params)}});
  second.push_back({"COMMIT", {}});
  auto results = c.pipeline(second);
  if (!results.ok()) return results.error();
  size_t next_result = 0;
  if (!candidates.empty()) {
    const pg::Rows& ins = (*results)[next_result++];
    for (int i = 0; i < ins.size(); ++i) created.insert(std::string(ins.text(i, 0)));
  }
  if (!tids.empty()) {
    auto rows = decodeAll((*results)[next_result++]);
    if (!rows.ok()) return rows.error();
    for (Settlement& s : *rows) existing.emplace(s.trade.trade_id, std::move(s));
  }

  // Outcomes, in input order.
  auto& m = metrics();
  for (size_t i : candidates) {
    if (created.contains(out[i].settlement.id.canonical())) {
      out[i].kind = IntakeKind::kCreated;
      m.intake_created.inc();
      continue;
    }
    auto it = existing.find(trades[i].trade_id);
    if (it == existing.end())  // inserted by a transaction that has since rolled back
      return Error::transient(std::string(store::kDatabaseConflict),
                              "trade " + trades[i].trade_id + " changed while it was inserted");
    out[i].settlement = it->second;
    if (it->second.trade.sameContent(trades[i])) {
      out[i].kind = IntakeKind::kDuplicate;
    } else {
      out[i].kind = IntakeKind::kRejected;
      out[i].rejection = tradeConflict(trades[i], it->second);
    }
  }
  for (size_t i : account_rejected) {
    auto it = existing.find(trades[i].trade_id);
    if (it == existing.end()) continue;  // a new trade: the account rejection stands
    out[i].settlement = it->second;
    if (it->second.trade.sameContent(trades[i])) {
      out[i].kind = IntakeKind::kDuplicate;
      out[i].rejection.reset();
    } else {
      out[i].rejection = tradeConflict(trades[i], it->second);
    }
  }
  for (size_t i = 0; i < trades.size(); ++i) {
    if (repeat_of[i] < 0) continue;
    const IntakeOutcome& first_outcome = out[static_cast<size_t>(repeat_of[i])];
    out[i].settlement = first_outcome.settlement;
    if (first_outcome.settlement.trade.sameContent(trades[i])) {
      out[i].kind = IntakeKind::kDuplicate;
    } else {
      out[i].kind = IntakeKind::kRejected;
      out[i].rejection = tradeConflict(trades[i], first_outcome.settlement);
    }
  }
  for (const auto& o : out) {
    if (o.kind == IntakeKind::kDuplicate) m.intake_duplicates.inc();
    if (o.kind == IntakeKind::kRejected) m.intake_rejected.inc();
  }
  return out;
}

}  // namespace sc::store

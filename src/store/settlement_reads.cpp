// PgSettlementRepository's reads: one settlement, a filtered page, its events, counts by status.
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

using pg::Param;
using pg::Params;
using pg::Statement;

namespace {
const std::string kFindById = selectSettlements("WHERE id = $1::uuid");
const std::string kFindByTradeId = selectSettlements("WHERE trade_id = $1");
const std::string kEvents = "SELECT " + std::string(codec::kEventColumns) +
                            " FROM settlement_events WHERE settlement_id = $1::uuid"
                            " ORDER BY position";
const std::string kCountByStatus = "SELECT status, count(*) FROM settlements GROUP BY status";
// Served by settlements_status_idx (0001): reads only the pending entries, not every settlement.
const std::string kCountPending = "SELECT count(*) FROM settlements WHERE status = 'pending'";
// Active rows only, the predicate of settlements_due_idx: the scan stays on the live work.
const std::string kLeastActiveFloor =
    "SELECT min(GREATEST(ledger_offset_floor, COALESCE(step_offset_floor, 0))) FROM settlements"
    " WHERE status NOT IN ('settled', 'failed') AND ledger_offset_floor IS NOT NULL";

Result<std::optional<Settlement>> findOne(pg::ConnectionPool& pool, const std::string& sql,
                                          const std::string& key) {
  return withRetry([&]() -> Result<std::optional<Settlement>> {
    auto lease = pool.lease();
    if (!lease.ok()) return lease.error();
    auto rows = (*lease)->exec(sql, {key});
    if (!rows.ok()) return rows.error();
    if (rows->size() == 0) return std::optional<Settlement>{};
    auto s = codec::decodeSettlement(*rows, 0);
    if (!s.ok()) return s.error();
    return std::optional<Settlement>(std::move(s).value());
  });
}
}  // namespace

Result<std::optional<Settlement>> PgSettlementRepository::find(const Uuid& id) {
  metrics::ScopedTimer timed(metrics().db_read);
  return findOne(pool_, kFindById, id.canonical());
}

Result<std::optional<Settlement>> PgSettlementRepository::findByTradeId(
    const std::string& trade_id) {
  metrics::ScopedTimer timed(metrics().db_read);
  return findOne(pool_, kFindByTradeId, trade_id);
}

Result<SettlementPage> PgSettlementRepository::list(const ListQuery& q) {
  metrics::ScopedTimer timed(metrics().db_read);
  // The WHERE clause names only the filters given, so the planner can use their indexes.
  std::string where;
  Params params;
  auto add = [&](const std::string& cond) {
    where += where.empty() ? "WHERE " : " AND ";
    where += cond;
  };
  if (q.account_id) {
    params.emplace_back(*q.account_id);
    std::string n = "$" + std::to_string(params.size());
    add("(buyer_account_id = " + n + " OR seller_account_id = " + n + ")");
  }
  if (q.visible_accounts) {
    params.emplace_back(pg::arrayLiteral(*q.visible_accounts));
    std::string n = "$" + std::to_string(params.size()) + "::text[]";
    add("(buyer_account_id = ANY(" + n + ") OR seller_account_id = ANY(" + n + "))");
  }
  if (!q.statuses.empty()) {
    std::vector<std::string> names;
    for (Status s : q.statuses) names.emplace_back(toString(s));
    params.emplace_back(pg::arrayLiteral(names));
    add("status = ANY($" + std::to_string(params.size()) + "::settlement_status[])");
  }
  if (q.start_date) {
    params.emplace_back(codec::date(*q.start_date));
    add("settlement_date >= $" + std::to_string(params.size()) + "::date");
  }
  if (q.end_date) {
    params.emplace_back(codec::date(*q.end_date));
    add("settlement_date <= $" + std::to_string(params.size()) + "::date");
  }
  if (q.stuck) {
    // ListQuery::stuckMatches in SQL. Active rows only, like settlements_due_idx.
    params.emplace_back(codec::timestamp(q.stuck->now));
    const std::string now = "$" + std::to_string(params.size()) + "::timestamptz";
    params.emplace_back(std::to_string(q.stuck->min_step_attempts));
    const std::string attempts = "$" + std::to_string(params.size()) + "::int";
    add("status NOT IN ('settled', 'failed') AND ((status <> 'confirmed' AND deadline_at < " + now +
        ") OR (step_attempt > 0 AND next_attempt_at > " + now + ") OR step_attempt >= " + attempts +
        ")");
  }
  // The total stops counting past kListCountCap matches (one more row says "capped").
  std::string count_sql = "SELECT count(*) FROM (SELECT 1 FROM settlements " + where + " LIMIT " +
                          std::to_string(kListCountCap + 1) + ") AS capped";
  Params page_params = params;
  std::string page_where = where;
  if (q.after) {
    page_params.emplace_back(codec::timestamp(q.after->created_at));
    page_params.emplace_back(q.after->id.canonical());
    const size_t n = page_params.size();
    page_where += (page_where.empty() ? "WHERE " : " AND ");
    page_where += "(created_at, id) < ($" + std::to_string(n - 1) + "::timestamptz, $" +
                  std::to_string(n) + "::uuid)";
  }
  // One row past the page says whether another page follows.
  page_params.emplace_back(std::to_string(std::max(0, q.limit) + 1));
  page_params.emplace_back(std::to_string(std::max(0, q.offset)));
  std::string page_sql =
      selectSettlements(page_where + " ORDER BY created_at DESC, id DESC LIMIT $" +
                        std::to_string(page_params.size() - 1) + "::bigint OFFSET $" +
                        std::to_string(page_params.size()) + "::bigint");

  return withRetry([&]() -> Result<SettlementPage> {
    auto lease = pool_.lease();
    if (!lease.ok()) return lease.error();
    std::vector<Statement> st = {{count_sql, params}, {page_sql, page_params}};
    auto r = (*lease)->pipeline(st);
    if (!r.ok()) return r.error();
    SettlementPage page;
    page.total = std::stoll(std::string((*r)[0].text(0, 0)));
    page.total_capped = page.total > kListCountCap;
    page.total = std::min(page.total, kListCountCap);
    auto rows = decodeAll((*r)[1]);
    if (!rows.ok()) return rows.error();
    page.settlements = std::move(rows).value();
    if (page.settlements.size() > static_cast<size_t>(std::max(0, q.limit))) {
      page.settlements.resize(static_cast<size_t>(std::max(0, q.limit)));
      page.more = true;
    }
    return page;
  });
}

Result<std::vector<SettlementEvent>> PgSettlementRepository::events(const Uuid& settlement_id) {
  metrics::ScopedTimer timed(metrics().db_read);
  return withRetry([&]() -> Result<std::vector<SettlementEvent>> {
    auto lease = pool_.lease();
    if (!lease.ok()) return lease.error();
    auto rows = (*lease)->exec(kEvents, {settlement_id.canonical()});
    if (!rows.ok()) return rows.error();
    std::vector<SettlementEvent> out;
    for (int i = 0; i < rows->size(); ++i) {
      auto e = codec::decodeEvent(*rows, i);
      if (!e.ok()) return e.error();
      out.push_back(std::move(e).value());
    }
    return out;
  });
}

Result<std::vector<std::pair<Status, int64_t>>> PgSettlementRepository::countByStatus() {
  metrics::ScopedTimer timed(metrics().db_read);
  return withRetry([&]() -> Result<std::vector<std::pair<Status, int64_t>>> {
    auto lease = pool_.lease();
    if (!lease.ok()) return lease.error();
    auto rows = (*lease)->exec(kCountByStatus);
    if (!rows.ok()) return rows.error();
    std::vector<std::pair<Status, int64_t>> out;
    for (Status s : kAllStatuses) out.emplace_back(s, 0);
    for (int i = 0; i < rows->size(); ++i)
      if (auto s = parseStatus(rows->text(i, 0)))
        out[static_cast<size_t>(*s)].second = std::stoll(std::string(rows->text(i, 1)));
    return out;
  });
}

Result<int64_t> PgSettlementRepository::countPending() {
  metrics::ScopedTimer timed(metrics().db_read);
  return withRetry([&]() -> Result<int64_t> {
    auto lease = pool_.lease();
    if (!lease.ok()) return lease.error();
    auto rows = (*lease)->exec(kCountPending);
    if (!rows.ok()) return rows.error();
    return static_cast<int64_t>(std::stoll(std::string(rows->text(0, 0))));
  });
}

Result<std::optional<int64_t>> PgSettlementRepository::leastActiveLedgerFloor() {
  metrics::ScopedTimer timed(metrics().db_read);
  return withRetry([&]() -> Result<std::optional<int64_t>> {
    auto lease = pool_.lease();
    if (!lease.ok()) return lease.error();
    auto rows = (*lease)->exec(kLeastActiveFloor);
    if (!rows.ok()) return rows.error();
    if (rows->isNull(0, 0)) return std::optional<int64_t>();
    return std::optional<int64_t>(std::stoll(std::string(rows->text(0, 0))));
  });
}

}  // namespace sc::store

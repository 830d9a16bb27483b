#include "store/codec.h"
#include "store/pg_repositories.h"
#include "store/store_metrics.h"

namespace sc::store {

// The outbox is settlement_outbox (migration 0004): a copy of each settlement_events row, inserted
// in the same statement, deleted once delivered. Delivery is recorded by absence; settlement_events
// is never updated (published_at is no longer maintained).
namespace {
const std::string kPending = "SELECT " + std::string(codec::kEventColumns) +
                             " FROM settlement_outbox ORDER BY position LIMIT $1::int";
}  // namespace

Result<std::vector<SettlementEvent>> PgOutboxRepository::pending(int limit) {
  if (limit <= 0) return std::vector<SettlementEvent>{};
  metrics::ScopedTimer timed(metrics().db_outbox_pending);
  auto lease = pool_.lease();
  if (!lease.ok()) {
    metrics().errors.inc();
    return lease.error();
  }
  auto rows = (*lease)->exec(kPending, {std::to_string(limit)});
  if (!rows.ok()) {
    metrics().errors.inc();
    return rows.error();
  }
  std::vector<SettlementEvent> out;
  out.reserve(rows->size());
  for (int i = 0; i < rows->size(); ++i) {
    auto e = codec::decodeEvent(*rows, i);
    if (!e.ok()) return e.error();
    out.push_back(std::move(e).value());
  }
  return out;
}

// Deletes the delivered events from the outbox: a DELETE only marks the rows dead (no new row
// versions, no index entries), unlike the UPDATE of published_at it replaces. `at` is not stored.
Result<void> PgOutboxRepository::markPublished(std::span<const int64_t> positions,
                                               Timestamp /*at*/) {
  if (positions.empty()) return {};
  std::string array = "{";
  for (size_t i = 0; i < positions.size(); ++i) {
    if (i) array.push_back(',');
    array += std::to_string(positions[i]);
  }
  array.push_back('}');
  metrics::ScopedTimer timed(metrics().db_outbox_mark_published);
  auto lease = pool_.lease();
  if (!lease.ok()) {
    metrics().errors.inc();
    return lease.error();
  }
  auto rows =
      (*lease)->exec("DELETE FROM settlement_outbox WHERE position = ANY($1::bigint[])", {array});
  if (!rows.ok()) {
    metrics().errors.inc();
    return rows.error();
  }
  return {};
}

Result<int64_t> PgOutboxRepository::backlog() {
  metrics::ScopedTimer timed(metrics().db_outbox_backlog);
  auto lease = pool_.lease();
  if (!lease.ok()) {
    metrics().errors.inc();
    return lease.error();
  }
  auto rows = (*lease)->exec("SELECT count(*) FROM settlement_outbox");
  if (!rows.ok()) {
    metrics().errors.inc();
    return rows.error();
  }
  return static_cast<int64_t>(std::stoll(std::string(rows->text(0, 0))));
}

Result<int64_t> PgOutboxRepository::trim(int64_t keep) {
  if (keep < 0) keep = 0;
  auto lease = pool_.lease();
  if (!lease.ok()) {
    metrics().errors.inc();
    return lease.error();
  }
  // The newest `keep` stay; everything at or below the position just under them goes.
  auto rows = (*lease)->exec(
      "WITH cut AS (SELECT position FROM settlement_outbox ORDER BY position DESC"
      " OFFSET $1::bigint LIMIT 1)"
      " DELETE FROM settlement_outbox WHERE position <= (SELECT position FROM cut)",
      {std::to_string(keep)});
  if (!rows.ok()) {
    metrics().errors.inc();
    return rows.error();
  }
  return rows->affected();
}

}  // namespace sc::store

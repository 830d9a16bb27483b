// PostgreSQL side of the reconciler (migration 0007): its progress, the reads it compares, and the
// findings it records.
#include "store/reconciliation_repository.h"

#include <charconv>

#include "store/codec.h"
#include "store/errors.h"

namespace sc::store {
namespace {

Error corrupt(std::string what) {
  return Error::permanent(std::string(kCorruptRow), "cannot read " + std::move(what));
}

std::optional<int64_t> toInt(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string intArray(std::span<const int64_t> values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out.push_back(',');
    out += std::to_string(values[i]);
  }
  out.push_back('}');
  return out;
}

std::string uuidArray(std::span<const Uuid> ids) {
  std::vector<std::string> text;
  text.reserve(ids.size());
  for (const auto& id : ids) text.push_back(id.canonical());
  return pg::arrayLiteral(text);
}

Result<std::vector<SettlementEvent>> decodeEvents(const pg::Rows& rows) {
  std::vector<SettlementEvent> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    auto e = codec::decodeEvent(rows, i);
    if (!e.ok()) return e.error();
    out.push_back(std::move(e).value());
  }
  return out;
}

constexpr std::string_view kFindingColumns =
    "f.id, f.kind, f.settlement_id, s.trade_id, f.subject, f.evidence::text, f.found_at, f.status,"
    " f.resolved_at, f.resolution::text, f.acknowledged_by, f.acknowledged_at, f.note";
constexpr std::string_view kFindingFrom =
    " FROM reconciliation_findings f LEFT JOIN settlements s ON s.id = f.settlement_id";

Result<Finding> decodeFinding(const pg::Rows& r, int i) {
  Finding f;
  auto id = toInt(r.text(i, 0));
  if (!id) return corrupt("reconciliation_findings.id");
  f.id = *id;
  f.kind = std::string(r.text(i, 1));
  if (!r.isNull(i, 2)) {
    auto sid = Uuid::parseCanonical(r.text(i, 2));
    if (!sid)
      return corrupt("reconciliation_findings.settlement_id of finding " +
                     std::string(r.text(i, 0)));
    f.settlement_id = *sid;
  }
  f.trade_id = std::string(r.text(i, 3));
  f.subject = std::string(r.text(i, 4));
  f.evidence = std::string(r.text(i, 5));
  auto at = codec::parseTimestamp(r.text(i, 6));
  if (!at)
    return corrupt("reconciliation_findings.found_at of finding " + std::string(r.text(i, 0)));
  f.found_at = *at;
  f.status = std::string(r.text(i, 7));
  if (!r.isNull(i, 8)) f.resolved_at = codec::parseTimestamp(r.text(i, 8));
  f.resolution = std::string(r.text(i, 9));
  f.acknowledged_by = std::string(r.text(i, 10));
  if (!r.isNull(i, 11)) f.acknowledged_at = codec::parseTimestamp(r.text(i, 11));
  f.note = std::string(r.text(i, 12));
  return f;
}

Result<std::vector<Finding>> decodeFindings(const pg::Rows& rows) {
  std::vector<Finding> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    auto f = decodeFinding(rows, i);
    if (!f) return f.error();
    out.push_back(std::move(*f));
  }
  return out;
}

}  // namespace

Result<std::optional<int64_t>> PgReconciliationRepository::leastFloorToCompare(int64_t position) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  // The events after the watermark are the recent ones: a range of the position index.
  auto rows = (*lease)->exec(
      "SELECT min(s.ledger_offset_floor) FROM settlements s WHERE s.id IN"
      " (SELECT settlement_id FROM settlement_events WHERE position > $1::bigint)",
      {std::to_string(position)});
  if (!rows.ok()) return rows.error();
  if (rows->isNull(0, 0)) return std::optional<int64_t>();
  auto v = toInt(rows->text(0, 0));
  if (!v) return corrupt("settlements.ledger_offset_floor");
  return std::optional<int64_t>(*v);
}

Result<ReconciliationState> PgReconciliationRepository::state() {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  static const pg::Statement kReads[] = {
      {"SELECT watermark, ledger_offset, passes, checked_settlements, last_pass_at"
       " FROM reconciliation_state",
       {}},
      {"SELECT asset, expected::text FROM reconciliation_ledger_totals", {}}};
  auto rows = (*lease)->pipeline(kReads);
  if (!rows.ok()) return rows.error();
  const pg::Rows& st = (*rows)[0];
  if (st.size() != 1) return corrupt("reconciliation_state: expected one row");
  ReconciliationState s;
  auto wm = toInt(st.text(0, 0));
  auto lo = toInt(st.text(0, 1));
  auto passes = toInt(st.text(0, 2));
  auto checked = toInt(st.text(0, 3));
  if (!wm || !lo || !passes || !checked) return corrupt("reconciliation_state");
  s.watermark = *wm;
  s.ledger_offset = *lo;
  s.passes = *passes;
  s.checked_settlements = *checked;
  if (!st.isNull(0, 4)) s.last_pass_at = codec::parseTimestamp(st.text(0, 4));
  const pg::Rows& totals = (*rows)[1];
  for (int i = 0; i < totals.size(); ++i) {
    auto amount = LedgerAmount::parse(totals.text(i, 1));
    if (!amount)
      return corrupt("reconciliation_ledger_totals.expected of " + std::string(totals.text(i, 0)));
    s.expected_totals.emplace(std::string(totals.text(i, 0)), *amount);
  }
  return s;
}

Result<void> PgReconciliationRepository::saveState(const ReconciliationState& s) {
  std::vector<std::string> assets, amounts;
  for (const auto& [asset, amount] : s.expected_totals) {
    assets.push_back(asset);
    amounts.push_back(amount.toDamlString());
  }
  const pg::Statement statements[] = {
      {"UPDATE reconciliation_state SET watermark = $1::bigint, ledger_offset = $2::bigint,"
       " passes = $3::bigint, checked_settlements = $4::bigint, last_pass_at = $5::timestamptz",
       {std::to_string(s.watermark), std::to_string(s.ledger_offset), std::to_string(s.passes),
        std::to_string(s.checked_settlements), codec::timestamp(s.last_pass_at)}},
      {"DELETE FROM reconciliation_ledger_totals", {}},
      {"INSERT INTO reconciliation_ledger_totals (asset, expected)"
       " SELECT * FROM unnest($1::text[], $2::numeric[])",
       {pg::arrayLiteral(assets), pg::arrayLiteral(amounts)}}};
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->pipeline(statements);
  if (!rows.ok()) return rows.error();
  return {};
}

Result<EventHorizon> PgReconciliationRepository::eventHorizon() {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  // max(position) walks the unique index backwards; the snapshot is taken by the same statement.
  auto rows = (*lease)->exec(
      "SELECT COALESCE((SELECT max(position) FROM settlement_events), 0),"
      " pg_current_snapshot()::text");
  if (!rows.ok()) return rows.error();
  auto max = toInt(rows->text(0, 0));
  if (!max) return corrupt("max(settlement_events.position)");
  return EventHorizon{*max, std::string(rows->text(0, 1))};
}

Result<bool> PgReconciliationRepository::horizonFinal(const EventHorizon& h) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  // Every transaction running (or not yet begun) when h was read has an id >= its xmin, and
  // below its xmax if it had begun; once today's oldest running transaction is not older than
  // that xmax, all of them have ended. A transaction begun after h draws positions above
  // max_position (one sequence), so none can add a row at or below it any more.
  auto rows = (*lease)->exec(
      "SELECT pg_snapshot_xmin(pg_current_snapshot()) >= pg_snapshot_xmax($1::pg_snapshot)",
      {h.snapshot});
  if (!rows.ok()) return rows.error();
  return rows->text(0, 0) == "t";
}

Result<std::vector<SettlementEvent>> PgReconciliationRepository::eventsAfter(int64_t after,
                                                                             int64_t up_to,
                                                                             int limit) {
  static const std::string kSql = "SELECT " + std::string(codec::kEventColumns) +
                                  " FROM settlement_events WHERE position > $1::bigint"
                                  " AND position <= $2::bigint ORDER BY position LIMIT $3::int";
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(
      kSql, {std::to_string(after), std::to_string(up_to), std::to_string(std::max(limit, 0))});
  if (!rows.ok()) return rows.error();
  return decodeEvents(*rows);
}

Result<std::vector<SettlementEvent>> PgReconciliationRepository::eventsByIds(
    std::span<const Uuid> ids) {
  if (ids.empty()) return std::vector<SettlementEvent>{};
  static const std::string kSql = "SELECT " + std::string(codec::kEventColumns) +
                                  " FROM settlement_events WHERE id = ANY($1::uuid[])";
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(kSql, {uuidArray(ids)});
  if (!rows.ok()) return rows.error();
  return decodeEvents(*rows);
}

Result<std::vector<int64_t>> PgReconciliationRepository::undelivered(
    std::span<const int64_t> positions) {
  if (positions.empty()) return std::vector<int64_t>{};
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows =
      (*lease)->exec("SELECT position FROM settlement_outbox WHERE position = ANY($1::bigint[])",
                     {intArray(positions)});
  if (!rows.ok()) return rows.error();
  std::vector<int64_t> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto p = toInt(rows->text(i, 0));
    if (!p) return corrupt("settlement_outbox.position");
    out.push_back(*p);
  }
  return out;
}

Result<std::vector<ReconciliationRow>> PgReconciliationRepository::settlements(
    std::span<const Uuid> ids) {
  if (ids.empty()) return std::vector<ReconciliationRow>{};
  // lease_token is the column after the settlement's (decodeSettlement reads it); lease_until
  // comes last.
  static const std::string kSql = "SELECT " + std::string(codec::kLeasedSettlementColumns) +
                                  ", lease_until IS NOT NULL FROM settlements"
                                  " WHERE id = ANY($1::uuid[])";
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(kSql, {uuidArray(ids)});
  if (!rows.ok()) return rows.error();
  std::vector<ReconciliationRow> out;
  out.reserve(rows->size());
  const int last = rows->columns() - 1;
  for (int i = 0; i < rows->size(); ++i) {
    auto s = codec::decodeSettlement(*rows, i);
    if (!s.ok()) return s.error();
    ReconciliationRow row;
    row.settlement = std::move(s).value();
    row.leased = !row.settlement.lease_token.isNil() || rows->text(i, last) == "t";
    out.push_back(std::move(row));
  }
  return out;
}

Result<std::vector<Settlement>> PgReconciliationRepository::settlementsByDvp(
    std::span<const std::string> dvp_contract_ids) {
  if (dvp_contract_ids.empty()) return std::vector<Settlement>{};
  static const std::string kSql = "SELECT " + std::string(codec::kSettlementColumns) +
                                  " FROM settlements WHERE dvp_contract_id = ANY($1::text[])";
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(kSql, {pg::arrayLiteral(dvp_contract_ids)});
  if (!rows.ok()) return rows.error();
  std::vector<Settlement> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto s = codec::decodeSettlement(*rows, i);
    if (!s.ok()) return s.error();
    out.push_back(std::move(s).value());
  }
  return out;
}

Result<bool> PgReconciliationRepository::raise(const Finding& f) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  pg::Param sid = f.settlement_id ? pg::Param{f.settlement_id->canonical()} : pg::Param{};
  pg::Param at = f.found_at == Timestamp{} ? pg::Param{} : pg::Param{codec::timestamp(f.found_at)};
  auto rows = (*lease)->exec(
      "INSERT INTO reconciliation_findings (kind, settlement_id, subject, evidence, found_at)"
      " VALUES ($1, $2::uuid, $3, $4::jsonb, COALESCE($5::timestamptz, clock_timestamp()))"
      " ON CONFLICT (kind, COALESCE(settlement_id, '00000000-0000-0000-0000-000000000000'::uuid),"
      " subject) WHERE status = 'open' DO NOTHING RETURNING id",
      {f.kind, sid, f.subject, f.evidence, at});
  if (!rows.ok()) return rows.error();
  return rows->size() == 1;
}

Result<std::vector<Finding>> PgReconciliationRepository::openFindings(int limit) {
  static const std::string kSql = "SELECT " + std::string(kFindingColumns) +
                                  std::string(kFindingFrom) +
                                  " WHERE f.status = 'open' ORDER BY f.id LIMIT $1::int";
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(kSql, {std::to_string(std::max(limit, 0))});
  if (!rows.ok()) return rows.error();
  return decodeFindings(*rows);
}

Result<bool> PgReconciliationRepository::resolve(int64_t id, Timestamp at,
                                                 const std::string& resolution) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(
      "UPDATE reconciliation_findings SET status = 'resolved', resolved_at = $2::timestamptz,"
      " resolution = $3::jsonb WHERE id = $1::bigint AND status = 'open' RETURNING id",
      {std::to_string(id), codec::timestamp(at), resolution});
  if (!rows.ok()) return rows.error();
  return rows->size() == 1;
}

Result<Finding> PgReconciliationRepository::acknowledge(int64_t id, const std::string& actor,
                                                        const std::string& note, Timestamp at) {
  static const std::string kRead = "SELECT " + std::string(kFindingColumns) +
                                   std::string(kFindingFrom) + " WHERE f.id = $1::bigint";
  const std::string id_text = std::to_string(id);
  // The update and, for an asset's total, the reset of its expected total, in one transaction.
  const pg::Statement statements[] = {
      {"UPDATE reconciliation_findings SET status = 'acknowledged', acknowledged_by = $2,"
       " acknowledged_at = $3::timestamptz, note = $4 WHERE id = $1::bigint AND status = 'open'",
       {id_text, actor, codec::timestamp(at), codec::text(note)}},
      {"DELETE FROM reconciliation_ledger_totals WHERE asset IN (SELECT subject FROM"
       " reconciliation_findings WHERE id = $1::bigint AND kind = 'ledger_total_changed'"
       " AND status = 'acknowledged' AND acknowledged_at = $2::timestamptz)",
       {id_text, codec::timestamp(at)}},
      {kRead, {id_text}}};
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->pipeline(statements);
  if (!rows.ok()) return rows.error();
  const pg::Rows& read = (*rows)[2];
  if (read.size() == 0)
    return Error::permanent(std::string(kFindingNotFound), "no reconciliation finding " + id_text,
                            "id");
  auto f = decodeFinding(read, 0);
  if (!f) return f.error();
  if ((*rows)[0].affected() == 0)
    return Error::permanent(std::string(kFindingNotOpen),
                            "finding " + id_text + " is " + f->status +
                                ", not open: only an open finding can be acknowledged",
                            "id");
  return f;
}

Result<std::vector<Finding>> PgReconciliationRepository::findings(const FindingQuery& q) {
  std::string where;
  pg::Params params;
  if (q.status) {
    params.emplace_back(*q.status);
    where += " WHERE f.status = $" + std::to_string(params.size());
  }
  if (q.kind) {
    params.emplace_back(*q.kind);
    where += (where.empty() ? " WHERE" : " AND") + std::string(" f.kind = $") +
             std::to_string(params.size());
  }
  params.emplace_back(std::to_string(std::max(q.limit, 0)));
  std::string sql = "SELECT " + std::string(kFindingColumns) + std::string(kFindingFrom) + where +
                    " ORDER BY f.id DESC LIMIT $" + std::to_string(params.size()) + "::int";
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(sql, params);
  if (!rows.ok()) return rows.error();
  return decodeFindings(*rows);
}

Result<std::map<std::string, int64_t>> PgReconciliationRepository::openByKind() {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(
      "SELECT kind, count(*) FROM reconciliation_findings WHERE status = 'open' GROUP BY kind");
  if (!rows.ok()) return rows.error();
  std::map<std::string, int64_t> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto n = toInt(rows->text(i, 1));
    if (!n) return corrupt("count of open findings");
    out[std::string(rows->text(i, 0))] = *n;
  }
  return out;
}

}  // namespace sc::store

// PostgreSQL audit log and credit idempotency records (migration 0005).
#include "store/audit_repository.h"

#include "store/codec.h"
#include "store/errors.h"

namespace sc::store {
namespace {

Result<AuditEntry> decodeEntry(const pg::Rows& r, int i) {
  AuditEntry e;
  e.id = std::stoll(std::string(r.text(i, 0)));
  auto at = codec::parseTimestamp(r.text(i, 1));
  if (!at) return Error::permanent(std::string(kCorruptRow), "cannot read audit_log.at");
  e.at = *at;
  e.actor = std::string(r.text(i, 2));
  e.role = std::string(r.text(i, 3));
  e.action = std::string(r.text(i, 4));
  e.target = std::string(r.text(i, 5));
  e.request_id = std::string(r.text(i, 6));
  e.remote_address = std::string(r.text(i, 7));
  e.outcome = std::string(r.text(i, 8));
  e.status = std::stoi(std::string(r.text(i, 9)));
  e.error_code = std::string(r.text(i, 10));
  return e;
}

}  // namespace

Result<void> PgAuditRepository::record(const AuditEntry& e) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  pg::Param at = e.at == Timestamp{} ? pg::Param{} : pg::Param{codec::timestamp(e.at)};
  auto rows = (*lease)->exec(
      "INSERT INTO audit_log (at, actor, role, action, target, request_id, remote_address,"
      " outcome, status, error_code) VALUES (COALESCE($1::timestamptz, now()), $2, $3, $4, $5,"
      " $6, $7, $8, $9::integer, $10)",
      {at, e.actor, e.role, e.action, e.target, e.request_id, e.remote_address, e.outcome,
       std::to_string(e.status), e.error_code});
  if (!rows.ok()) return rows.error();
  return {};
}

Result<std::vector<AuditEntry>> PgAuditRepository::list(const AuditQuery& q) {
  std::string where;
  pg::Params params;
  auto add = [&](const std::string& column, const std::string& op, pg::Param value,
                 const char* cast) {
    params.push_back(std::move(value));
    where += where.empty() ? " WHERE " : " AND ";
    where += column + " " + op + " $" + std::to_string(params.size()) + cast;
  };
  if (q.actor) add("actor", "=", *q.actor, "");
  if (q.action) add("action", "=", *q.action, "");
  if (q.target) add("target", "=", *q.target, "");
  if (q.since) add("at", ">=", codec::timestamp(*q.since), "::timestamptz");
  if (q.until) add("at", "<", codec::timestamp(*q.until), "::timestamptz");
  if (q.before_id) add("id", "<", std::to_string(*q.before_id), "::bigint");
  params.emplace_back(std::to_string(q.limit));
  std::string sql =
      "SELECT id, at, actor, role, action, target, request_id, remote_address, outcome, status,"
      " error_code FROM audit_log" +
      where + " ORDER BY id DESC LIMIT $" + std::to_string(params.size()) + "::bigint";
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(sql, params);
  if (!rows.ok()) return rows.error();
  std::vector<AuditEntry> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto e = decodeEntry(*rows, i);
    if (!e) return e.error();
    out.push_back(std::move(*e));
  }
  return out;
}

Result<CreditClaim> PgCreditRequestRepository::claim(const std::string& key,
                                                     const std::string& body_sha256) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto inserted = (*lease)->exec(
      "INSERT INTO credit_requests (idempotency_key, body_sha256, state) VALUES ($1, $2,"
      " 'pending') ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
      {key, body_sha256});
  if (!inserted.ok()) return inserted.error();
  if (inserted->size() == 1) return CreditClaim{};
  auto rows = (*lease)->exec(
      "SELECT body_sha256, state, status, response FROM credit_requests"
      " WHERE idempotency_key = $1",
      {key});
  if (!rows.ok()) return rows.error();
  if (rows->size() == 0)  // released between the two statements: claim again
    return Error::transient(std::string(kDatabaseConflict), "idempotency key released meanwhile");
  CreditClaim c;
  if (rows->text(0, 0) != body_sha256) {
    c.kind = CreditClaim::Kind::kOtherBody;
  } else if (rows->text(0, 1) == "done") {
    c.kind = CreditClaim::Kind::kDone;
    c.status = std::stoi(std::string(rows->text(0, 2)));
    c.response = std::string(rows->text(0, 3));
  } else {
    c.kind = CreditClaim::Kind::kPending;
  }
  return c;
}

Result<void> PgCreditRequestRepository::complete(const std::string& key, int status,
                                                 const std::string& response) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(
      "UPDATE credit_requests SET state = 'done', status = $2::integer, response = $3"
      " WHERE idempotency_key = $1",
      {key, std::to_string(status), response});
  if (!rows.ok()) return rows.error();
  return {};
}

Result<void> PgCreditRequestRepository::release(const std::string& key) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(
      "DELETE FROM credit_requests WHERE idempotency_key = $1 AND state = 'pending'", {key});
  if (!rows.ok()) return rows.error();
  return {};
}

}  // namespace sc::store

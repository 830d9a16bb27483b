// PgSettlementRepository's leases (leaseDue, FOR UPDATE SKIP LOCKED) and guarded writes: a batch of
// state changes, each applied only while the row still has the expected status and lease token,
// with its event and outbox row, in one transaction.
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
// Each lease gets a fresh token (gen_random_uuid: built in since PostgreSQL 13) that the
// leaseholder must present to write the row: a worker whose lease expired and was taken over is
// fenced.
// A lease's end is set and judged by the database's clock (clock_timestamp(), the lease passed as
// microseconds), never by the caller's: with several instances (DESIGN §8), one whose clock runs
// ahead would otherwise take leases that have not ended, and one whose clock runs behind would hand
// out leases that have already ended for the others. Whether a row is due compares
// next_attempt_at with `now`, both read from the workflow's clock, which is the database's too
// (DatabaseClock: sampled from clock_timestamp(), advanced on the host's steady clock): instances
// agree on it within the sampling error, and a host's own clock, or a step of it, moves neither.
// The first lease of a row sets its ledger_offset_floor ($4, read before this statement); later
// leases keep it. Rows that existed before migration 0008 have 0 (the migration sets it), and no
// binary older than 0008 may run against the database once it is migrated (README, Upgrading):
// so a row without a floor has never been leased, and has no ledger command yet.
const std::string kLeaseDue =
    "UPDATE settlements SET lease_until = clock_timestamp() + $2::bigint * interval '1 "
    "microsecond',"
    " lease_token = gen_random_uuid(),"
    " ledger_offset_floor = COALESCE(ledger_offset_floor, $4::bigint)"
    " WHERE id IN ("
    " SELECT id FROM settlements"
    " WHERE status NOT IN ('settled', 'failed') AND next_attempt_at <= $1::timestamptz"
    "   AND (lease_until IS NULL OR lease_until < clock_timestamp())"
    " ORDER BY next_attempt_at LIMIT $3::int FOR UPDATE SKIP LOCKED)"
    " RETURNING " +
    std::string(codec::kLeasedSettlementColumns);
}  // namespace

Result<std::vector<Settlement>> PgSettlementRepository::leaseDue(Timestamp now, int limit,
                                                                 Duration lease_for,
                                                                 int64_t ledger_offset) {
  if (limit <= 0) return std::vector<Settlement>{};
  metrics::ScopedTimer timed(metrics().db_lease_due);
  return withRetry([&]() -> Result<std::vector<Settlement>> {
    auto lease = pool_.lease();
    if (!lease.ok()) return lease.error();
    auto rows = (*lease)->exec(kLeaseDue, {codec::timestamp(now), std::to_string(lease_for.count()),
                                           std::to_string(limit), std::to_string(ledger_offset)});
    if (!rows.ok()) return rows.error();
    auto out = decodeAll(*rows);
    if (!out.ok()) return out.error();
    std::sort(out->begin(), out->end(), [](const Settlement& a, const Settlement& b) {
      return a.next_attempt_at != b.next_attempt_at ? a.next_attempt_at < b.next_attempt_at
                                                    : a.id < b.id;
    });
    return out;
  });
}

// ---- guarded writes ----------------------------------------------------------------------------

namespace {

// $1 id, $2 expected status, $3..$27, $30 and $33 the mutable columns, $31 the writer's lease
// token (NULL: the row must not be leased), $32 the token to leave on the row: NULL (the lease
// ends) except for a write that another write of the same call to the same row follows.
constexpr std::string_view kUpdateSet =
    "UPDATE settlements SET status = $3::settlement_status, dvp_contract_id = $4,"
    " dvp_contract_template_id = $5, seller_securities_ledger_ref = $6,"
    " buyer_cash_ledger_ref = $7, buyer_securities_ledger_ref = $8, seller_cash_ledger_ref = $9,"
    " dvp_atomic_transaction_id = $10, locked_quantity = $11::numeric,"
    " locked_amount = $12::numeric, settled_quantity = $13::numeric,"
    " settled_amount = $14::numeric, initiated_at = $15::timestamptz,"
    " confirmed_at = $16::timestamptz, settled_at = $17::timestamptz,"
    " failed_at = $18::timestamptz, failure_reason = $19, failure_code = $20, failed_step = $21,"
    " last_error = $22, retry_count = $23::int, step_attempt = $24::int,"
    " updated_at = $25::timestamptz, next_attempt_at = $26::timestamptz,"
    " deadline_at = $27::timestamptz, round = $30::int, step_offset_floor = "
    "GREATEST(step_offset_floor, $33::bigint),"
    " lease_until = NULL, lease_token = $32::uuid"
    " WHERE id = $1::uuid AND status = $2::settlement_status"
    " AND lease_token IS NOT DISTINCT FROM $31::uuid";

// Keeps the status: no event ($28/$29 are NULL and only typed here).
const std::string kUpdateOnly =
    std::string(kUpdateSet) + " AND ($28::uuid IS NULL OR $29::jsonb IS NULL OR true)";
// A status change, its audit row and the audit row's outbox entry (migration 0004) in one
// statement: the event exists iff the guard held, and then it is in the outbox too. The
// statement's row count (the outbox insert's) is 1 iff the guard held.
const std::string kUpdateWithEvent =
    "WITH u AS (" + std::string(kUpdateSet) +
    " RETURNING id), ev AS (INSERT INTO settlement_events (id, settlement_id, event_type, details,"
    " created_at) SELECT $28::uuid, u.id, $3::settlement_status, $29::jsonb, $25::timestamptz"
    " FROM u RETURNING position, id, settlement_id, event_type, details, created_at)"
    " INSERT INTO settlement_outbox (position, id, settlement_id, event_type, details, created_at)"
    " SELECT position, id, settlement_id, event_type, details, created_at FROM ev";

constexpr size_t kWriteParams = 31;  // writeParams(); the pipelined path appends $32 and $33

pg::Param token(const Uuid& u) { return u.isNil() ? pg::Param{} : pg::Param{u.canonical()}; }

Params writeParams(const StateWrite& w) {
  const Settlement& s = w.next;
  Params p;
  p.reserve(kWriteParams + 2);
  p.emplace_back(s.id.canonical());
  p.emplace_back(std::string(toString(w.expected)));
  p.emplace_back(std::string(toString(s.status)));
  for (const std::string* v :
       {&s.dvp_contract_id, &s.dvp_contract_template_id, &s.seller_securities_ledger_ref,
        &s.buyer_cash_ledger_ref, &s.buyer_securities_ledger_ref, &s.seller_cash_ledger_ref,
        &s.dvp_atomic_transaction_id})
    p.push_back(codec::text(*v));
  for (const Decimal* d :
       {&s.locked_quantity, &s.locked_amount, &s.settled_quantity, &s.settled_amount})
    p.emplace_back(d->toString());
  for (const auto* t : {&s.initiated_at, &s.confirmed_at, &s.settled_at, &s.failed_at})
    p.push_back(codec::timestamp(*t));
  for (const std::string* v : {&s.failure_reason, &s.failure_code, &s.failed_step, &s.last_error})
    p.push_back(codec::text(*v));
  p.emplace_back(std::to_string(s.retry_count));
  p.emplace_back(std::to_string(s.step_attempt));
  p.emplace_back(codec::timestamp(s.updated_at));
  p.emplace_back(codec::timestamp(s.next_attempt_at));
  p.emplace_back(codec::timestamp(s.deadline_at));
  bool event = s.status != w.expected;
  p.emplace_back(event ? Param{Uuid::generateV7().canonical()} : Param{});
  p.emplace_back(event ? Param{w.event_details.empty() ? std::string("{}") : w.event_details}
                       : Param{});
  p.emplace_back(std::to_string(s.round));
  p.push_back(token(s.lease_token));
  return p;
}

// A batch in one set-based statement (UPDATE … FROM unnest, then the audit rows), instead of one
// statement per write. Each settlement's writes must form a chain (every write expects the status
// the previous one set and presents the same lease token — what a worker produces when it advances
// a settlement several steps): then only the chain's first guard can fail, so the row is updated
// once, to the last state, under the first guard, and every status change of the chain gets its
// audit row, in input order, iff that guard held. Rows: $1..$27 as in kUpdateSet (expected = the
// chain's first), $28 round, $29 lease token, $35 step_offset_floor; audit rows: $30 id, $31
// settlement id, $32 status, $33 details, $34 created_at. Each audit row inserted is also
// inserted into settlement_outbox.
const std::string kBatchWrite = R"sql(
WITH w AS (
  SELECT * FROM unnest($1::uuid[], $2::settlement_status[], $3::settlement_status[], $4::text[],
    $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::numeric[],
    $12::numeric[], $13::numeric[], $14::numeric[], $15::timestamptz[], $16::timestamptz[],
    $17::timestamptz[], $18::timestamptz[], $19::text[], $20::text[], $21::text[], $22::text[],
    $23::int[], $24::int[], $25::timestamptz[], $26::timestamptz[], $27::timestamptz[],
    $28::int[], $29::uuid[], $35::bigint[])
  AS t(id, expected, status, dvp_contract_id, dvp_contract_template_id,
    seller_securities_ledger_ref, buyer_cash_ledger_ref, buyer_securities_ledger_ref,
    seller_cash_ledger_ref, dvp_atomic_transaction_id, locked_quantity, locked_amount,
    settled_quantity, settled_amount, initiated_at, confirmed_at, settled_at, failed_at,
    failure_reason, failure_code, failed_step, last_error, retry_count, step_attempt, updated_at,
    next_attempt_at, deadline_at, round, lease_token, step_offset_floor)
), u AS (
  UPDATE settlements s SET status = w.status, dvp_contract_id = w.dvp_contract_id,
    dvp_contract_template_id = w.dvp_contract_template_id,
    seller_securities_ledger_ref = w.seller_securities_ledger_ref,
    buyer_cash_ledger_ref = w.buyer_cash_ledger_ref,
    buyer_securities_ledger_ref = w.buyer_securities_ledger_ref,
    seller_cash_ledger_ref = w.seller_cash_ledger_ref,
    dvp_atomic_transaction_id = w.dvp_atomic_transaction_id,
    locked_quantity = w.locked_quantity, locked_amount = w.locked_amount,
    settled_quantity = w.settled_quantity, settled_amount = w.settled_amount,
    initiated_at = w.initiated_at, confirmed_at = w.confirmed_at, settled_at = w.settled_at,
    failed_at = w.failed_at, failure_reason = w.failure_reason, failure_code = w.failure_code,
    failed_step = w.failed_step, last_error = w.last_error, retry_count = w.retry_count,
    step_attempt = w.step_attempt, updated_at = w.updated_at,
    next_attempt_at = w.next_attempt_at, deadline_at = w.deadline_at, round = w.round,
    step_offset_floor = GREATEST(s.step_offset_floor, w.step_offset_floor), lease_until = NULL,
    lease_token = NULL
  FROM w WHERE s.id = w.id AND s.status = w.expected
    AND s.lease_token IS NOT DISTINCT FROM w.lease_token
  RETURNING s.id
), ev AS (
  INSERT INTO settlement_events (id, settlement_id, event_type, details, created_at)
  SELECT e.id, e.settlement_id, e.status, e.details, e.created_at
  FROM unnest($30::uuid[], $31::uuid[], $32::settlement_status[], $33::jsonb[],
              $34::timestamptz[]) WITH ORDINALITY AS e(id, settlement_id, status, details,
                                                       created_at, ord)
  JOIN u ON u.id = e.settlement_id ORDER BY e.ord
  RETURNING position, id, settlement_id, event_type, details, created_at
), ob AS (
  INSERT INTO settlement_outbox (position, id, settlement_id, event_type, details, created_at)
  SELECT position, id, settlement_id, event_type, details, created_at FROM ev
)
SELECT id::text FROM u
)sql";

// Per settlement, in order of first appearance: the indexes of its first and last write. Empty
// when some settlement's writes do not chain (the caller then runs them one by one).
std::vector<std::pair<size_t, size_t>> chains(std::span<const StateWrite> writes) {
  std::vector<std::pair<size_t, size_t>> out;
  std::unordered_map<Uuid, size_t, UuidHash> by_id;
  for (size_t i = 0; i < writes.size(); ++i) {
    auto [it, fresh] = by_id.try_emplace(writes[i].next.id, out.size());
    if (fresh) {
      out.emplace_back(i, i);
      continue;
    }
    auto& [first, last] = out[it->second];
    if (writes[i].expected != writes[last].next.status ||
        writes[i].next.lease_token != writes[last].next.lease_token)
      return {};
    last = i;
  }
  return out;
}

}  // namespace

Result<std::vector<bool>> PgSettlementRepository::write(std::span<const StateWrite> writes) {
  for (const StateWrite& w : writes) {
    if (w.next.status != w.expected && !isAllowedTransition(w.expected, w.next.status)) {
      metrics().errors.inc();
      sc::log::get("store")->error("illegal transition {} -> {} for settlement {}",
                                   toString(w.expected), toString(w.next.status),
                                   w.next.settlementId());
      return Error::permanent(
          std::string(store::kIllegalTransition),
          "settlement " + w.next.settlementId() + ": " + std::string(toString(w.expected)) +
              " -> " + std::string(toString(w.next.status)) + " is not an allowed transition");
    }
  }
  if (writes.empty()) return std::vector<bool>{};
  metrics::ScopedTimer timed(metrics().db_write);
  return withRetry([&] { return writeOnce(writes); });
}

Result<std::vector<bool>> PgSettlementRepository::writeOnce(std::span<const StateWrite> writes) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto& m = metrics();
  if (auto groups = writes.size() >= 8 ? chains(writes) : decltype(chains(writes)){};
      !groups.empty()) {
    std::vector<std::vector<Param>> cols(35);
    for (auto [first, last] : groups) {
      StateWrite w = writes[last];
      w.expected = writes[first].expected;
      Params p = writeParams(w);  // its $28/$29 (one event) are not used here
      for (size_t c = 0; c < 27; ++c) cols[c].push_back(std::move(p[c]));
      cols[27].push_back(std::move(p[29]));  // round
      cols[28].push_back(std::move(p[30]));  // lease token
      cols[34].emplace_back(std::to_string(w.next.step_offset_floor));
    }
    for (const StateWrite& w : writes) {
      if (w.next.status == w.expected) continue;
      cols[29].emplace_back(Uuid::generateV7().canonical());
      cols[30].emplace_back(w.next.id.canonical());
      cols[31].emplace_back(std::string(toString(w.next.status)));
      cols[32].emplace_back(w.event_details.empty() ? std::string("{}") : w.event_details);
      cols[33].emplace_back(codec::timestamp(w.next.updated_at));
    }
    Params arrays;
    for (auto& c : cols) arrays.emplace_back(pg::arrayLiteral(c));
    auto r = (*lease)->exec(kBatchWrite, arrays);
    if (!r.ok()) return r.error();
    std::unordered_set<std::string> applied;
    for (int i = 0; i < r->size(); ++i) applied.insert(std::string(r->text(i, 0)));
    std::vector<bool> held;
    held.reserve(writes.size());
    for (const StateWrite& w : writes) {
      bool ok = applied.contains(w.next.id.canonical());
      held.push_back(ok);
      if (!ok)
        m.guard_misses.inc();
      else if (w.next.status != w.expected)
        m.transitions.inc();
    }
    return held;
  }
  // All writes in one pipeline = one implicit transaction and one round trip; statements run in
  // order, so several writes to one settlement chain: each but the last of a row keeps the lease
  // token it presented, so the next one's guard can hold; the last one clears it.
  std::vector<bool> followed(writes.size(), false);
  {
    std::unordered_set<Uuid, UuidHash> later;
    for (size_t i = writes.size(); i-- > 0;) followed[i] = !later.insert(writes[i].next.id).second;
  }
  std::vector<Statement> st;
  st.reserve(writes.size());
  for (size_t i = 0; i < writes.size(); ++i) {
    const StateWrite& w = writes[i];
    Params p = writeParams(w);
    p.push_back(followed[i] ? token(w.next.lease_token) : pg::Param{});
    p.emplace_back(std::to_string(w.next.step_offset_floor));  // $33
    st.push_back({w.next.status != w.expected ? std::string_view(kUpdateWithEvent)
                                              : std::string_view(kUpdateOnly),
                  std::move(p)});
  }
  auto r = (*lease)->pipeline(st);
  if (!r.ok()) return r.error();
  std::vector<bool> held;
  held.reserve(writes.size());
  for (size_t i = 0; i < writes.size(); ++i) {
    bool ok = (*r)[i].affected() == 1;
    held.push_back(ok);
    if (!ok)
      m.guard_misses.inc();
    else if (writes[i].next.status != writes[i].expected)
      m.transitions.inc();
  }
  return held;
}

}  // namespace sc::store

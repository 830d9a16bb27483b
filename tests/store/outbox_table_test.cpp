// The dedicated outbox table (migration 0004): every settlement_events row enters
// settlement_outbox in the statement that writes it, markPublished deletes, and the migration
// backfills the events that were still unpublished.
#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "store/migrations.h"
#include "store/outbox_cap.h"
#include "store/pool.h"
#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

int64_t count(pg::ConnectionPool& pool, const std::string& sql) {
  auto l = pool.lease();
  EXPECT_TRUE(l.ok());
  if (!l.ok()) return -1;
  auto r = (*l)->exec(sql);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\n" << sql;
  return r.ok() ? std::stoll(std::string(r->text(0, 0))) : -1;
}

// Events without their outbox row, outbox rows without their event, or rows that differ.
constexpr const char* kMismatches =
    "SELECT count(*) FROM settlement_events e FULL JOIN settlement_outbox o USING (position)"
    " WHERE e.id IS NULL OR o.id IS NULL OR e.id <> o.id OR e.settlement_id <> o.settlement_id"
    " OR e.event_type <> o.event_type OR e.details <> o.details OR e.created_at <> o.created_at";

class OutboxTable : public StoreTest {
 protected:
  pg::ConnectionPool& pool() { return database_->pool(); }
  static store::StateWrite move(const Settlement& from, Status to, Timestamp when) {
    store::StateWrite w{from, from.status, R"({"step":")" + std::string(toString(to)) + R"("})"};
    w.next.status = to;
    w.next.updated_at = when;
    return w;
  }
};

TEST_F(OutboxTable, IntakeAndEveryWritePathAddExactlyOneOutboxRowPerEvent) {
  // Intake: 6 new trades, a duplicate in the same batch and a rejected one → 6 events.
  std::vector<Trade> trades;
  for (int i = 0; i < 6; ++i) trades.push_back(trade("trd_" + std::to_string(i)));
  trades.push_back(trade("trd_0"));
  trades.push_back(trade("trd_x", "acc_nobody"));
  auto in = repo().intake(trades, at(0), kDeadline);
  ASSERT_TRUE(in.ok()) << in.error().message;
  std::vector<Settlement> s;
  for (int i = 0; i < 6; ++i) s.push_back((*in)[static_cast<size_t>(i)].settlement);
  EXPECT_EQ(count(pool(), "SELECT count(*) FROM settlement_events"), 6);
  EXPECT_EQ(count(pool(), "SELECT count(*) FROM settlement_outbox"), 6);
  EXPECT_EQ(count(pool(), kMismatches), 0);

  // A duplicate intake adds nothing.
  ASSERT_TRUE(repo().intake(std::span<const Trade>(trades.data(), 2), at(1), kDeadline).ok());
  EXPECT_EQ(count(pool(), "SELECT count(*) FROM settlement_outbox"), 6);

  // Set-based path: 4 settlements × 2 chained transitions (8 writes) → 8 events.
  std::vector<store::StateWrite> batch;
  for (int i = 0; i < 4; ++i) {
    store::StateWrite a = move(s[static_cast<size_t>(i)], Status::kInitiated, at(2));
    store::StateWrite b = move(a.next, Status::kSellerSecuritiesLocked, at(2));
    batch.push_back(a);
    batch.push_back(b);
  }
  auto held = repo().write(batch);
  ASSERT_TRUE(held.ok()) << held.error().message;
  for (bool h : *held) EXPECT_TRUE(h);
  EXPECT_EQ(count(pool(), "SELECT count(*) FROM settlement_outbox"), 14);
  EXPECT_EQ(count(pool(), kMismatches), 0);

  // Pipelined path: a transition, a write that keeps the status (no event) and a guard miss
  // (no event) → 1 event.
  store::StateWrite t = move(s[4], Status::kInitiated, at(3));
  store::StateWrite keep{s[5], Status::kPending, "{}"};
  keep.next.retry_count = 1;
  store::StateWrite miss = move(s[0], Status::kInitiated, at(3));  // s[0] is no longer PENDING
  std::vector<store::StateWrite> few = {t, keep, miss};
  held = repo().write(few);
  ASSERT_TRUE(held.ok()) << held.error().message;
  EXPECT_EQ(*held, (std::vector<bool>{true, true, false}));
  EXPECT_EQ(count(pool(), "SELECT count(*) FROM settlement_events"), 15);
  EXPECT_EQ(count(pool(), "SELECT count(*) FROM settlement_outbox"), 15);
  EXPECT_EQ(count(pool(), kMismatches), 0);
  EXPECT_EQ(*database_->outbox().backlog(), 15);

  // Per settlement, the outbox keeps the events' order.
  auto pending = *database_->outbox().pending(100);
  ASSERT_EQ(pending.size(), 15u);
  for (size_t i = 1; i < pending.size(); ++i)
    EXPECT_LT(pending[i - 1].position, pending[i].position);
  std::vector<Status> of_s0;
  for (const auto& e : pending)
    if (e.settlement_id == s[0].id) of_s0.push_back(e.status);
  EXPECT_EQ(of_s0, (std::vector<Status>{Status::kPending, Status::kInitiated,
                                        Status::kSellerSecuritiesLocked}));
}

// Without Kafka (store/outbox_cap.h): the undelivered events beyond the newest N are dropped,
// lowest positions first, and the audit trail keeps every one.
TEST_F(OutboxTable, TheCapWithoutKafkaKeepsTheNewestAndTheAuditTrailKeepsAll) {
  std::vector<Trade> trades;
  for (int i = 0; i < 7; ++i) trades.push_back(trade("trd_" + std::to_string(i)));
  ASSERT_TRUE(repo().intake(trades, at(0), kDeadline).ok());
  store::OutboxRepository& outbox = database_->outbox();
  auto all = *outbox.pending(10);
  ASSERT_EQ(all.size(), 7u);
  store::OutboxCapOptions o;
  o.max_rows = 3;
  store::OutboxCap cap(outbox, o);
  auto dropped = cap.runOnce();
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  EXPECT_EQ(*dropped, 4);
  auto kept = *outbox.pending(10);
  ASSERT_EQ(kept.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(kept[i].position, all[4 + i].position);
  EXPECT_EQ(count(pool(), "SELECT count(*) FROM settlement_events"), 7);
  EXPECT_EQ(*cap.runOnce(), 0) << "within the cap: nothing more";
  EXPECT_NE(cap.describe().find("4 dropped"), std::string::npos) << cap.describe();
  o.max_rows = 0;
  store::OutboxCap none(outbox, o);
  EXPECT_EQ(*none.runOnce(), 3);
  EXPECT_EQ(*outbox.backlog(), 0);
}

TEST_F(OutboxTable, MarkPublishedDeletesOnlyThoseAndLeavesTheAuditTrailAlone) {
  std::vector<Trade> trades;
  for (int i = 0; i < 5; ++i) trades.push_back(trade("trd_" + std::to_string(i)));
  ASSERT_TRUE(repo().intake(trades, at(0), kDeadline).ok());
  store::OutboxRepository& outbox = database_->outbox();
  auto all = *outbox.pending(10);
  ASSERT_EQ(all.size(), 5u);

  // Out of order and with gaps, as the relay does when an earlier event of a settlement failed.
  std::vector<int64_t> done = {all[3].position, all[1].position, 999999};
  ASSERT_TRUE(outbox.markPublished(done, at(1)).ok());
  ASSERT_TRUE(outbox.markPublished(done, at(2)).ok());  // idempotent
  EXPECT_EQ(*outbox.backlog(), 3);
  auto rest = *outbox.pending(10);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].position, all[0].position);
  EXPECT_EQ(rest[1].position, all[2].position);
  EXPECT_EQ(rest[2].position, all[4].position);
  EXPECT_EQ(rest[1].id, all[2].id);
  EXPECT_EQ(rest[1].details, all[2].details);
  EXPECT_EQ(outbox.pending(1)->at(0).position, all[0].position);

  // The audit trail is untouched: every event still there, none updated (xmin of its insert).
  EXPECT_EQ(count(pool(), "SELECT count(*) FROM settlement_events"), 5);
  EXPECT_EQ(count(pool(), "SELECT count(*) FROM settlement_events WHERE published_at IS NOT NULL"),
            0);
  EXPECT_EQ(count(pool(), "SELECT count(DISTINCT xmin::text) FROM settlement_events"), 1);
  auto events = repo().events(all[1].settlement_id);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->at(0).position, all[1].position);

  std::vector<int64_t> rest_positions;
  for (const auto& e : rest) rest_positions.push_back(e.position);
  ASSERT_TRUE(outbox.markPublished(rest_positions, at(3)).ok());
  EXPECT_EQ(*outbox.backlog(), 0);
  EXPECT_TRUE(outbox.pending(10)->empty());
}

class OutboxMigration : public PgDbTest {};

TEST_F(OutboxMigration, BackfillsTheUnpublishedEventsInPositionOrder) {
  std::vector<EmbeddedMigration> before;
  for (const auto& m : embeddedMigrations())
    if (m.name < "0004") before.push_back(m);
  ASSERT_EQ(before.size(), 3u);
  {
    pg::ConnectionPool pool(db_.conninfo(), 1);
    ASSERT_TRUE(migrate(pool, before).ok());
    auto l = pool.lease();
    ASSERT_TRUE(l.ok());
    for (const char* sql :
         {"INSERT INTO accounts (account_id, canton_party) VALUES ('b', 'p::b'), ('s', 'p::s')",
          R"sql(
INSERT INTO settlements (id, trade_id, buyer_account_id, seller_account_id, symbol, quantity,
                         amount, executed_at, settlement_date, deadline_at)
SELECT ('00000000-0000-7000-8000-00000000000' || i)::uuid, 'trd_' || i, 'b', 's', 'X', 1, 1,
       now(), current_date, now()
FROM generate_series(1, 3) i)sql",
          // 9 events of 3 settlements; n = 0, 1, 4, 7 were already published.
          R"sql(
INSERT INTO settlement_events (id, settlement_id, event_type, details, created_at, published_at)
SELECT ('00000000-0000-7000-9000-0000000000' || lpad(n::text, 2, '0'))::uuid,
       ('00000000-0000-7000-8000-00000000000' || (1 + n % 3))::uuid,
       (ARRAY['pending', 'initiated', 'seller_securities_locked'])[1 + n / 3]::settlement_status,
       jsonb_build_object('n', n), '2024-11-17 16:00:00+00'::timestamptz + n * interval '1 s',
       CASE WHEN n IN (0, 1, 4, 7) THEN now() END
FROM generate_series(0, 8) n ORDER BY n)sql"}) {
      auto r = (*l)->exec(sql);
      ASSERT_TRUE(r.ok()) << r.error().message;
    }
  }
  auto d = Database::open(db_.conninfo(), 2);
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto& pool = (*d)->pool();
  // The 5 unpublished events (n = 2, 3, 5, 6, 8), identical to their audit rows.
  EXPECT_EQ(count(pool, "SELECT count(*) FROM settlement_outbox"), 5);
  EXPECT_EQ(count(pool,
                  "SELECT count(*) FROM settlement_outbox o JOIN settlement_events e"
                  " USING (position) WHERE e.published_at IS NULL AND e.id = o.id"
                  " AND e.settlement_id = o.settlement_id AND e.event_type = o.event_type"
                  " AND e.details = o.details AND e.created_at = o.created_at"),
            5);
  EXPECT_EQ(count(pool,
                  "SELECT count(*) FROM pg_indexes"
                  " WHERE indexname = 'settlement_events_unpublished_idx'"),
            0);
  auto pending = (*d)->outbox().pending(10);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  std::vector<std::string> ns;
  for (const auto& e : *pending) {
    auto n = e.details.find("\"n\": ");
    ASSERT_NE(n, std::string::npos) << e.details;
    ns.push_back(e.details.substr(n + 5, e.details.size() - n - 6));
  }
  EXPECT_EQ(ns, (std::vector<std::string>{"2", "3", "5", "6", "8"}));
  EXPECT_EQ(*(*d)->outbox().backlog(), 5);
}

}  // namespace
}  // namespace sc::test

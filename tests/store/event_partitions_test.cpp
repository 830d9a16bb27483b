// settlement_events partitioned by month (migration 0010) and its maintenance
// (store/event_partitions.h): the migration keeps every row, id and position, each in its month;
// partitions are created ahead of the clock; retention drops a month only once nothing needs it
// (an active settlement, the outbox, the reconciler) and never a settlements row.
#include "store/event_partitions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/errors.h"
#include "store/migrations.h"
#include "store/pool.h"
#include "store_fixture.h"
#include "tests/support/fake_clock.h"

namespace sc::test {
namespace {

using namespace sc::store;

std::string one(pg::ConnectionPool& pool, const std::string& sql) {
  auto l = pool.lease();
  EXPECT_TRUE(l.ok());
  if (!l.ok()) return "";
  auto r = (*l)->exec(sql);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\n" << sql;
  return r.ok() && r->size() > 0 ? std::string(r->text(0, 0)) : "";
}

void run(pg::ConnectionPool& pool, const std::string& sql) {
  auto l = pool.lease();
  ASSERT_TRUE(l.ok());
  auto r = (*l)->exec(sql);
  ASSERT_TRUE(r.ok()) << r.error().message << "\n" << sql;
}

// Where each event is, "position:partition" in position order.
std::string placement(pg::ConnectionPool& pool) {
  return one(pool,
             "SELECT string_agg(position || ':' || tableoid::regclass::text, ' ' ORDER BY position)"
             " FROM settlement_events");
}

class EventPartitionsMigration : public PgDbTest {};

TEST_F(EventPartitionsMigration, KeepsEveryRowItsIdAndPositionEachInItsMonth) {
  std::vector<EmbeddedMigration> before;
  for (const auto& m : embeddedMigrations())
    if (m.name < "0010") before.push_back(m);
  ASSERT_EQ(before.size(), 9u);
  std::string ids_before;
  {
    pg::ConnectionPool pool(db_.conninfo(), 1);
    ASSERT_TRUE(migrate(pool, before).ok());
    run(pool,
        "INSERT INTO accounts (account_id, canton_party) VALUES ('b', 'p::b'), ('s', 'p::s')");
    run(pool, R"sql(
INSERT INTO settlements (id, trade_id, buyer_account_id, seller_account_id, symbol, quantity,
                         amount, executed_at, settlement_date, deadline_at)
SELECT ('00000000-0000-7000-8000-00000000000' || i)::uuid, 'trd_' || i, 'b', 's', 'X', 1, 1,
       now(), current_date, now()
FROM generate_series(1, 2) i)sql");
    // Six events over three months; the one at 23:30 UTC on 31 October is October's (it is
    // November in Berlin: months are UTC whatever the session's time zone).
    run(pool, "SET TIME ZONE 'Europe/Berlin'");  // one connection: this session
    run(pool, R"sql(
INSERT INTO settlement_events (id, settlement_id, event_type, details, created_at)
SELECT gen_random_uuid(), ('00000000-0000-7000-8000-00000000000' || (1 + n % 2))::uuid,
       'pending', jsonb_build_object('n', n),
       (ARRAY['2026-09-15 12:00+00', '2026-10-31 23:30+00', '2026-12-01 00:10+00'])[1 + n / 2]
         ::timestamptz
FROM generate_series(0, 5) n ORDER BY n)sql");
    run(pool,
        "INSERT INTO settlement_outbox (position, id, settlement_id, event_type, details,"
        " created_at) SELECT position, id, settlement_id, event_type, details, created_at"
        " FROM settlement_events WHERE position > 4");
    ids_before = one(pool,
                     "SELECT string_agg(position || '=' || id, ' ' ORDER BY position)"
                     " FROM settlement_events");
    // 0010 on this very session, still in Europe/Berlin: its months must be UTC's anyway.
    ASSERT_EQ(one(pool, "SHOW TimeZone"), "Europe/Berlin");
    auto migrated = migrate(pool, embeddedMigrations());
    ASSERT_TRUE(migrated.ok()) << migrated.error().message;
  }
  auto d = Database::open(db_.conninfo(), 2);
  ASSERT_TRUE(d.ok()) << d.error().message;
  auto& pool = (*d)->pool();
  EXPECT_EQ(one(pool,
                "SELECT string_agg(position || '=' || id, ' ' ORDER BY position)"
                " FROM settlement_events"),
            ids_before);
  EXPECT_EQ(placement(pool),
            "1:settlement_events_y2026m09 2:settlement_events_y2026m09 "
            "3:settlement_events_y2026m10 4:settlement_events_y2026m10 "
            "5:settlement_events_y2026m12 6:settlement_events_y2026m12");
  EXPECT_EQ(one(pool, "SELECT relkind FROM pg_class WHERE relname = 'settlement_events'"), "p");
  EXPECT_EQ(one(pool, "SELECT count(*) FROM pg_class WHERE relname = 'settlement_events_0009'"),
            "0");
  // The outbox still names its events by position, and the next event continues the sequence.
  EXPECT_EQ(one(pool,
                "SELECT count(*) FROM settlement_outbox o JOIN settlement_events e USING"
                " (position) WHERE e.id = o.id"),
            "2");
  EXPECT_EQ(one(pool,
                "INSERT INTO settlement_events (id, settlement_id, event_type, details, created_at)"
                " VALUES (gen_random_uuid(), '00000000-0000-7000-8000-000000000001', 'initiated',"
                " '{}', '2026-12-02 10:00+00') RETURNING position || ':' || tableoid::regclass"),
            "7:settlement_events_y2026m12");
  auto events =
      (*d)->settlements().events(*Uuid::parseCanonical("00000000-0000-7000-8000-000000000001"));
  ASSERT_TRUE(events.ok()) << events.error().message;
  std::vector<int64_t> positions;
  for (const auto& e : *events) positions.push_back(e.position);
  EXPECT_EQ(positions, (std::vector<int64_t>{1, 3, 5, 7}));
}

class EventPartitionsTest : public StoreTest {
 protected:
  pg::ConnectionPool& pool() { return database_->pool(); }
  EventPartitionsOptions options(int retention) {
    EventPartitionsOptions o;
    o.retention_months = retention;
    return o;
  }
};

TEST_F(EventPartitionsTest, PartitionsAreCreatedAheadAndRetentionDropsOnlyWhatNothingNeeds) {
  FakeClock clock(kT0);  // 17 November 2024
  EventPartitions ahead(pool(), clock, options(0));
  auto first = ahead.runOnce();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->created, 3) << "November 2024 and the next two months";
  auto again = ahead.runOnce();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->created, 0);
  EXPECT_TRUE(again->dropped.empty()) << "retention 0 keeps every month";

  std::vector<Settlement> s = seed(3);
  EXPECT_EQ(one(pool(),
                "SELECT string_agg(DISTINCT tableoid::regclass::text, ' ')"
                " FROM settlement_events"),
            "settlement_events_y2024m11");

  // Two months later, with one month of retention: November may go once nothing needs it.
  clock.set(kT0 + std::chrono::days(60));  // 16 January 2025
  EventPartitions retention(pool(), clock, options(1));
  auto kept = retention.runOnce();
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_TRUE(kept->dropped.empty()) << "its settlements are active";
  run(pool(), "UPDATE settlements SET status = 'failed'");
  kept = retention.runOnce();
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->dropped.empty()) << "its events are still in the outbox";
  run(pool(), "DELETE FROM settlement_outbox");
  // The reconciler has run (on some instance: reconciliation_state is shared), so what it has
  // not compared stays, whatever this instance's REC_ENABLED.
  run(pool(), "UPDATE reconciliation_state SET passes = 1");
  EventPartitions with_reconciler(pool(), clock, options(1));
  kept = with_reconciler.runOnce();
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->dropped.empty()) << "the reconciler has not compared them";
  run(pool(),
      "UPDATE reconciliation_state SET watermark = (SELECT max(position) FROM"
      " settlement_events)");
  auto dropped = with_reconciler.runOnce();
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  // November only: December ended after the first of (January - 1 month).
  EXPECT_EQ(dropped->dropped, (std::vector<std::string>{"settlement_events_y2024m11"}));
  EXPECT_EQ(with_reconciler.metrics().dropped.value(), 1u);
  EXPECT_EQ(one(pool(), "SELECT count(*) FROM settlement_events"), "0");
  // The settlements stay, and so does their intake idempotency.
  EXPECT_EQ(one(pool(), "SELECT count(*) FROM settlements"), "3");
  EXPECT_EQ(one(pool(), "SELECT count(*) FROM settlements WHERE history_dropped_at IS NOT NULL"),
            "3");
  {
    // A failed one whose history is gone can no longer be made active (an operator's retry).
    auto l = pool().lease();
    ASSERT_TRUE(l.ok());
    auto retried = (*l)->exec("UPDATE settlements SET status = 'pending' WHERE id = '" +
                              s[0].id.canonical() + "'");
    ASSERT_FALSE(retried.ok());
    EXPECT_EQ(retried.error().code, kHistoryDropped) << retried.error().message;
  }
  auto found = repo().find(s[0].id);
  ASSERT_TRUE(found.ok() && *found);
  auto events = repo().events(s[0].id);
  ASSERT_TRUE(events.ok()) << events.error().message;
  EXPECT_TRUE(events->empty());
  // January's partition exists (created ahead in November): new events land in it.
  auto in = repo().intake(std::vector<Trade>{trade("trd_january")}, clock.now(), kDeadline);
  ASSERT_TRUE(in.ok()) << in.error().message;
  EXPECT_EQ(one(pool(),
                "SELECT string_agg(DISTINCT tableoid::regclass::text, ' ')"
                " FROM settlement_events"),
            "settlement_events_y2025m01");
  auto later = with_reconciler.runOnce();
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->dropped.empty()) << "January is within the retention";
}


// A settlement whose events span two months keeps its whole history or none of it: the first
// month waits until the second may go too.
TEST_F(EventPartitionsTest, ASettlementSpanningTwoMonthsKeepsItsWholeHistoryOrNone) {
  FakeClock clock(kT0);  // 17 November 2024
  EventPartitions maintenance(pool(), clock, options(0));
  ASSERT_TRUE(maintenance.runOnce().ok());
  std::vector<Settlement> s = seed(1);
  run(pool(), "DELETE FROM settlement_outbox");
  // Settled on 2 December: its last event is December's.
  run(pool(),
      "UPDATE settlements SET status = 'settled', updated_at = '2024-12-02 10:00+00'");
  run(pool(),
      "INSERT INTO settlement_events (id, settlement_id, event_type, details, created_at)"
      " SELECT gen_random_uuid(), id, 'settled', '{}', '2024-12-02 10:00+00' FROM settlements");
  // 10 January 2025, one month of retention: November may go, December not yet; November alone
  // would cut the settlement's history in two.
  clock.set(kT0 + std::chrono::days(54));
  EventPartitions retention(pool(), clock, options(1));
  auto kept = retention.runOnce();
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_TRUE(kept->dropped.empty()) << "November alone would leave half a history";
  EXPECT_EQ(one(pool(), "SELECT count(*) FROM settlements WHERE history_dropped_at IS NOT NULL"),
            "0");
  // A month later December may go too: both go together.
  clock.set(kT0 + std::chrono::days(85));  // 10 February 2025
  auto both = retention.runOnce();
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_EQ(both->dropped, (std::vector<std::string>{"settlement_events_y2024m11",
                                                      "settlement_events_y2024m12"}));
  auto events = repo().events(s[0].id);
  ASSERT_TRUE(events.ok()) << events.error().message;
  EXPECT_TRUE(events->empty());
}

}  // namespace
}  // namespace sc::test

// settlement_events partitioned by month (migration 0010) and its maintenance
// (store/event_partitions.h): the migration keeps every row, id and position, each in its month;
// partitions are created ahead of the clock; retention drops a month only once nothing needs it
// (an active settlement, the outbox, the reconciler) and never a settlements row.
#include "store/event_partitions.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
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
  EventPartitionsOptions options(int retention, bool reconciler_here = false) {
    EventPartitionsOptions o;
    o.retention_months = retention;
    o.reconciler_here = reconciler_here;
    return o;
  }
  // An operator's retry of a FAILED settlement, as Workflow::retry writes it.
  Result<std::vector<bool>> retry(const Settlement& failed) {
    Settlement next = failed;
    next.status = Status::kPending;
    next.round++;
    next.retry_count++;
    StateWrite w{next, Status::kFailed, R"({"retried":true})"};
    return repo().write(std::span<const StateWrite>(&w, 1));
  }
  std::string cut() {
    return one(pool(), "SELECT dropped_before AT TIME ZONE 'UTC' FROM event_retention");
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
  run(pool(), "DELETE FROM settlement_outbox");  // delivered: only their state holds them now
  auto kept = retention.runOnce();
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_TRUE(kept->dropped.empty()) << "its settlements are active";
  run(pool(), "UPDATE settlements SET status = 'failed'");
  run(pool(),
      "INSERT INTO settlement_outbox (position, id, settlement_id, event_type, details,"
      " created_at) SELECT position, id, settlement_id, event_type, details, created_at"
      " FROM settlement_events ORDER BY position DESC LIMIT 1");
  kept = retention.runOnce();
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->dropped.empty()) << "an event of it is still in the outbox";
  run(pool(), "DELETE FROM settlement_outbox");
  // The reconciler runs here but has not yet passed: nothing it will compare may go.
  EventPartitions reconciling_here(pool(), clock, options(1, true));
  kept = reconciling_here.runOnce();
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->dropped.empty()) << "the reconciler here has compared nothing yet";
  // It has run (on some instance: reconciliation_state is shared), so what it has not compared
  // stays, whatever this instance's REC_ENABLED.
  run(pool(), "UPDATE reconciliation_state SET passes = 1");
  kept = retention.runOnce();
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->dropped.empty()) << "the reconciler has not compared them";
  EXPECT_EQ(cut(), "-infinity") << "nothing dropped, nothing cut";
  run(pool(),
      "UPDATE reconciliation_state SET watermark = (SELECT max(position) FROM"
      " settlement_events)");
  auto dropped = retention.runOnce();
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  // November only: December ended after the first of (January - 1 month).
  EXPECT_EQ(dropped->dropped, (std::vector<std::string>{"settlement_events_y2024m11"}));
  EXPECT_EQ(retention.metrics().dropped.value(), 1u);
  EXPECT_EQ(one(pool(), "SELECT count(*) FROM settlement_events"), "0");
  EXPECT_EQ(cut(), "2024-12-01 00:00:00");
  // The settlements stay, and so does their intake idempotency.
  EXPECT_EQ(one(pool(), "SELECT count(*) FROM settlements"), "3");
  auto found = repo().find(s[0].id);
  ASSERT_TRUE(found.ok() && *found);
  // A failed one whose history is gone can no longer be made active (an operator's retry).
  auto retried = retry(**found);
  ASSERT_FALSE(retried.ok()) << "retried a settlement whose history was dropped";
  EXPECT_EQ(retried.error().code, kHistoryDropped) << retried.error().message;
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
  auto later = retention.runOnce();
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->dropped.empty()) << "December ends after the retention's start";
  EXPECT_EQ(cut(), "2024-12-01 00:00:00");
}

// Months are cut whole: a settlement that ran across the end of a month keeps its later events
// once the earlier month is dropped, and, created before the cut, it can no longer be retried.
// One created after the cut still can.
TEST_F(EventPartitionsTest, ASettlementAcrossTheCutKeepsItsLaterEventsAndIsNoLongerRetried) {
  FakeClock clock(kT0);  // 17 November 2024
  EventPartitions maintenance(pool(), clock, options(0));
  ASSERT_TRUE(maintenance.runOnce().ok());
  std::vector<Settlement> s = seed(1);
  run(pool(), "DELETE FROM settlement_outbox");
  // Failed on 2 December: its last event is December's.
  run(pool(), "UPDATE settlements SET status = 'failed', updated_at = '2024-12-02 10:00+00'");
  run(pool(),
      "INSERT INTO settlement_events (id, settlement_id, event_type, details, created_at)"
      " SELECT gen_random_uuid(), id, 'failed', '{}', '2024-12-02 10:00+00' FROM settlements");
  clock.set(kT0 + std::chrono::days(20));  // 7 December: one created after the cut to come
  auto in = repo().intake(std::vector<Trade>{trade("trd_december")}, clock.now(), kDeadline);
  ASSERT_TRUE(in.ok()) << in.error().message;
  run(pool(), "DELETE FROM settlement_outbox");
  run(pool(), "UPDATE settlements SET status = 'failed'");
  // 10 January 2025, one month of retention: November goes, December stays.
  clock.set(kT0 + std::chrono::days(54));
  EventPartitions retention(pool(), clock, options(1));
  auto dropped = retention.runOnce();
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  EXPECT_EQ(dropped->dropped, (std::vector<std::string>{"settlement_events_y2024m11"}));
  EXPECT_EQ(cut(), "2024-12-01 00:00:00");
  auto events = repo().events(s[0].id);
  ASSERT_TRUE(events.ok()) << events.error().message;
  ASSERT_EQ(events->size(), 1u) << "December's event stays";
  EXPECT_EQ((*events)[0].status, Status::kFailed);
  auto across = repo().find(s[0].id);
  ASSERT_TRUE(across.ok() && *across);
  auto refused = retry(**across);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, kHistoryDropped);
  auto december = repo().findByTradeId("trd_december");
  ASSERT_TRUE(december.ok() && *december) << "the settlement created after the cut";
  auto allowed = retry(**december);
  ASSERT_TRUE(allowed.ok()) << allowed.error().message;
  EXPECT_EQ(*allowed, std::vector<bool>{true});
}

// A month whose partition was missing (no instance ran; a clock far off) has its rows in the
// default partition, where a month cannot be dropped whole: retention stops before them, and
// says so, rather than drop the months around them.
TEST_F(EventPartitionsTest, RetentionStopsBeforeRowsInTheDefaultPartition) {
  FakeClock clock(kT0);  // 17 November 2024
  EventPartitions maintenance(pool(), clock, options(0));
  ASSERT_TRUE(maintenance.runOnce().ok());
  std::vector<Settlement> s = seed(1);
  run(pool(), "DELETE FROM settlement_outbox");
  run(pool(), "UPDATE settlements SET status = 'settled'");
  // An event dated October, before any partition: it goes to the default.
  run(pool(),
      "INSERT INTO settlement_events (id, settlement_id, event_type, details, created_at)"
      " SELECT gen_random_uuid(), id, 'settled', '{}', '2024-10-20 10:00+00' FROM settlements");
  clock.set(kT0 + std::chrono::days(120));  // 17 March 2025: November to January may go
  EventPartitions retention(pool(), clock, options(1));
  auto kept = retention.runOnce();
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_TRUE(kept->dropped.empty()) << "October's row lies before every month";
  EXPECT_EQ(kept->in_default, 1);
  EXPECT_EQ(retention.metrics().in_default.value(), 1);
  EXPECT_EQ(cut(), "-infinity");
  // Once it is gone (an operator's decision), the months go.
  run(pool(), "DELETE FROM settlement_events_default");
  auto dropped = retention.runOnce();
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  EXPECT_EQ(dropped->dropped.size(), 3u);
  EXPECT_EQ(cut(), "2025-02-01 00:00:00");
}

// Months go oldest first, up to the first one still needed: a free month after it waits too (the
// cut is one point in time, and everything before it may be gone).
TEST_F(EventPartitionsTest, AMonthStillNeededKeepsEveryMonthAfterIt) {
  FakeClock clock(kT0);  // 17 November 2024: an active settlement
  EventPartitions maintenance(pool(), clock, options(0));
  ASSERT_TRUE(maintenance.runOnce().ok());
  seed(1);
  clock.set(kT0 + std::chrono::days(20));  // 7 December: one that fails
  auto in = repo().intake(std::vector<Trade>{trade("trd_december")}, clock.now(), kDeadline);
  ASSERT_TRUE(in.ok()) << in.error().message;
  run(pool(), "DELETE FROM settlement_outbox");
  run(pool(), "UPDATE settlements SET status = 'failed' WHERE trade_id = 'trd_december'");
  clock.set(kT0 + std::chrono::days(85));  // 10 February 2025: November and December may go
  EventPartitions retention(pool(), clock, options(1));
  auto kept = retention.runOnce();
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_TRUE(kept->dropped.empty()) << "December is free, but November before it is not";
  EXPECT_EQ(cut(), "-infinity");
  run(pool(), "UPDATE settlements SET status = 'settled' WHERE trade_id <> 'trd_december'");
  auto dropped = retention.runOnce();
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  EXPECT_EQ(dropped->dropped,
            (std::vector<std::string>{"settlement_events_y2024m11", "settlement_events_y2024m12"}));
  EXPECT_EQ(cut(), "2025-01-01 00:00:00");
}

// An operator's retry that has made a settlement active, not yet committed, when a pass starts:
// the pass waits for it (the cut's row lock) and then sees the settlement active, so its month
// stays. Without the lock the pass would see it failed, drop its history, and the retry would
// then commit a settlement running without its beginning.
TEST_F(EventPartitionsTest, ARetryInFlightDuringAPassKeepsItsMonth) {
  FakeClock clock(kT0);
  EventPartitions maintenance(pool(), clock, options(0));
  ASSERT_TRUE(maintenance.runOnce().ok());
  std::vector<Settlement> s = seed(1);
  run(pool(), "DELETE FROM settlement_outbox");
  run(pool(), "UPDATE settlements SET status = 'failed'");
  clock.set(kT0 + std::chrono::days(60));  // 16 January 2025: November may go
  pg::ConnectionPool operators(db_.conninfo(), 2);
  auto retry_tx = operators.lease();
  ASSERT_TRUE(retry_tx.ok());
  ASSERT_TRUE((*retry_tx)->exec("BEGIN").ok());
  auto retried = (*retry_tx)->exec("UPDATE settlements SET status = 'pending' WHERE id = '" +
                                   s[0].id.canonical() + "'");
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EventPartitions retention(pool(), clock, options(1));
  auto pass = std::async(std::launch::async, [&] { return retention.runOnce(); });
  // The pass waits on the retry's lock (seen from a third connection), or, without the lock,
  // finishes first.
  auto watcher = operators.lease();
  ASSERT_TRUE(watcher.ok());
  for (int i = 0; i < 500; ++i) {
    if (pass.wait_for(std::chrono::milliseconds(0)) == std::future_status::ready) break;
    auto waiting = (*watcher)->exec(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND query LIKE '%sc_event_partitions_droppable%'");
    ASSERT_TRUE(waiting.ok());
    if (waiting->text(0, 0) == "1") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling interval
  }
  ASSERT_TRUE((*retry_tx)->exec("COMMIT").ok());
  auto kept = pass.get();
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  EXPECT_TRUE(kept->dropped.empty()) << "dropped the history of a settlement being retried";
  EXPECT_EQ(cut(), "-infinity");
  EXPECT_EQ(one(pool(), "SELECT count(*) FROM settlement_events"), "1");
}

}  // namespace
}  // namespace sc::test

// Versioned migrations: idempotent, safe from concurrent processes, checksummed.
#include "store/migrations.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

class Migrations : public PgDbTest {
 protected:
  int64_t recorded(pg::ConnectionPool& pool) {
    auto l = pool.lease();
    auto r = (*l)->exec("SELECT count(*) FROM schema_migrations");
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::stoll(std::string(r->text(0, 0))) : -1;
  }
};

TEST_F(Migrations, SecondRunIsANoOp) {
  pg::ConnectionPool pool(db_.conninfo(), 2);
  auto first = migrate(pool);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, static_cast<int>(embeddedMigrations().size()));
  auto second = migrate(pool);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(*second, 0);
  EXPECT_EQ(recorded(pool), static_cast<int64_t>(embeddedMigrations().size()));
}

TEST_F(Migrations, FourConcurrentStartupsApplyEachMigrationOnce) {
  std::atomic<int> applied{0}, failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      pg::ConnectionPool pool(db_.conninfo(), 1);  // its own connection, like its own process
      auto r = migrate(pool);
      if (r.ok())
        applied += *r;
      else
        failed++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(applied, static_cast<int>(embeddedMigrations().size()));
  pg::ConnectionPool pool(db_.conninfo(), 1);
  EXPECT_EQ(recorded(pool), static_cast<int64_t>(embeddedMigrations().size()));
  EXPECT_TRUE(migrationsApplied(pool).ok());
}

TEST_F(Migrations, ChangedChecksumOfAnAppliedMigrationIsAnErrorNamingIt) {
  pg::ConnectionPool pool(db_.conninfo(), 1);
  ASSERT_TRUE(migrate(pool).ok());
  std::vector<EmbeddedMigration> changed = embeddedMigrations();
  changed[0].sql += "\n-- edited after release\n";
  changed[0].checksum = "0000";
  auto r = migrate(pool, changed);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "migration_checksum_mismatch");
  EXPECT_NE(r.error().message.find(changed[0].name), std::string::npos) << r.error().message;
}

TEST_F(Migrations, NewMigrationIsAppliedAfterTheOnesBefore) {
  pg::ConnectionPool pool(db_.conninfo(), 1);
  ASSERT_TRUE(migrate(pool).ok());
  std::vector<EmbeddedMigration> more = embeddedMigrations();
  more.push_back({"9999_test_extra", "abc", "CREATE TABLE extra (x int);"});
  auto r = migrate(pool, more);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, 1);
  auto l = pool.lease();
  EXPECT_TRUE((*l)->exec("SELECT count(*) FROM extra").ok());
}

// Settlements that exist when migration 0008 adds ledger_offset_floor may have ledger commands
// anywhere in the ledger's history: they get 0 (a lookup from the start), never a later floor
// from their next lease.
TEST_F(Migrations, SettlementsOlderThanTheFloorGetFloorZero) {
  pg::ConnectionPool pool(db_.conninfo(), 1);
  std::vector<EmbeddedMigration> before;
  for (const auto& m : embeddedMigrations())
    if (m.name < "0008") before.push_back(m);
  ASSERT_TRUE(migrate(pool, before).ok());
  {
    auto l = pool.lease();
    ASSERT_TRUE((*l)->script("INSERT INTO accounts (account_id, canton_party) VALUES"
                             " ('acc_b', 'b::1'), ('acc_s', 's::1');"
                             "INSERT INTO settlements (id, trade_id, event_id, buyer_account_id,"
                             " seller_account_id, symbol, quantity, price, amount, allow_partial,"
                             " executed_at, settlement_date, status, created_at, updated_at,"
                             " next_attempt_at, deadline_at) VALUES (gen_random_uuid(), 'trd_old',"
                             " 'evt_old', 'acc_b', 'acc_s', 'AAPL/USDC', 1, 1, 1, false, now(),"
                             " current_date, 'initiated', now(), now(), now(), now())")
                    .ok());
  }  // the pool's one connection is the migration's
  ASSERT_TRUE(migrate(pool).ok());
  auto l = pool.lease();
  auto r = (*l)->exec("SELECT ledger_offset_floor FROM settlements WHERE trade_id = 'trd_old'");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1);
  EXPECT_FALSE(r->isNull(0, 0));
  EXPECT_EQ(r->text(0, 0), "0");
}

TEST_F(Migrations, ReadyOnlyOnceEveryMigrationIsApplied) {
  pg::ConnectionPool pool(db_.conninfo(), 1);
  auto before = migrationsApplied(pool);
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code, "migrations_pending");
  auto db = Database::open(db_.conninfo(), 2);
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_TRUE((*db)->ready().ok());
  EXPECT_TRUE(migrationsApplied(pool).ok());
}

TEST(Database, OpenOnUnreachableServerIsRetryableAndNamesIt) {
  auto db = Database::open("host=127.0.0.1 port=1 dbname=x connect_timeout=2", 2);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, "database_unavailable");
  EXPECT_TRUE(db.error().retryable);
  EXPECT_NE(db.error().message.find("127.0.0.1:1"), std::string::npos);
}

}  // namespace
}  // namespace sc::test

// The libpq layer and the pool: error mapping, pipelines, broken connections.
#include <gtest/gtest.h>

#include "store/pool.h"
#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

TEST(ConnectionPool, ConnectFailureIsRetryableAndNamesHostPort) {
  pg::ConnectionPool pool("host=127.0.0.1 port=1 dbname=x connect_timeout=2", 2);
  auto lease = pool.lease();
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.error().code, "database_unavailable");
  EXPECT_TRUE(lease.error().retryable);
  EXPECT_NE(lease.error().message.find("127.0.0.1:1"), std::string::npos) << lease.error().message;
  EXPECT_EQ(pool.open(), 0);
}

class PgLayer : public PgDbTest {};

TEST_F(PgLayer, SqlErrorsArePermanentWithTheirSqlState) {
  pg::ConnectionPool pool(db_.conninfo(), 2);
  auto lease = pool.lease();
  ASSERT_TRUE(lease.ok()) << lease.error().message;
  auto r = (*lease)->exec("SELECT * FROM no_such_table");
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.error().retryable);
  EXPECT_EQ(r.error().code, "database_error");
  EXPECT_NE(r.error().message.find("42P01"), std::string::npos) << r.error().message;
  // The connection stays usable, and the session runs in UTC.
  auto tz = (*lease)->exec("SHOW TimeZone");
  ASSERT_TRUE(tz.ok());
  EXPECT_EQ(tz->text(0, 0), "UTC");
}

TEST_F(PgLayer, PipelineIsOneTransactionAllOrNothing) {
  pg::ConnectionPool pool(db_.conninfo(), 1);
  auto lease = pool.lease();
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE((*lease)->script("CREATE TABLE t (v int PRIMARY KEY)").ok());
  std::vector<pg::Statement> st = {{"INSERT INTO t VALUES ($1::int)", {"1"}},
                                   {"INSERT INTO t VALUES ($1::int)", {"2"}},
                                   {"INSERT INTO t VALUES ($1::int)", {"1"}},  // duplicate key
                                   {"INSERT INTO t VALUES ($1::int)", {"3"}}};
  auto r = (*lease)->pipeline(st);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("23505"), std::string::npos) << r.error().message;
  auto n = (*lease)->exec("SELECT count(*) FROM t");
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(n->text(0, 0), "0");
  // The statements stay prepared and work afterwards.
  st.erase(st.begin() + 2);
  auto ok = (*lease)->pipeline(st);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ((*lease)->exec("SELECT count(*) FROM t")->text(0, 0), "3");
}

TEST_F(PgLayer, PoolReplacesAConnectionTheServerKilled) {
  pg::ConnectionPool pool(db_.conninfo(), 2);
  std::string pid;
  {
    auto a = pool.lease();
    ASSERT_TRUE(a.ok());
    pid = std::string((*a)->exec("SELECT pg_backend_pid()::text")->text(0, 0));
    auto b = pool.lease();
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE((*b)->exec("SELECT pg_terminate_backend($1::int)", {pid}).ok());
    auto r = (*a)->exec("SELECT 1");
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().retryable);
    EXPECT_EQ(r.error().code, "database_unavailable");
  }
  EXPECT_EQ(pool.open(), 1);  // the broken one was dropped on return
  for (int i = 0; i < 3; ++i) {
    auto c = pool.lease();
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE((*c)->exec("SELECT 1").ok());
  }
}

TEST_F(PgLayer, LeaseReturnedInsideATransactionIsRolledBack) {
  pg::ConnectionPool pool(db_.conninfo(), 1);
  {
    auto a = pool.lease();
    ASSERT_TRUE((*a)->script("CREATE TABLE t (v int)").ok());
    ASSERT_TRUE((*a)->script("BEGIN; INSERT INTO t VALUES (1)").ok());
    EXPECT_TRUE((*a)->inTransaction());
  }
  auto b = pool.lease();
  EXPECT_FALSE((*b)->inTransaction());
  EXPECT_EQ((*b)->exec("SELECT count(*) FROM t")->text(0, 0), "0");
}

TEST_F(PgLayer, ExhaustedPoolAnswersRetryableErrorAfterWaiting) {
  pg::ConnectionPool pool(db_.conninfo(), 1, std::chrono::milliseconds(50));
  auto a = pool.lease();
  ASSERT_TRUE(a.ok());
  auto b = pool.lease();
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code, "database_pool_exhausted");
  EXPECT_TRUE(b.error().retryable);
}

}  // namespace
}  // namespace sc::test

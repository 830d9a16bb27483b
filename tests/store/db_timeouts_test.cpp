// No database call waits forever: the conninfo (app/config) carries TCP keepalives,
// tcp_user_timeout and statement_timeout (DB_STATEMENT_TIMEOUT_MS), and the libpq layer gives up
// on a server that stops answering with a retryable error, dropping the connection.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <map>

#include "app/config.h"
#include "store/migrations.h"
#include "store/pool.h"
#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// ---- configuration -------------------------------------------------------------------------

TEST(DbConfig, StatementTimeoutDefaultsTo30sAndIsValidated) {
  EXPECT_EQ(app::Config::fromEnvironment({}).db_statement_timeout_ms, 30000);
  EXPECT_EQ(
      app::Config::fromEnvironment({{"DB_STATEMENT_TIMEOUT_MS", "1500"}}).db_statement_timeout_ms,
      1500);
  for (const char* bad : {"", "abc", "15s", "0", "99", "-1", "3600001"}) {
    try {
      app::Config::fromEnvironment({{"DB_STATEMENT_TIMEOUT_MS", bad}});
      ADD_FAILURE() << "accepted DB_STATEMENT_TIMEOUT_MS='" << bad << "'";
    } catch (const app::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("DB_STATEMENT_TIMEOUT_MS"), std::string::npos)
          << e.what();
    }
  }
}

TEST(DbConfig, ConnInfoCarriesKeepalivesTcpUserTimeoutAndStatementTimeout) {
  std::string ci =
      app::Config::fromEnvironment({{"DB_STATEMENT_TIMEOUT_MS", "1234"}}).postgresConnInfo();
  for (const char* part :
       {" keepalives=1", " keepalives_idle=10", " keepalives_interval=5", " keepalives_count=3",
        " tcp_user_timeout=30000", " options='-c statement_timeout=1234'", " connect_timeout=5"})
    EXPECT_NE(ci.find(part), std::string::npos) << part << " missing from " << ci;
}

// ---- against the server ----------------------------------------------------------------------

class DbTimeouts : public PgDbTest {
 protected:
  // The application's conninfo for the test database.
  std::string appConnInfo(int statement_timeout_ms) {
    std::map<std::string, std::string> env;
    for (const char* k : {"DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD"})
      if (const char* v = std::getenv(k); v && *v) env[k] = v;
    env["DB_NAME"] = db_.name();
    env["DB_STATEMENT_TIMEOUT_MS"] = std::to_string(statement_timeout_ms);
    return app::Config::fromEnvironment(env).postgresConnInfo();
  }
  static int backendPid(pg::Connection& c) {
    auto r = c.exec("SELECT pg_backend_pid()::text");
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::atoi(std::string(r->text(0, 0)).c_str()) : 0;
  }
  // Freezes a server process (its kernel still acknowledges TCP, so only a timeout notices).
  static bool freeze(int pid) { return pid > 0 && kill(pid, SIGSTOP) == 0; }
  static void thaw(int pid) { kill(pid, SIGCONT); }
};

TEST_F(DbTimeouts, SessionsOpenedWithTheAppConnInfoHaveTheStatementTimeout) {
  pg::ConnectionPool pool(appConnInfo(1000), 1);
  auto c = pool.lease();
  ASSERT_TRUE(c.ok()) << c.error().message;  // libpq accepts every keyword
  EXPECT_EQ((*c)->exec("SHOW statement_timeout")->text(0, 0), "1s");
  EXPECT_EQ((*c)->ioTimeout(), milliseconds(1000) + pg::kIoTimeoutGrace);

  auto start = steady_clock::now();
  auto slow = (*c)->exec("SELECT pg_sleep(10)");
  ASSERT_FALSE(slow.ok());
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(slow.error().code, "database_timeout");
  EXPECT_TRUE(slow.error().retryable);
  EXPECT_NE(slow.error().message.find("57014"), std::string::npos) << slow.error().message;
  // A cancelled statement leaves the connection usable.
  EXPECT_FALSE((*c)->broken());
  EXPECT_TRUE((*c)->exec("SELECT 1").ok());
}

TEST_F(DbTimeouts, WithoutAStatementTimeoutRepliesAreStillAwaitedOnlySoLong) {
  pg::ConnectionPool pool(db_.conninfo(), 1);
  auto c = pool.lease();
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ((*c)->ioTimeout(), pg::kDefaultIoTimeout);
}

TEST_F(DbTimeouts, AServerThatStopsAnsweringIsARetryableErrorAndTheConnectionIsDropped) {
  pg::ConnectionPool pool(db_.conninfo(), 2);
  {
    auto a = pool.lease();
    auto b = pool.lease();
    ASSERT_TRUE(a.ok() && b.ok());
    int pid_a = backendPid(**a), pid_b = backendPid(**b);
    (*a)->setIoTimeout(milliseconds(300));
    (*b)->setIoTimeout(milliseconds(300));
    if (!freeze(pid_a)) GTEST_SKIP() << "cannot stop the server process " << pid_a;
    if (!freeze(pid_b)) {
      thaw(pid_a);
      GTEST_SKIP() << "cannot stop the server process " << pid_b;
    }
    auto start = steady_clock::now();
    auto r = (*a)->exec("SELECT 1");                   // extended protocol, pipelined
    auto s = (*b)->script("BEGIN; SELECT 1; COMMIT");  // simple protocol
    auto took = steady_clock::now() - start;
    thaw(pid_a);
    thaw(pid_b);

    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "database_unavailable");
    EXPECT_TRUE(r.error().retryable);
    EXPECT_NE(r.error().message.find("no reply"), std::string::npos) << r.error().message;
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, "database_unavailable");
    EXPECT_TRUE(s.error().retryable);
    EXPECT_LT(took, std::chrono::seconds(3));
    EXPECT_TRUE((*a)->broken());
    EXPECT_TRUE((*b)->broken());
    // Once timed out, a connection answers at once and is never used again.
    auto again = (*a)->exec("SELECT 1");
    ASSERT_FALSE(again.ok());
    EXPECT_TRUE(again.error().retryable);
  }
  EXPECT_EQ(pool.open(), 0);  // both dropped on return
  auto fresh = pool.lease();
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  EXPECT_TRUE((*fresh)->exec("SELECT 1").ok());
}

TEST_F(DbTimeouts, MigrationsRunWithoutTheStatementTimeout) {
  pg::ConnectionPool pool(appConnInfo(200), 1);
  std::vector<EmbeddedMigration> slow = {
      {"0001_slow", "x", "SELECT pg_sleep(0.5); CREATE TABLE slow (x int);"}};
  auto r = migrate(pool, slow);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, 1);
  // Lifted for the migration's transaction only.
  auto c = pool.lease();
  EXPECT_EQ((*c)->exec("SHOW statement_timeout")->text(0, 0), "200ms");
  EXPECT_EQ((*c)->ioTimeout(), milliseconds(200) + pg::kIoTimeoutGrace);
  EXPECT_FALSE((*c)->exec("SELECT pg_sleep(0.5)").ok());
}

}  // namespace
}  // namespace sc::test

// DatabaseClock (src/store/database_clock.*): an instance whose own clock is minutes off still
// tells the database's time, so its deadlines, retry times and event times agree with every other
// instance's.
#include "store/database_clock.h"

#include <gtest/gtest.h>

#include <chrono>

#include "store/pool.h"
#include "tests/support/pg_test_db.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

// This host's clock shifted by a fixed amount, as a host whose clock is wrong.
class ShiftedClock final : public Clock {
 public:
  explicit ShiftedClock(Duration shift) : shift_(shift) {}
  Timestamp now() const override { return SystemClock().now() + shift_; }

 private:
  Duration shift_;
};

Duration distance(Timestamp a, Timestamp b) { return a > b ? a - b : b - a; }

class DatabaseClockTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.create()) << db_.error(); }
  PgTestDb db_;
};

TEST_F(DatabaseClockTest, AHostMinutesAheadOrBehindTellsTheDatabasesTime) {
  store::pg::ConnectionPool pool(db_.conninfo(), 2);
  for (Duration shift : {Duration(7min), -Duration(7min), Duration(0)}) {
    ShiftedClock local(shift);
    store::DatabaseClock clock(pool, local);
    ASSERT_TRUE(clock.sync().ok());
    // The test's PostgreSQL runs on this machine: its clock is the system clock.
    EXPECT_LT(distance(clock.now(), SystemClock().now()), Duration(250ms)) << "shift " << shift;
    EXPECT_LT(distance(Timestamp(clock.offset()), Timestamp(-shift)), Duration(250ms));
  }
}

TEST_F(DatabaseClockTest, TheLastOffsetStaysWhileTheDatabaseIsUnreachable) {
  store::pg::ConnectionPool pool("host=127.0.0.1 port=1 dbname=none connect_timeout=1", 1);
  ShiftedClock local(Duration(3min));
  store::DatabaseClock clock(pool, local);
  EXPECT_FALSE(clock.sync().ok());
  EXPECT_EQ(clock.offset(), Duration(0));  // nothing measured: this host's clock
  EXPECT_LT(distance(clock.now(), local.now()), Duration(250ms));
}

}  // namespace
}  // namespace sc::test

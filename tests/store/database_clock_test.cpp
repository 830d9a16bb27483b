// DatabaseClock (src/store/database_clock.*): an instance whose own clock is minutes off still
// tells the database's time, so its deadlines, retry times and event times agree with every other
// instance's.
#include "store/database_clock.h"

#include <gtest/gtest.h>

#include <chrono>

#include "store/pool.h"
#include "tests/support/fake_clock.h"
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

// This host's clock, stepped when the test says (an NTP step, a VM resumed).
class SteppedClock final : public Clock {
 public:
  Timestamp now() const override { return SystemClock().now() + Duration(step_us_.load()); }
  void step(Duration d) { step_us_ += d.count(); }

 private:
  std::atomic<int64_t> step_us_{0};
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

// A step of this host's wall clock between two samples moves nothing: the time elapsed since the
// last sample is read from the steady clock.
TEST_F(DatabaseClockTest, AStepOfThisHostsClockDoesNotMoveTheDatabasesTime) {
  store::pg::ConnectionPool pool(db_.conninfo(), 1);
  SteppedClock local;
  store::DatabaseClock clock(pool, local);
  ASSERT_TRUE(clock.sync().ok());
  for (Duration step : {Duration(1h), -Duration(3h)}) {
    local.step(step);
    EXPECT_LT(distance(clock.now(), SystemClock().now()), Duration(250ms)) << "step " << step;
  }
  // A new sample sees the skew (the gauge and the warning), and the time is still the database's.
  ASSERT_TRUE(clock.sync().ok());
  EXPECT_LT(distance(Timestamp(clock.offset()), Timestamp(Duration(2h))), Duration(250ms));
  EXPECT_LT(distance(clock.now(), SystemClock().now()), Duration(250ms));
}

// A sample behind the time already told (here: the steady clock ran 10 s ahead of the database's
// between two samples) holds now() where it was until the database's time catches up; it never
// goes backwards.
TEST_F(DatabaseClockTest, NowNeverGoesBackwardsAcrossSamples) {
  store::pg::ConnectionPool pool(db_.conninfo(), 1);
  SystemClock wall;
  FakeElapsed steady;
  store::DatabaseClock clock(pool, wall, steady);
  ASSERT_TRUE(clock.sync().ok());
  const Timestamp first = clock.now();
  EXPECT_EQ(clock.now(), first);  // the steady clock did not move
  steady.advance(10s);
  const Timestamp ahead = clock.now();
  EXPECT_EQ(ahead - first, Duration(10s));
  ASSERT_TRUE(clock.sync().ok());  // the database's time is ~10 s behind `ahead`
  EXPECT_EQ(clock.now(), ahead);
  steady.advance(5s);
  EXPECT_EQ(clock.now(), ahead);  // still behind: held
  steady.advance(6s);
  EXPECT_GT(clock.now(), ahead);  // caught up (~1 s past)
  EXPECT_LT(clock.now() - ahead, Duration(2s));
}

}  // namespace
}  // namespace sc::test

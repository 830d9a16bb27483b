#pragma once
// Fixtures for the store tests: a fresh database per test (tests/support/pg_test_db.h), opened
// through the Database facade, and builders for trades with exact, microsecond timestamps.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "store/database.h"
#include "tests/support/pg_test_db.h"

namespace sc::test {

using namespace sc::store;

// A fresh empty database (nothing migrated).
class PgDbTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.create()) << db_.error(); }
  sc::test::PgTestDb db_;
};

// A fresh database, migrated, with the repositories.
class StoreTest : public PgDbTest {
 protected:
  void SetUp() override;
  void TearDown() override { database_.reset(); }

  store::SettlementRepository& repo() { return database_->settlements(); }
  void addAccount(const std::string& id, bool active = true);
  // A valid trade between two accounts; `n` varies the amounts.
  static Trade trade(const std::string& trade_id, const std::string& buyer = "acc_buyer",
                     const std::string& seller = "acc_seller", int n = 1);
  // Intakes and expects creation; returns the settlement.
  Settlement create(const Trade& t, Timestamp now);
  // Intakes trd_0 … trd_<n-1> at kT0 (expecting success); returns the settlements in that order.
  std::vector<Settlement> seed(int n);
  // Ends every live lease now, as the database's clock passing lease_until would (leases are
  // timed by PostgreSQL's clock, which a test cannot move). `tokens` empty: all leases.
  void expireLeases(const std::vector<Uuid>& tokens = {});

  static Timestamp at(int seconds, int micros = 0) {
    return kT0 + std::chrono::seconds(seconds) + std::chrono::microseconds(micros);
  }
  static inline const Timestamp kT0 = startOf(Date{std::chrono::year{2024} / 11 / 17}) +
                                      std::chrono::hours(16) + std::chrono::microseconds(123456);
  static constexpr Duration kDeadline = std::chrono::minutes(5);

  std::unique_ptr<Database> database_;
};

}  // namespace sc::test

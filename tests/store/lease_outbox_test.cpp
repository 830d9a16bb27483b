// leaseDue() (SKIP LOCKED, expiry, cleared by write) and the outbox.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

class Leases : public StoreTest {
 protected:
  static constexpr Duration kLease = std::chrono::seconds(30);
};

TEST_F(Leases, TwoWorkersLeaseDisjointSets) {
  seed(100);
  std::vector<Settlement> a, b;
  std::thread ta([&] { a = *repo().leaseDue(at(1), 60, kLease, 0); });
  std::thread tb([&] { b = *repo().leaseDue(at(1), 60, kLease, 0); });
  ta.join();
  tb.join();
  std::set<Uuid> ids;
  for (auto& s : a) ids.insert(s.id);
  for (auto& s : b) EXPECT_TRUE(ids.insert(s.id).second) << "leased twice: " << s.settlementId();
  EXPECT_EQ(ids.size(), 100u);
  EXPECT_EQ(a.size() + b.size(), 100u);
  EXPECT_TRUE(repo().leaseDue(at(2), 60, kLease, 0)->empty());
}

TEST_F(Leases, RowsLockedByAnotherTransactionAreSkippedNotWaitedFor) {
  seed(20);
  pg::ConnectionPool other(db_.conninfo(), 1);
  auto c = other.lease();
  ASSERT_TRUE((*c)->script("BEGIN").ok());
  auto locked =
      (*c)->exec("SELECT id FROM settlements ORDER BY next_attempt_at, id LIMIT 5 FOR UPDATE");
  ASSERT_TRUE(locked.ok());
  auto got = repo().leaseDue(at(1), 100, kLease, 0);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->size(), 15u);
  ASSERT_TRUE((*c)->script("COMMIT").ok());
  EXPECT_EQ(repo().leaseDue(at(1), 100, kLease, 0)->size(), 5u);
}

TEST_F(Leases, ExpiredLeaseIsTakenAgain) {
  seed(3);
  EXPECT_EQ(repo().leaseDue(at(1), 10, kLease, 0)->size(), 3u);
  EXPECT_EQ(repo().leaseDue(at(20), 10, kLease, 0)->size(), 0u);
  expireLeases();  // the lease ends by the database's clock
  EXPECT_EQ(repo().leaseDue(at(32), 10, kLease, 0)->size(), 3u);
}

// The ledger offset passed to the first lease of a row is its floor for good: later leases (a
// takeover after a kill, a retry) keep it, and every read returns it.
TEST_F(Leases, TheFirstLeaseRecordsTheLedgerFloorAndLaterLeasesKeepIt) {
  seed(3);
  auto first = *repo().leaseDue(at(1), 2, kLease, 700);
  ASSERT_EQ(first.size(), 2u);
  for (const auto& s : first) EXPECT_EQ(s.ledger_offset_floor, 700);
  expireLeases();
  auto again = *repo().leaseDue(at(32), 10, kLease, 900);
  ASSERT_EQ(again.size(), 3u);
  for (const auto& s : again) {
    const bool leased_before = s.id == first[0].id || s.id == first[1].id;
    EXPECT_EQ(s.ledger_offset_floor, leased_before ? 700 : 900) << s.settlementId();
    EXPECT_EQ(repo().find(s.id)->value().ledger_offset_floor, s.ledger_offset_floor);
  }
}

// Leases are timed by the database's clock (DESIGN §8): two instances whose clocks disagree by
// minutes still never hold one settlement at once.
TEST_F(Leases, AnInstanceWhoseClockRunsAheadCannotTakeALiveLease) {
  seed(5);
  auto a = *repo().leaseDue(at(1), 10, kLease, 0);  // instance A
  ASSERT_EQ(a.size(), 5u);
  // Instance B's clock is 10 minutes ahead of A's: by B's clock every lease of A ended long ago.
  auto b = *repo().leaseDue(at(1) + std::chrono::minutes(10), 10, kLease, 0);
  EXPECT_TRUE(b.empty()) << b.size() << " settlements leased by both instances";
}

TEST_F(Leases, ALeaseLastsItsDurationOfDatabaseTimeWhateverTheCallersClock) {
  seed(2);
  // The callers' clocks are two years behind the database's (kT0 is in 2024) and 10 minutes apart.
  ASSERT_EQ(repo().leaseDue(at(1), 1, kLease, 0)->size(), 1u);
  ASSERT_EQ(repo().leaseDue(at(1) + std::chrono::minutes(10), 1, kLease, 0)->size(), 1u);
  pg::ConnectionPool other(db_.conninfo(), 1);
  auto c = other.lease();
  auto r = (*c)->exec(
      "SELECT min(extract(epoch FROM lease_until - clock_timestamp())),"
      " max(extract(epoch FROM lease_until - clock_timestamp())) FROM settlements");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const double lo = std::stod(std::string(r->text(0, 0))),
               hi = std::stod(std::string(r->text(0, 1)));
  EXPECT_GT(lo, 25.0) << "a lease shortened by the caller's clock";
  EXPECT_LE(hi, 30.0) << "a lease stretched by the caller's clock";
}

TEST_F(Leases, OnlyDueActiveSettlementsAreLeasedOldestDueFirst) {
  auto s = seed(4);
  auto set = [&](Settlement n, Status from, Status to, Timestamp next) {
    n.status = to;
    n.next_attempt_at = next;
    store::StateWrite w{n, from, "{}"};
    ASSERT_EQ(*repo().write(std::span<const store::StateWrite>(&w, 1)), std::vector<bool>{true});
  };
  set(s[0], Status::kPending, Status::kFailed, at(0));     // finished: never leased
  set(s[1], Status::kPending, Status::kPending, at(100));  // not due yet
  set(s[2], Status::kPending, Status::kPending, at(-5));   // due first
  Settlement p = s[3];
  for (auto [from, to] : {std::pair{Status::kPending, Status::kInitiated},
                          {Status::kInitiated, Status::kSellerSecuritiesLocked},
                          {Status::kSellerSecuritiesLocked, Status::kBuyerCashLocked},
                          {Status::kBuyerCashLocked, Status::kExecuting},
                          {Status::kExecuting, Status::kPartiallySettled}}) {
    set(p, from, to, at(-1));
    p.status = to;
  }
  auto got = *repo().leaseDue(at(1), 10, kLease, 0);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, s[2].id);
  EXPECT_EQ(got[1].id, s[3].id);
  EXPECT_EQ(got[1].status, Status::kPartiallySettled);
}

TEST_F(Leases, WriteClearsTheLease) {
  auto s = seed(1);
  auto got = *repo().leaseDue(at(1), 10, kLease, 0);
  ASSERT_EQ(got.size(), 1u);
  Settlement n = got[0];
  n.last_error = "retry soon";
  n.next_attempt_at = at(2);
  store::StateWrite w{n, Status::kPending, "{}"};
  ASSERT_EQ(*repo().write(std::span<const store::StateWrite>(&w, 1)), std::vector<bool>{true});
  EXPECT_EQ(repo().leaseDue(at(2), 10, kLease, 0)->size(), 1u);  // well before the lease's end
}

class Outbox : public StoreTest {};

TEST_F(Outbox, PendingIsInPositionOrderUntilMarkedPublished) {
  Settlement a = create(trade("trd_a"), at(0));
  Settlement b = create(trade("trd_b"), at(1));
  Settlement n = a;
  n.status = Status::kInitiated;
  store::StateWrite w{n, Status::kPending, R"({"dvp":"c1"})"};
  ASSERT_TRUE(repo().write(std::span<const store::StateWrite>(&w, 1)).ok());
  store::OutboxRepository& outbox = database_->outbox();
  EXPECT_EQ(*outbox.backlog(), 3);
  auto pending = *outbox.pending(10);
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].settlement_id, a.id);
  EXPECT_EQ(pending[1].settlement_id, b.id);
  EXPECT_EQ(pending[2].settlement_id, a.id);
  EXPECT_EQ(pending[2].status, Status::kInitiated);
  EXPECT_NE(pending[2].details.find("c1"), std::string::npos);
  EXPECT_LT(pending[0].position, pending[1].position);
  EXPECT_LT(pending[1].position, pending[2].position);
  EXPECT_EQ(outbox.pending(2)->size(), 2u);

  std::vector<int64_t> done = {pending[0].position, pending[1].position};
  ASSERT_TRUE(outbox.markPublished(done, at(5)).ok());
  ASSERT_TRUE(outbox.markPublished(done, at(6)).ok());  // idempotent
  EXPECT_EQ(*outbox.backlog(), 1);
  auto rest = *outbox.pending(10);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].position, pending[2].position);
}

TEST(Accounts, CreateFindSetStatusAndDuplicates) {
  sc::test::PgTestDb db;
  ASSERT_TRUE(db.create()) << db.error();
  auto d = Database::open(db.conninfo(), 2);
  ASSERT_TRUE(d.ok()) << d.error().message;
  store::AccountRepository& accounts = (*d)->accounts();
  auto created = accounts.create({"acc_1", "party::1", AccountStatus::kActive, {}});
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_NE(created->created_at, Timestamp{});
  auto dup = accounts.create({"acc_1", "party::x", AccountStatus::kActive, {}});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, "account_exists");
  ASSERT_TRUE(accounts.setStatus("acc_1", AccountStatus::kInactive).ok());
  auto found = accounts.find("acc_1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->status, AccountStatus::kInactive);
  EXPECT_EQ((*found)->canton_party, "party::1");
  EXPECT_EQ((*found)->created_at, created->created_at);
  EXPECT_FALSE(accounts.find("acc_none")->has_value());
  ASSERT_TRUE(accounts.create({"acc_2", "party::2", AccountStatus::kActive, {}}).ok());
  std::vector<std::string> ids = {"acc_2", "acc_none", "acc_1"};
  auto many = accounts.findMany(ids);
  ASSERT_TRUE(many.ok()) << many.error().message;
  EXPECT_EQ(many->size(), 2u);
  EXPECT_EQ(accounts.setStatus("acc_none", AccountStatus::kActive).error().code, "unknown_account");
}

}  // namespace
}  // namespace sc::test

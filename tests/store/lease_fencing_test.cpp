// Lease tokens fence writes (migration 0003): leaseDue hands out a fresh token, a write holds only
// while the row still carries the token it presents (nil: only while the row is not leased), and
// every write clears it. Both write paths: pipelined (< 8 writes or repeated rows) and set based.
#include <gtest/gtest.h>

#include <set>

#include "store/pool.h"
#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

class LeaseFencing : public StoreTest {
 protected:
  static constexpr Duration kLease = std::chrono::seconds(30);

  static store::StateWrite move(Settlement s, Status to, Timestamp now) {
    Status from = s.status;
    s.status = to;
    s.updated_at = now;
    return store::StateWrite{s, from, R"({"step":"test"})"};
  }
  std::vector<bool> write(std::span<const store::StateWrite> w) {
    auto r = repo().write(w);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : std::vector<bool>{};
  }
  std::vector<bool> write(const store::StateWrite& w) {
    return write(std::span<const store::StateWrite>(&w, 1));
  }
  size_t auditRows(const Uuid& id) { return repo().events(id)->size(); }
  // lease_token and lease_until of the row, "" when NULL.
  std::pair<std::string, std::string> leaseColumns(const Uuid& id) {
    auto lease = database_->pool().lease();
    EXPECT_TRUE(lease.ok());
    auto r = (*lease)->exec(
        "SELECT lease_token::text, lease_until::text FROM settlements WHERE id = $1::uuid",
        {id.canonical()});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return {std::string(r->text(0, 0)), std::string(r->text(0, 1))};
  }
};

TEST_F(LeaseFencing, EachLeaseCarriesAFreshTokenThatOnlyLeaseDueReturns) {
  auto s = seed(1);
  EXPECT_TRUE(s[0].lease_token.isNil());
  auto a = *repo().leaseDue(at(1), 10, kLease, 0);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_FALSE(a[0].lease_token.isNil());
  EXPECT_EQ(leaseColumns(s[0].id).first, a[0].lease_token.canonical());
  expireLeases();                                    // the lease ends by the database's clock
  auto b = *repo().leaseDue(at(32), 10, kLease, 0);  // after the first lease expired
  ASSERT_EQ(b.size(), 1u);
  EXPECT_FALSE(b[0].lease_token.isNil());
  EXPECT_NE(b[0].lease_token, a[0].lease_token);
  // Plain reads never hand the token out: writing them back is "not leased".
  EXPECT_TRUE((*repo().find(s[0].id))->lease_token.isNil());
  EXPECT_TRUE((*repo().findByTradeId("trd_0"))->lease_token.isNil());
  EXPECT_TRUE(repo().list(store::ListQuery{})->settlements.at(0).lease_token.isNil());
}

TEST_F(LeaseFencing, SecondWorkerLeasingAfterExpiryWinsAndFencesTheFirst) {
  auto s = seed(1);
  auto first = *repo().leaseDue(at(1), 10, kLease, 0);
  ASSERT_EQ(first.size(), 1u);
  // The first worker stalls past its lease; a second one takes the settlement over.
  expireLeases();  // the lease ends by the database's clock
  auto second = *repo().leaseDue(at(32), 10, kLease, 0);
  ASSERT_EQ(second.size(), 1u);

  // The first worker's late writes — a transition and a reschedule — miss their guard.
  EXPECT_EQ(write(move(first[0], Status::kInitiated, at(33))), std::vector<bool>{false});
  Settlement resched = first[0];
  resched.last_error = "late";
  resched.next_attempt_at = at(40);
  EXPECT_EQ(write(store::StateWrite{resched, Status::kPending, "{}"}), std::vector<bool>{false});
  EXPECT_EQ(auditRows(s[0].id), 1u);  // only intake's "pending"
  auto row = **repo().find(s[0].id);
  EXPECT_EQ(row.status, Status::kPending);
  EXPECT_EQ(row.last_error, "");
  EXPECT_EQ(leaseColumns(s[0].id).first, second[0].lease_token.canonical());

  // The second worker's write holds, with its audit row.
  EXPECT_EQ(write(move(second[0], Status::kInitiated, at(34))), std::vector<bool>{true});
  EXPECT_EQ(auditRows(s[0].id), 2u);
  EXPECT_EQ((*repo().find(s[0].id))->status, Status::kInitiated);
  // And the first worker stays fenced now that the row is not leased at all.
  EXPECT_EQ(write(move(first[0], Status::kInitiated, at(35))), std::vector<bool>{false});
  EXPECT_EQ(auditRows(s[0].id), 2u);
}

TEST_F(LeaseFencing, StaleWritesAreFencedInTheSetBasedPathToo) {
  auto s = seed(10);  // >= 8 distinct rows: one UPDATE … FROM unnest
  auto first = *repo().leaseDue(at(1), 10, kLease, 0);
  ASSERT_EQ(first.size(), 10u);
  expireLeases();                                        // the lease ends by the database's clock
  auto second = *repo().leaseDue(at(32), 5, kLease, 0);  // takes over the five oldest due
  ASSERT_EQ(second.size(), 5u);
  std::set<Uuid> taken;
  for (auto& t : second) taken.insert(t.id);

  std::vector<store::StateWrite> stale;
  for (auto& f : first) stale.push_back(move(f, Status::kInitiated, at(33)));
  auto held = write(stale);
  ASSERT_EQ(held.size(), 10u);
  for (size_t i = 0; i < first.size(); ++i) {
    bool lost = taken.contains(first[i].id);
    EXPECT_EQ(held[i], !lost) << i;
    EXPECT_EQ(auditRows(first[i].id), lost ? 1u : 2u) << i;
    if (!lost) {
      EXPECT_EQ(leaseColumns(first[i].id).first, "") << i;
    }
  }
  for (auto& t : second) EXPECT_EQ(leaseColumns(t.id).first, t.lease_token.canonical());

  std::vector<store::StateWrite> winners;
  for (auto& t : second) winners.push_back(move(t, Status::kInitiated, at(34)));
  for (auto& f : first)  // padding to 8+ rows (set-based path): already written, they miss
    if (!taken.contains(f.id)) winners.push_back(move(f, Status::kInitiated, at(34)));
  held = write(winners);
  ASSERT_EQ(held.size(), 10u);
  for (size_t i = 0; i < held.size(); ++i) EXPECT_EQ(held[i], i < 5) << i;
  for (auto& f : first) EXPECT_EQ(auditRows(f.id), 2u);
}

// step_offset_floor (migration 0009) is written by both paths, read back, and never lowered: a
// write carrying an older floor (a row read before a later step's write) leaves the later one.
TEST_F(LeaseFencing, BothWritePathsRecordTheStepFloorAndNeverLowerIt) {
  auto s = seed(10);
  // A row no step has written yet reads 0 (NULL): lookups then use ledger_offset_floor.
  EXPECT_EQ(repo().find(s[0].id)->value().step_offset_floor, 0);
  auto leased = *repo().leaseDue(at(1), 10, kLease, 0);
  ASSERT_EQ(leased.size(), 10u);
  std::vector<store::StateWrite> batch;  // 10 rows: the set-based path
  for (size_t i = 0; i < leased.size(); ++i) {
    Settlement next = leased[i];
    next.step_offset_floor = 100 + static_cast<int64_t>(i);
    batch.push_back(move(next, Status::kInitiated, at(2)));
  }
  ASSERT_EQ(write(batch), std::vector<bool>(10, true));
  for (size_t i = 0; i < leased.size(); ++i)
    EXPECT_EQ(repo().find(leased[i].id)->value().step_offset_floor, 100 + static_cast<int64_t>(i));

  // One row (the pipelined path): a later step's floor is recorded, an older one is not taken.
  Settlement row = repo().find(leased[0].id)->value();
  row.step_offset_floor = 250;
  ASSERT_EQ(write(move(row, Status::kSellerSecuritiesLocked, at(3))), std::vector<bool>{true});
  EXPECT_EQ(repo().find(row.id)->value().step_offset_floor, 250);
  row = repo().find(leased[0].id)->value();
  row.step_offset_floor = 120;
  ASSERT_EQ(write(move(row, Status::kBuyerCashLocked, at(4))), std::vector<bool>{true});
  EXPECT_EQ(repo().find(row.id)->value().step_offset_floor, 250);
}

TEST_F(LeaseFencing, TheLeaseholdersWriteHoldsExactlyOnce) {
  auto s = seed(1);
  auto leased = *repo().leaseDue(at(1), 10, kLease, 0);
  ASSERT_EQ(leased.size(), 1u);
  store::StateWrite w = move(leased[0], Status::kInitiated, at(2));
  EXPECT_EQ(write(w), std::vector<bool>{true});
  EXPECT_EQ(leaseColumns(s[0].id), (std::pair<std::string, std::string>{"", ""}));
  // The same token again: the status guard alone would hold, the token does not.
  EXPECT_EQ(write(move(w.next, Status::kSellerSecuritiesLocked, at(3))), std::vector<bool>{false});
  Settlement resched = w.next;
  resched.next_attempt_at = at(9);
  EXPECT_EQ(write(store::StateWrite{resched, Status::kInitiated, "{}"}), std::vector<bool>{false});
  EXPECT_EQ(write(w), std::vector<bool>{false});  // a replay of the write itself
  EXPECT_EQ(auditRows(s[0].id), 2u);
  EXPECT_EQ((*repo().find(s[0].id))->status, Status::kInitiated);
}

TEST_F(LeaseFencing, ChainedWritesOfOneRowInOneCallHoldThenReleaseTheLease) {
  auto s = seed(2);
  auto leased = *repo().leaseDue(at(1), 10, kLease, 0);
  ASSERT_EQ(leased.size(), 2u);
  // What a worker's batch does: several transitions of one row, then a reschedule, in one call.
  std::vector<store::StateWrite> w;
  w.push_back(move(leased[0], Status::kInitiated, at(2)));
  w.push_back(move(w.back().next, Status::kSellerSecuritiesLocked, at(2)));
  w.push_back(move(leased[1], Status::kInitiated, at(2)));
  Settlement resched = w[1].next;
  resched.next_attempt_at = at(5);
  w.push_back(store::StateWrite{resched, Status::kSellerSecuritiesLocked, "{}"});
  EXPECT_EQ(write(w), (std::vector<bool>{true, true, true, true}));
  EXPECT_EQ((*repo().find(leased[0].id))->status, Status::kSellerSecuritiesLocked);
  EXPECT_EQ((*repo().find(leased[0].id))->next_attempt_at, at(5));
  EXPECT_EQ(auditRows(leased[0].id), 3u);
  for (auto& l : leased)
    EXPECT_EQ(leaseColumns(l.id), (std::pair<std::string, std::string>{"", ""}));
  EXPECT_EQ(repo().leaseDue(at(6), 10, kLease, 0)->size(), 2u);  // both free again

  // A chain from a fenced worker misses every link.
  expireLeases();  // the lease ends by the database's clock
  auto fresh = *repo().leaseDue(at(40), 10, kLease, 0);
  ASSERT_EQ(fresh.size(), 2u);
  std::vector<store::StateWrite> stale;
  Settlement old = w[1].next;  // carries the first lease's token
  stale.push_back(move(old, Status::kBuyerCashLocked, at(41)));
  stale.push_back(move(stale.back().next, Status::kExecuting, at(41)));
  EXPECT_EQ(write(stale), (std::vector<bool>{false, false}));
  EXPECT_EQ(auditRows(leased[0].id), 3u);
}

TEST_F(LeaseFencing, FindThenWriteBackHoldsOnAnUnleasedRow) {
  auto s = seed(1);
  // The manual retry path: read with find(), write back (nil token).
  Settlement failed = **repo().find(s[0].id);
  EXPECT_EQ(write(move(failed, Status::kFailed, at(1))), std::vector<bool>{true});
  Settlement read = **repo().find(s[0].id);
  store::StateWrite retry = move(read, Status::kPending, at(2));
  retry.next.round++;
  EXPECT_EQ(write(retry), std::vector<bool>{true});
  EXPECT_EQ(auditRows(s[0].id), 3u);
  EXPECT_EQ((*repo().find(s[0].id))->round, 1);
}

TEST_F(LeaseFencing, FindThenWriteBackIsRefusedWhileAWorkerHoldsTheRow) {
  auto s = seed(1);
  auto leased = *repo().leaseDue(at(1), 10, kLease, 0);
  ASSERT_EQ(leased.size(), 1u);
  Settlement read = **repo().find(s[0].id);
  EXPECT_EQ(read.status, Status::kPending);
  EXPECT_EQ(write(move(read, Status::kFailed, at(2))), std::vector<bool>{false});
  Settlement resched = read;
  resched.next_attempt_at = at(3);
  EXPECT_EQ(write(store::StateWrite{resched, Status::kPending, "{}"}), std::vector<bool>{false});
  EXPECT_EQ(auditRows(s[0].id), 1u);
  EXPECT_EQ(leaseColumns(s[0].id).first, leased[0].lease_token.canonical());
  // The worker keeps its lease and its write holds.
  EXPECT_EQ(write(move(leased[0], Status::kInitiated, at(4))), std::vector<bool>{true});
  // Once the worker has written, the row is free for a manual write again.
  Settlement after = **repo().find(s[0].id);
  EXPECT_EQ(write(move(after, Status::kFailed, at(5))), std::vector<bool>{true});
}

}  // namespace
}  // namespace sc::test

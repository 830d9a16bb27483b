// Workers racing with real leases that expire: each leases a batch, sometimes stalls past its
// lease (the shared clock jumps) or only reschedules, then writes with the token it was given.
// Exactly one write wins each step of each settlement, and a write made after someone else was
// granted a newer lease of the row never holds (DESIGN §8: row leases fence stale workers).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

class LeaseRace : public StoreTest {};

TEST_F(LeaseRace, StaleLeaseholdersNeverWriteAndEveryStepIsWonOnce) {
  constexpr int kSettlements = 40, kThreads = 6;
  const std::vector<Status> path = {
      Status::kPending,         Status::kInitiated, Status::kSellerSecuritiesLocked,
      Status::kBuyerCashLocked, Status::kExecuting, Status::kConfirmed,
      Status::kSettled};
  auto next = [&](Status s) {
    for (size_t i = 0; i + 1 < path.size(); ++i)
      if (path[i] == s) return path[i + 1];
    return s;
  };
  seed(kSettlements);
  std::atomic<int64_t> clock_s{0};                 // shared "now", seconds after kT0
  const Duration lease = std::chrono::seconds(2);  // a stall jumps the clock past it
  std::mutex mu;
  std::map<Uuid, Uuid> newest_lease;            // settlement → token most recently granted
  std::map<std::pair<Uuid, Status>, int> wins;  // (settlement, from) → writes that held
  std::atomic<int> stale_refused{0}, stale_held{0}, errors{0}, reschedules{0};
  std::atomic<bool> done{false};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1);
      for (int iter = 0; iter < 400 && !done; ++iter) {
        Timestamp now = at(static_cast<int>(clock_s.load()));
        auto leased = repo().leaseDue(now, 4, lease, 0);
        if (!leased.ok()) {
          errors++;
          continue;
        }
        {
          std::lock_guard l(mu);
          for (const auto& s : *leased) newest_lease[s.id] = s.lease_token;
        }
        if (leased->empty()) {
          clock_s += 1;
          continue;
        }
        if (rng() % 3 == 0) {  // this worker stalls past its lease, which ends meanwhile
          clock_s += 3;
          std::vector<Uuid> tokens;
          for (const auto& s : *leased) tokens.push_back(s.lease_token);
          expireLeases(tokens);  // leases end by the database's clock
        }
        for (const auto& s : *leased) {
          store::StateWrite w;
          w.expected = s.status;
          w.next = s;
          bool reschedule = rng() % 4 == 0;
          if (!reschedule) w.next.status = next(s.status);
          w.next.next_attempt_at = at(static_cast<int>(clock_s.load()));
          w.next.updated_at = w.next.next_attempt_at;
          w.event_details = "{}";
          bool superseded;
          {
            std::lock_guard l(mu);
            superseded = newest_lease[s.id] != s.lease_token;
          }
          auto r = repo().write(std::span<const store::StateWrite>(&w, 1));
          if (!r.ok()) {
            errors++;
            continue;
          }
          bool held = (*r)[0];
          if (superseded) (held ? stale_held : stale_refused)++;
          if (held && reschedule) reschedules++;
          if (held && !reschedule) {
            std::lock_guard l(mu);
            wins[{s.id, s.status}]++;
          }
        }
      }
    });
  }
  // Until every settlement is settled (bounded by the threads' iteration limit).
  for (int i = 0; i < 3000; ++i) {
    auto counts = repo().countByStatus();
    ASSERT_TRUE(counts.ok());
    int64_t settled = 0;
    for (auto& [st, n] : *counts)
      if (st == Status::kSettled) settled = n;
    if (settled == kSettlements) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling an observable state
  }
  done = true;
  for (auto& th : threads) th.join();

  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(stale_held.load(), 0) << "a worker wrote after a newer lease of the row was granted";
  EXPECT_GT(stale_refused.load(), 0) << "no stale write was attempted: the race did not happen";
  EXPECT_GT(reschedules.load(), 0);
  auto page = repo().list(store::ListQuery{.limit = 1000});
  ASSERT_TRUE(page.ok());
  for (const auto& s : page->settlements) {
    EXPECT_EQ(s.status, Status::kSettled) << s.trade.trade_id;
    for (size_t i = 0; i + 1 < path.size(); ++i)
      EXPECT_EQ((wins[{s.id, path[i]}]), 1) << s.trade.trade_id << " step " << toString(path[i]);
    auto ev = repo().events(s.id);
    ASSERT_TRUE(ev.ok());
    ASSERT_EQ(ev->size(), path.size()) << s.trade.trade_id;
    for (size_t i = 0; i < path.size(); ++i) EXPECT_EQ((*ev)[i].status, path[i]);
  }
}

}  // namespace
}  // namespace sc::test

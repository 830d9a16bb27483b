// Property-based: thousands of random commands (several fixed seeds) with outages, injected errors
// and duplicate command ids. After every step the ledger's invariants must hold.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "ledger/engine/embedded_ledger.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

struct LockInfo {
  std::string dvp;
  LedgerAmount amount;
  bool operator==(const LockInfo&) const = default;
};

std::map<std::string, LockInfo> locksOf(EmbeddedLedger& l) {
  std::map<std::string, LockInfo> out;
  for (const auto& h : l.allHoldings()) {
    if (h.locked) out[h.contract_id] = {h.lock_dvp_contract_id, h.amount};
  }
  return out;
}

class RandomWalk {
 public:
  RandomWalk(uint64_t seed, EmbeddedLedger& l) : rng_(seed), l_(l) {
    for (const char* p : {"p0", "p1", "p2", "p3"}) parties_.push_back(l.allocateParty(p).value());
  }

  int64_t pick(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  template <class V>
  const auto& any(const V& v) {
    return v[static_cast<size_t>(pick(0, static_cast<int64_t>(v.size()) - 1))];
  }

  // Amounts in whole units or with a few decimals, so splits and pro-rata rounding happen.
  Decimal amount(int64_t max_whole) {
    int64_t whole = pick(0, max_whole);
    int64_t frac = pick(0, 3) == 0 ? pick(0, Decimal::kUnit - 1) : 0;
    int64_t units = whole * Decimal::kUnit + frac;
    return Decimal::fromUnits(std::max<int64_t>(units, 1));
  }
  // A credit is a ledger amount: sometimes with 10 decimals, sometimes beyond DECIMAL(18,8).
  LedgerAmount creditAmount() {
    __int128 units = LedgerAmount(amount(1000)).units();
    if (pick(0, 3) == 0) units += pick(1, 99);  // a 9th and 10th decimal
    if (pick(0, 7) == 0)
      units += static_cast<__int128>(pick(1, 1'000'000)) * LedgerAmount::kUnit *
               10'000'000'000LL;  // up to 10^16 whole units
    return LedgerAmount::fromUnits(units).value();
  }

  void step() {
    const int op = static_cast<int>(pick(0, 99));
    const auto before = snapshot(l_);
    const auto locks_before = locksOf(l_);
    std::set<std::string> in_flight_dvps;
    for (const auto& h : before.holdings) {
      ASSERT_FALSE(h.in_flight && !h.locked) << "a free holding is in flight";
      if (h.in_flight) in_flight_dvps.insert(h.lock_dvp_contract_id);
    }

    if (op < 12) {  // credit
      const auto& asset = any(assets_);
      auto a = creditAmount();
      auto r = l_.credit(any(parties_), asset, a, any(syncs_));
      if (r)
        credited_[asset] = credited_[asset].add(a).value();
      else
        ASSERT_EQ(snapshot(l_), before);
    } else if (op < 14) {  // outage toggle
      const auto& s = any(syncs_);
      down_[s] = !down_[s];
      l_.setOutage(s, down_[s]);
    } else if (op < 15) {  // error rate toggle
      l_.setErrorRate(any(syncs_), pick(0, 1) ? 0.3 : 0.0, rng_());
    } else if (op < 25 && !succeeded_.empty()) {  // duplicate of a successful command id
      const auto& [id, first] = any(succeeded_);
      auto r = l_.submitOne(id, Settle{"00whatever"});
      ASSERT_TRUE(r) << "duplicate of " << id << " failed: " << r.error().message;
      EXPECT_TRUE(r->deduplicated);
      EXPECT_EQ(r->update_id, first.update_id);
      EXPECT_EQ(r->contract_id, first.contract_id);
      ASSERT_EQ(snapshot(l_), before) << "a duplicate command id changed state";
    } else {
      Command c;
      std::string dvp = dvps_.empty() ? "00none" : any(dvps_);
      if (op < 37 || dvps_.empty()) {
        auto buyer = any(parties_);
        auto seller = any(parties_);
        auto cd = dvpCommand(buyer, seller, "1", "1");
        cd.quantity = amount(300);
        cd.amount = amount(3000);
        c = cd;
      } else if (op < 52) {
        c = LockSecurities{dvp, amount(300), pick(0, 1) == 1};
      } else if (op < 65) {
        auto d = l_.dvp(dvp).value();
        // Mostly the DvP's amount, sometimes a random one.
        c = LockCash{dvp, d && pick(0, 3) != 0 ? d->amount : amount(3000)};
      } else if (op < 78) {
        c = ReassignLocks{dvp};
      } else if (op < 90) {
        c = Settle{dvp};
      } else if (op < 97) {
        c = ReleaseLocks{dvp};
      } else {
        c = ArchiveDvp{dvp};
      }
      const bool targets_in_flight = in_flight_dvps.count(dvp) > 0;
      const bool is_settle_or_release =
          std::holds_alternative<Settle>(c) || std::holds_alternative<ReleaseLocks>(c);
      // A release may complete an in-flight assignment first; a settle never uses one.
      const bool is_settle = std::holds_alternative<Settle>(c);
      // Retry a failed id sometimes: failed ids are not deduplicated.
      std::string id =
          !failed_.empty() && pick(0, 4) == 0 ? any(failed_) : "cmd" + std::to_string(next_++);
      auto r = l_.submitOne(id, c);
      if (r) {
        if (r->deduplicated) {
          ASSERT_EQ(snapshot(l_), before);
        } else {
          succeeded_.emplace_back(id, *r);
          if (std::holds_alternative<CreateDvp>(c)) dvps_.push_back(r->contract_id);
          if (!r->remainder_dvp_contract_id.empty()) dvps_.push_back(r->remainder_dvp_contract_id);
          if (targets_in_flight && is_settle) {
            ADD_FAILURE() << "settle succeeded on a DvP with a lock in flight";
          }
        }
        // Locks vanish only through Settle or ReleaseLocks of their own DvP.
        auto locks_after = locksOf(l_);
        for (const auto& [cid, info] : locks_before) {
          auto it = locks_after.find(cid);
          if (it != locks_after.end()) {
            ASSERT_EQ(it->second, info) << "lock " << cid << " changed";
            continue;
          }
          ASSERT_TRUE(is_settle_or_release && info.dvp == dvp)
              << "lock " << cid << " of " << info.dvp << " consumed by another command";
        }
      } else {
        failed_.push_back(id);
        if (targets_in_flight && std::holds_alternative<ReleaseLocks>(c)) {
          EXPECT_TRUE(r.error().code == kContractInFlight || r.error().code == kUnavailable)
              << r.error().code;
        }
        if (!std::holds_alternative<ReassignLocks>(c)) {
          // A failed command changes nothing (a reassignment may stop half-way, by design).
          ASSERT_EQ(snapshot(l_), before) << "failed " << r.error().code << " changed state";
        } else {
          ASSERT_EQ(locksOf(l_), locks_before);
        }
        ASSERT_TRUE(r.error().retryable ==
                    (r.error().code == kUnavailable || r.error().code == kContractInFlight));
      }
    }
    checkInvariants();
  }

  void checkInvariants() {
    for (const auto& t : totalsOf(l_)) {
      ASSERT_TRUE(t.total == credited_[t.asset])
          << "total of " << t.asset << " not conserved: " << t.total.toString() << " vs credited "
          << credited_[t.asset].toString();
      ASSERT_FALSE(t.locked.isNegative());
      ASSERT_TRUE(t.locked <= t.total);
    }
    // Locks per DvP never exceed what the DvP asks for.
    std::map<std::pair<std::string, std::string>, LedgerAmount> per_dvp;
    for (const auto& h : l_.allHoldings()) {
      ASSERT_TRUE(h.amount.isPositive());
      if (h.locked) {
        auto& sum = per_dvp[{h.lock_dvp_contract_id, h.asset}];
        sum = sum.add(h.amount).value();
      }
    }
    for (const auto& [k, units] : per_dvp) {
      auto d = l_.dvp(k.first).value();
      ASSERT_TRUE(d);
      ASSERT_TRUE(d->active) << "lock bound to archived DvP " << k.first;
      ASSERT_TRUE(units <= LedgerAmount(k.second == d->security ? d->quantity : d->amount));
      // A lock holds a trade figure: 8 decimals at most, whatever the holdings it came from.
      ASSERT_TRUE(units.toDecimal()) << units.toString();
    }
    auto integrity = l_.verifyIntegrity();
    ASSERT_TRUE(integrity) << integrity.error().message;
  }

  void heal() {
    for (const auto& s : syncs_) {
      l_.setOutage(s, false);
      l_.setErrorRate(s, 0, 0);
      down_[s] = false;
    }
  }

  std::map<std::string, LedgerAmount> credited_;
  size_t successes() const { return succeeded_.size(); }

 private:
  std::mt19937_64 rng_;
  EmbeddedLedger& l_;
  std::vector<std::string> parties_;
  std::vector<std::string> assets_{"AAPL", "MSFT", "USDC", "EURC"};
  std::vector<std::string> syncs_{"securities", "cash", "settlement"};
  std::map<std::string, bool> down_;
  std::vector<std::string> dvps_;
  std::vector<std::pair<std::string, Outcome>> succeeded_;
  std::vector<std::string> failed_;
  int next_ = 0;
};

class LedgerProperties : public ::testing::TestWithParam<uint64_t> {};

TEST_P(LedgerProperties, RandomCommandsConserveAssetsAndKeepLocksExclusive) {
  auto o = options("");  // in-memory: the invariants do not depend on the journal
  auto ledger = std::move(EmbeddedLedger::open(o)).value();
  RandomWalk walk(GetParam(), *ledger);
  for (int i = 0; i < 3000; ++i) {
    walk.step();
    if (::testing::Test::HasFatalFailure()) {
      FAIL() << "seed " << GetParam() << " step " << i;
    }
  }
  EXPECT_GT(walk.successes(), 500u);
}

TEST_P(LedgerProperties, RandomCommandsReplayToTheSameState) {
  TempDir dir;
  Snapshot before;
  std::map<std::string, LedgerAmount> credited;
  {
    auto ledger = openLedger(dir.path());
    RandomWalk walk(GetParam() * 7919, *ledger);
    for (int i = 0; i < 800; ++i) {
      walk.step();
      ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "step " << i;
    }
    before = snapshot(*ledger);
    credited = walk.credited_;
  }
  auto reopened = openLedger(dir.path());
  EXPECT_EQ(snapshot(*reopened), before);
  EXPECT_TRUE(reopened->verifyIntegrity());
  for (const auto& t : totalsOf(*reopened)) EXPECT_TRUE(t.total == credited[t.asset]);
}

INSTANTIATE_TEST_SUITE_P(Seeds, LedgerProperties, ::testing::Values(1u, 2u, 3u, 42u, 20241119u));

}  // namespace
}  // namespace sc::test

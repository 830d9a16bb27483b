// Regression tests for the holes a review of the money path found (issue 8): a worker looping at
// PARTIALLY_SETTLED, a stale worker settling a trade another worker failed, a pro-rata part too
// small to pay anything. Balances are checked per party against what the trade says, since a
// double settlement conserves every total.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "domain/command_ids.h"
#include "workflow_fixture.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using S = Status;

class MoneyPath : public WorkflowTest {
 protected:
  // The buyer holds exactly `securities` AAPL and the seller exactly `cash` USDC more than they
  // were credited: what one settlement of the trade moves, not two.
  void expectMoved(const char* securities, const char* cash, const char* seller_aapl_credited,
                   const char* buyer_usdc_credited) {
    EXPECT_EQ(free("acc_buyer", "AAPL"), D(securities)) << "buyer's securities";
    EXPECT_EQ(free("acc_seller", "USDC"), D(cash)) << "seller's cash";
    EXPECT_EQ(free("acc_seller", "AAPL"), D(seller_aapl_credited).sub(D(securities)).value())
        << "seller's securities";
    EXPECT_EQ(free("acc_buyer", "USDC"), D(buyer_usdc_credited).sub(D(cash)).value())
        << "buyer's cash";
  }
};

// --- defect 1: PARTIALLY_SETTLED whose remainder never comes ends FAILED ------------------------

class PartialThenFailed : public MoneyPath, public ::testing::WithParamInterface<int> {};

// With N retry attempts, N+1 parts of one unit each settle (each recycle uses one attempt), then
// the trade rests at PARTIALLY_SETTLED with no attempts left: it must end FAILED directly from
// there, keep what settled, archive the remainder's DvP, and say how much settled.
TEST_P(PartialThenFailed, RemainderWithNoAttemptsLeftFailsFromPartiallySettledKeepingTheParts) {
  const int attempts = GetParam();
  options_.retry_attempts = attempts;
  workflow_ = makeWorkflow();
  credit("acc_seller", "AAPL", "1", "securities");
  credit("acc_buyer", "USDC", "1000", "cash");
  Settlement s = submit("trd_partial_rest", "10", "100", true);

  Settlement now;
  for (int part = 1; part <= attempts + 1; ++part) {
    SCOPED_TRACE("part " + std::to_string(part));
    clock_.set(std::max(clock_.now(), load(s).next_attempt_at));
    drain();
    now = load(s);
    ASSERT_EQ(now.status, S::kPartiallySettled) << now.failure_code << " " << now.failure_reason;
    ASSERT_EQ(now.settled_quantity, Decimal::fromInteger(part).value());
    if (part <= attempts) credit("acc_seller", "AAPL", "1", "securities");
  }
  const std::string remainder_dvp = now.dvp_contract_id;
  clock_.set(now.next_attempt_at);
  now = driveToRest(s);

  ASSERT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failure_code, "partial_settlement_incomplete");
  EXPECT_EQ(now.failed_step, "partially_settled");
  const std::string parts = std::to_string(attempts + 1);
  EXPECT_EQ(now.settled_quantity, D(parts.c_str()));
  EXPECT_EQ(now.settled_amount, D((parts + "0").c_str()));  // 10 USDC a unit
  EXPECT_EQ(now.locked_quantity, Decimal());
  auto dvp = ledger_->dvp(remainder_dvp);
  ASSERT_TRUE(dvp.ok() && dvp->has_value());
  EXPECT_FALSE((*dvp)->active) << "the remainder's DvP must be archived";
  auto path = eventStatuses(s);
  expectLegalPath(path);
  ASSERT_GE(path.size(), 2u);
  EXPECT_EQ(path[path.size() - 2], S::kPartiallySettled);
  EXPECT_EQ(path.back(), S::kFailed);
  auto details = nlohmann::json::parse(events(s).back().details);
  EXPECT_EQ(details["settled_quantity"], D(parts.c_str()).toString());
  EXPECT_EQ(details["settled_amount"], D((parts + "0").c_str()).toString());
  expectMoved(parts.c_str(), (parts + "0").c_str(), parts.c_str(), "1000");
  expectLedgerConserved();
}

INSTANTIATE_TEST_SUITE_P(Attempts, PartialThenFailed, ::testing::Values(0, 1, 3));

// The reported reproduction: attempts 0, a seller holding 5 of 10. One runOnce must come back
// (before the fix it never returned), and other trades keep settling.
TEST_F(MoneyPath, PartialWithNoRetriesFailsAndOtherTradesStillSettle) {
  options_.retry_attempts = 0;
  workflow_ = makeWorkflow();
  credit("acc_seller", "AAPL", "5", "securities");
  credit("acc_buyer", "USDC", "10000", "cash");
  Settlement s = submit("trd_half", "10", "1500", true);
  Settlement now = driveToRest(s);
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.settled_quantity, D("5"));
  EXPECT_EQ(now.settled_amount, D("750"));

  credit("acc_seller", "AAPL", "2", "securities");
  Settlement other = submit("trd_other", "2", "300");
  EXPECT_EQ(driveToRest(other).status, S::kSettled);
  expectMoved("7", "1050", "7", "10000");
  expectLedgerConserved();
}

// --- defect 2: a stale worker cannot settle what another worker failed --------------------------

// Worker A leases a PENDING trade and stalls right before its CreateDvp. Its lease runs out, the
// deadline passes, worker B fails the settlement, and an operator retries it, which settles in
// the next round. Then A wakes up with round 0's command ids: none of them may take effect.
TEST_F(MoneyPath, WorkerStalledBeforeCreateCannotSettleAfterFailureAndRetry) {
  credit("acc_seller", "AAPL", "100", "securities");  // enough for two deliveries
  credit("acc_buyer", "USDC", "20000", "cash");       // and two payments
  Settlement s = submit("trd_stale", "50", "7524");
  ScriptedLedger stalled(*ledger_);
  auto a = makeWorkflow(nullptr, &stalled);
  auto b = makeWorkflow();
  stalled.beforeFirst<ledger::CreateDvp>([&] {
    clock_.set(s.deadline_at + options_.lease + 1s);
    Settlement failed = driveToRest(s, b.get());
    ASSERT_EQ(failed.status, S::kFailed);
    ASSERT_TRUE(b->retry(s.id, "operator retry").ok());
    Settlement retried = driveToRest(s, b.get());
    ASSERT_EQ(retried.status, S::kSettled);
  });
  (void)a->runOnce();  // A's round-0 commands now reach the ledger
  Settlement now = driveToRest(s, b.get());
  clock_.advance(1h);
  drain(b.get());
  now = load(s);
  EXPECT_EQ(now.status, S::kSettled);
  EXPECT_EQ(now.round, 1);
  expectMoved("50", "7524", "100", "20000");
  auto path = eventStatuses(s);
  expectLegalPath(path);
  EXPECT_EQ(std::count(path.begin(), path.end(), S::kConfirmed), 1);
  expectLedgerConserved();
  // A second operator retry is refused: the trade is settled.
  EXPECT_FALSE(b->retry(s.id, "again").ok());
}

// A PENDING settlement failed for good (its buyer was deactivated) fences its round on the ledger:
// the round's create command id can never be used afterwards.
TEST_F(MoneyPath, FailureAtPendingFencesTheRoundsCreateCommand) {
  creditTheStandardTrade();
  Settlement s = submit("trd_fenced", "50", "7524");
  ASSERT_TRUE(accounts().setStatus("acc_buyer", AccountStatus::kInactive).ok());
  Settlement now = driveToRest(s);
  ASSERT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failure_code, "inactive_account");
  auto details = nlohmann::json::parse(events(s).back().details);
  EXPECT_EQ(details["fenced_command_id"], commandId(now, "initiate"));

  ledger::Submission late{commandId(now, "initiate"),
                          ledger::CreateDvp{party_.at("acc_buyer"), party_.at("acc_seller"), "AAPL",
                                            "USDC", D("50"), D("7524"), kTradeDate}};
  auto r = ledger_->submit(std::span<const ledger::Submission>(&late, 1));
  ASSERT_FALSE(r[0].ok());
  EXPECT_EQ(r[0].error().code, ledger::kCommandFenced);
  EXPECT_FALSE(r[0].error().retryable);
  expectMoved("0", "0", "50", "7524");
  expectLedgerConserved();
}

// The half-lease budget is counted from when the lease was asked for: a batch whose set-up (the
// account look-up) already used half the lease starts no ledger round at all.
class SlowAccounts final : public store::AccountRepository {
 public:
  SlowAccounts(store::AccountRepository& real, FakeElapsed& elapsed, std::chrono::nanoseconds delay)
      : real_(real), elapsed_(elapsed), delay_(delay) {}
  Result<Account> create(const Account& a) override { return real_.create(a); }
  Result<std::optional<Account>> find(const std::string& id) override { return real_.find(id); }
  Result<std::vector<Account>> findMany(std::span<const std::string> ids) override {
    elapsed_.advance(delay_);
    return real_.findMany(ids);
  }
  Result<void> setStatus(const std::string& id, AccountStatus s) override {
    return real_.setStatus(id, s);
  }

 private:
  store::AccountRepository& real_;
  FakeElapsed& elapsed_;
  std::chrono::nanoseconds delay_;
};

TEST_F(MoneyPath, BatchWhoseSetUpUsedHalfTheLeaseStartsNoLedgerRound) {
  creditTheStandardTrade();
  Settlement s = submit("trd_slow", "50", "7524");
  SlowAccounts slow(accounts(), elapsed_, options_.lease / 2 + 1ms);
  workflow::Workflow w(repo(), slow, *ledger_, clock_, options_, elapsed_);
  ASSERT_TRUE(w.runOnce().ok());
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kPending);
  auto created = ledger_->completion(commandId(now, "initiate"));
  ASSERT_TRUE(created.ok());
  EXPECT_FALSE(created->has_value()) << "a ledger round started after half the lease";
  // A batch with time left goes all the way.
  EXPECT_EQ(driveToRest(s).status, S::kSettled);
}

// --- defect 7: a part whose pro-rata cash rounds to zero waits like nothing deliverable ---------

TEST_F(MoneyPath, PartTooSmallToPayAnyCashWaitsForTheSellerThenSettles) {
  options_.retry_attempts = 5;
  workflow_ = makeWorkflow();
  credit("acc_seller", "AAPL", "0.5", "securities");
  credit("acc_buyer", "USDC", "1", "cash");
  // 0.0000001 for 10: half a unit pays 0.000000005, which rounds (half-even) to nothing.
  Settlement s = submit("trd_tiny", "10", "0.0000001", true);
  clock_.set(kT0);
  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kInitiated) << now.failure_code << ": " << now.failure_reason;
  EXPECT_TRUE(now.failure_code.empty());
  EXPECT_NE(now.last_error.find(ledger::kInsufficientSecurities), std::string::npos)
      << now.last_error;
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal()) << "the tiny part must not stay locked";

  credit("acc_seller", "AAPL", "9.5", "securities");
  now = driveToRest(s);
  EXPECT_EQ(now.status, S::kSettled);
  EXPECT_EQ(now.settled_quantity, D("10"));
  EXPECT_EQ(now.settled_amount, D("0.0000001"));
  expectMoved("10", "0.0000001", "10", "1");
  expectLedgerConserved();
}

// --- found by review: a release id reused for the remainder's DvP -------------------------------

// Forwards to the engine; can lose the answer of the next Settle (it commits, the caller gets a
// timeout) and fail the next completion queries.
class LossyLedger final : public sc::test::ForwardingLedger {
 public:
  explicit LossyLedger(ledger::Ledger& real) : ForwardingLedger(real), real_(real) {}
  bool lose_next_settle_answer = false;
  int fail_completions = 0;
  std::vector<int64_t> submitted_after, asked_after;  // the floors commands and lookups carried
  // Command id -> every floor it was submitted or looked up with.
  std::map<std::string, std::vector<int64_t>> floors_of;

  std::vector<Result<ledger::Outcome>> submit(std::span<const ledger::Submission> b) override {
    for (const auto& sub : b) {
      submitted_after.push_back(sub.after_offset);
      floors_of[sub.command_id].push_back(sub.after_offset);
    }
    auto r = real_.submit(b);
    for (size_t i = 0; i < b.size(); ++i) {
      if (lose_next_settle_answer && std::holds_alternative<ledger::Settle>(b[i].command)) {
        lose_next_settle_answer = false;
        fail_completions = 1;  // and the catch-up right after cannot ask either
        r[i] = Error::transient(ledger::kTimeout, "test: the settle's answer was lost");
      }
    }
    return r;
  }
  Result<std::optional<ledger::Outcome>> completionAfter(const std::string& c,
                                                         int64_t after) override {
    asked_after.push_back(after);
    floors_of[c].push_back(after);
    if (fail_completions > 0) {
      --fail_completions;
      return Error::transient(ledger::kUnavailable, "test: completion query failed");
    }
    return real_.completionAfter(c, after);
  }

 private:
  ledger::Ledger& real_;
};

// A partial settle commits but its answer is lost and the catch-up cannot ask: the settlement
// fails at EXECUTING, releases the (already settled) DvP, learns of the part, rests at
// PARTIALLY_SETTLED with no attempts left, and fails again. That second release must release and
// archive the remainder's DvP, not be answered by the first release's completion.
TEST_F(MoneyPath, FailingTheRemainderAfterALostPartialSettleArchivesTheRemaindersDvp) {
  options_.retry_attempts = 0;
  credit("acc_seller", "AAPL", "30", "securities");
  credit("acc_buyer", "USDC", "10000", "cash");
  LossyLedger lossy(*ledger_);
  auto flow = makeWorkflow(nullptr, &lossy);
  lossy.lose_next_settle_answer = true;
  Settlement s = submit("trd_lost_part", "50", "7500", true);
  Settlement now = driveToRest(s, flow.get());
  ASSERT_EQ(now.status, S::kFailed) << now.failure_code << ": " << now.failure_reason;
  EXPECT_EQ(now.settled_quantity, D("30"));
  EXPECT_EQ(now.settled_amount, D("4500"));
  auto path = eventStatuses(s);
  expectLegalPath(path);
  EXPECT_NE(std::find(path.begin(), path.end(), S::kPartiallySettled), path.end());
  auto dvp = ledger_->dvp(now.dvp_contract_id);
  ASSERT_TRUE(dvp.ok() && dvp->has_value());
  EXPECT_FALSE((*dvp)->active) << "the remainder's DvP of a FAILED settlement is still active";
  expectMoved("30", "4500", "30", "10000");
  expectLedgerConserved();
}

// Every command of a settlement, and every lookup of what one did, carries a floor no later than
// the command's completion: what lets a Canton adapter read only the recent completions. The
// first step's is the floor its first lease recorded (the ledger end before any of its commands);
// each later step's is the offset of the outcome before it (step_offset_floor), so a settlement in
// flight for long is not looked up from its first lease.
TEST_F(MoneyPath, CommandsAndLookupsCarryAFloorNoLaterThanTheirCompletion) {
  options_.retry_attempts = 0;
  creditTheStandardTrade();
  LossyLedger lossy(*ledger_);
  auto flow = makeWorkflow(nullptr, &lossy);
  Settlement s = submit("trd_floor", "50", "7524.00");
  const int64_t end_before = ledger_->ledgerEnd();
  ASSERT_GT(end_before, 0);
  lossy.lose_next_settle_answer = true;  // the failure path then asks what the settle did
  Settlement now = driveToRest(s, flow.get());
  EXPECT_TRUE(now.status == S::kConfirmed || now.status == S::kSettled)
      << toString(now.status) << " " << now.failure_code << ": " << now.failure_reason;
  EXPECT_EQ(now.ledger_offset_floor, end_before);
  ASSERT_FALSE(lossy.submitted_after.empty());
  ASSERT_FALSE(lossy.asked_after.empty());
  for (int64_t a : lossy.submitted_after) EXPECT_GE(a, end_before);
  for (int64_t a : lossy.asked_after) EXPECT_GE(a, end_before);
  // The safety of every floor: the command's completion is not before it.
  for (const auto& [id, floors] : lossy.floors_of) {
    auto done = ledger_->completion(id);
    ASSERT_TRUE(done.ok()) << done.error().message;
    if (!*done) continue;
    for (int64_t f : floors)
      EXPECT_GE((*done)->offset, f) << id << " completed before the floor it carried";
  }
  // And the floor moves: the settle's is its reassignment's outcome, not the first lease's.
  const std::string settle = commandId(now, steps::kSettle);
  ASSERT_TRUE(lossy.floors_of.count(settle));
  auto reassigned = ledger_->completion(commandId(now, steps::kReassign)).value();
  ASSERT_TRUE(reassigned);
  for (int64_t f : lossy.floors_of[settle]) EXPECT_EQ(f, reassigned->offset);
  EXPECT_GT(reassigned->offset, end_before);
  EXPECT_EQ(now.step_offset_floor, ledger_->completion(settle).value()->offset);
  expectMoved("50", "7524", "50", "7524");
}

// A part whose cash rounds up to the whole amount would leave a remainder owing nothing, which
// can never settle: the ledger refuses to lock it, as it refuses a part that would pay nothing.
TEST_F(MoneyPath, PartThatWouldPayTheWholeAmountIsNotLocked) {
  options_.retry_attempts = 5;
  workflow_ = makeWorkflow();
  credit("acc_seller", "AAPL", "999.9", "securities");
  credit("acc_buyer", "USDC", "1", "cash");
  // 0.00001 (1000 units) for 1000: 999.9 of it pays 999.9 units, which rounds to all 1000.
  Settlement s = submit("trd_round_up", "1000", "0.00001", true);
  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kInitiated) << now.failure_code << ": " << now.failure_reason;
  EXPECT_EQ(now.settled_quantity, Decimal());
  EXPECT_EQ(lockedOf("acc_seller", "AAPL"), Decimal());
  credit("acc_seller", "AAPL", "0.1", "securities");
  now = driveToRest(s);
  EXPECT_EQ(now.status, S::kSettled);
  expectMoved("1000", "0.00001", "1000", "1");
  expectLedgerConserved();
}

}  // namespace
}  // namespace sc::test

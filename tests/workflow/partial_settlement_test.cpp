// Partial settlement (DESIGN §4): pro-rata parts, the remainder recycled, the remainder that never
// comes.
// (The workflow on the real store and the real embedded ledger, driven by a fake clock; every test
// ends by checking that the ledger conserved every asset and that its indexes agree with its
// contracts: workflow_fixture.h.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "workflow_fixture.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using S = Status;

class WorkflowPartial : public WorkflowTest {};

TEST_F(WorkflowPartial, SellerWithThirtyOfFiftySettlesProRataThenTheRemainderIsRecycled) {
  credit("acc_seller", "AAPL", "30", "securities");
  credit("acc_buyer", "USDC", "10000", "cash");
  Settlement s = submit("trd_partial", "50", "7524.00000001", true);

  drain();
  Settlement now = load(s);
  ASSERT_EQ(now.status, S::kPartiallySettled);
  EXPECT_EQ(now.settled_quantity, D("30"));
  // 7524.00000001 * 30 / 50 = 4514.400000006 → 4514.40000001 (half-even, 8 dp)
  EXPECT_EQ(now.settled_amount, D("4514.40000001"));
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("30"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("4514.40000001"));
  EXPECT_GT(now.next_attempt_at, clock_.now());
  expectLedgerConserved();
  auto ev = events(s);
  ASSERT_FALSE(ev.empty());
  auto details = nlohmann::json::parse(ev.back().details);
  EXPECT_EQ(details["remaining_quantity"], "20.00000000");
  EXPECT_EQ(details["remaining_amount"], "3009.60000000");

  credit("acc_seller", "AAPL", "20", "securities");
  clock_.set(now.next_attempt_at);
  drain();
  now = load(s);
  EXPECT_EQ(now.status, S::kSettled);
  EXPECT_EQ(now.settled_quantity, D("50"));
  EXPECT_EQ(now.settled_amount, D("7524.00000001"));  // adds up exactly
  EXPECT_EQ(now.retry_count, 1);
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524.00000001"));
  EXPECT_EQ(free("acc_buyer", "USDC"), D("2475.99999999"));
  auto path = eventStatuses(s);
  expectLegalPath(path);
  EXPECT_EQ(std::count(path.begin(), path.end(), S::kPartiallySettled), 1);
  expectLedgerConserved();
}

// 100.00000001 for 3 units, delivered one unit at a time: every part is rounded half-even and
// the parts still add up to the trade's amount to the last unit.
TEST_F(WorkflowPartial, PartsDeliveredOneAtATimeAddUpToTheAmountExactly) {
  options_.retry_attempts = 5;
  workflow_ = makeWorkflow();
  credit("acc_seller", "AAPL", "1", "securities");
  credit("acc_buyer", "USDC", "1000", "cash");
  Settlement s = submit("trd_thirds", "3", "100.00000001", true);

  std::vector<Decimal> paid;
  Decimal before;
  for (int part = 1; part <= 3; ++part) {
    SCOPED_TRACE("part " + std::to_string(part));
    drain();
    Settlement now = load(s);
    paid.push_back(now.settled_amount.sub(before).value());
    before = now.settled_amount;
    EXPECT_EQ(now.settled_quantity, Decimal::fromInteger(part).value());
    if (part < 3) {
      ASSERT_EQ(now.status, S::kPartiallySettled);
      credit("acc_seller", "AAPL", "1", "securities");
      clock_.set(now.next_attempt_at);
    } else {
      EXPECT_EQ(now.status, S::kSettled);
    }
    expectLedgerConserved();
  }
  // 100.00000001 / 3 = 33.333333336…; the remainder 66.66666667 / 2 = 33.333333335 → …34 (even);
  // the last part takes what is left.
  EXPECT_EQ(paid, (std::vector<Decimal>{D("33.33333334"), D("33.33333334"), D("33.33333333")}));
  EXPECT_EQ(free("acc_seller", "USDC"), D("100.00000001"));
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("3"));
}

// Pro-rata cash of a later part must be computed as the ledger computes it, from the remainder
// (amount still due × delivered / quantity still due), or the ledger refuses the settle.
TEST_F(WorkflowPartial, LaterPartsLockTheCashTheRemainderDvpAsksFor) {
  options_.retry_attempts = 5;
  workflow_ = makeWorkflow();
  credit("acc_seller", "AAPL", "1", "securities");
  credit("acc_buyer", "USDC", "1000", "cash");
  // 100.0000001 for 4: a quarter is 25.000000025 → 25.00000002; the remainder 75.00000008 for 3
  // gives 25.00000002(67) → 25.00000003 for the second unit, not the 25.00000002 of a quarter.
  Settlement s = submit("trd_quarters", "4", "100.0000001", true);
  for (int part = 1; part <= 4; ++part) {
    SCOPED_TRACE("part " + std::to_string(part));
    drain();
    Settlement now = load(s);
    ASSERT_EQ(now.settled_quantity, Decimal::fromInteger(part).value())
        << toString(now.status) << " " << now.failure_code << ": " << now.failure_reason;
    if (part < 4) {
      ASSERT_EQ(now.status, S::kPartiallySettled);
      credit("acc_seller", "AAPL", "1", "securities");
      clock_.set(now.next_attempt_at);
    } else {
      EXPECT_EQ(now.status, S::kSettled);
      EXPECT_EQ(now.settled_amount, D("100.0000001"));
    }
  }
  EXPECT_EQ(free("acc_seller", "USDC"), D("100.0000001"));
  EXPECT_EQ(free("acc_buyer", "USDC"), D("899.9999999"));
  expectLedgerConserved();
}

TEST_F(WorkflowPartial, RemainderNeverDeliveredFailsAfterTheRetriesWithNoLocks) {
  credit("acc_seller", "AAPL", "30", "securities");
  credit("acc_buyer", "USDC", "10000", "cash");
  Settlement s = submit("trd_partial_fail", "50", "7500", true);
  drain();
  Settlement now = load(s);
  ASSERT_EQ(now.status, S::kPartiallySettled);
  for (int i = 0; i < 10 && now.status != S::kFailed; ++i) {
    clock_.set(std::max(clock_.now(), now.next_attempt_at));
    drain();
    now = load(s);
  }
  EXPECT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.settled_quantity, D("30"));  // the part that settled is final
  EXPECT_EQ(now.settled_amount, D("4500"));
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("30"));
  expectLegalPath(eventStatuses(s));
  expectLedgerConserved();
}

}  // namespace
}  // namespace sc::test

#include "domain/status.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace sc::test {
namespace {

using S = Status;

// The table of DESIGN §4, written out independently of the implementation.
const std::set<std::pair<S, S>> kAllowed = {
    {S::kPending, S::kInitiated},
    {S::kInitiated, S::kSellerSecuritiesLocked},
    {S::kSellerSecuritiesLocked, S::kBuyerCashLocked},
    {S::kBuyerCashLocked, S::kExecuting},
    {S::kExecuting, S::kConfirmed},
    {S::kConfirmed, S::kSettled},
    {S::kPending, S::kFailed},
    {S::kInitiated, S::kFailed},
    {S::kSellerSecuritiesLocked, S::kFailed},
    {S::kBuyerCashLocked, S::kFailed},
    {S::kExecuting, S::kFailed},
    {S::kExecuting, S::kPartiallySettled},
    {S::kPartiallySettled, S::kInitiated},
    {S::kPartiallySettled, S::kFailed},
    {S::kFailed, S::kPending},
    {S::kFailed, S::kInitiated},
};

TEST(SettlementTransitions, EveryPairOfStatesMatchesTheLifecycleTable) {
  int allowed = 0;
  for (S from : kAllStatuses) {
    for (S to : kAllStatuses) {
      bool expected = kAllowed.count({from, to}) > 0;
      EXPECT_EQ(isAllowedTransition(from, to), expected)
          << toString(from) << " -> " << toString(to);
      allowed += expected;
    }
  }
  EXPECT_EQ(allowed, static_cast<int>(kAllowed.size()));
}

TEST(SettlementTransitions, RejectsExecutingBeforeCashLocked) {
  EXPECT_FALSE(isAllowedTransition(S::kSellerSecuritiesLocked, S::kExecuting));
  EXPECT_FALSE(isAllowedTransition(S::kInitiated, S::kExecuting));
}

TEST(SettlementTransitions, SettledIsFinalAndConfirmedCannotFail) {
  for (S to : kAllStatuses) EXPECT_FALSE(isAllowedTransition(S::kSettled, to));
  EXPECT_FALSE(isAllowedTransition(S::kConfirmed, S::kFailed));
  EXPECT_TRUE(isTerminal(S::kSettled));
  EXPECT_FALSE(isActive(S::kFailed));
  EXPECT_TRUE(isActive(S::kPartiallySettled));
}

TEST(SettlementStatus, NamesRoundTripAndEventTypesArePrefixed) {
  for (S s : kAllStatuses) {
    EXPECT_EQ(parseStatus(toString(s)), s);
    EXPECT_EQ(eventTypeFor(s), "settlement_" + std::string(toString(s)));
  }
  EXPECT_FALSE(parseStatus("PENDING"));
  EXPECT_FALSE(parseStatus("done"));
}

}  // namespace
}  // namespace sc::test

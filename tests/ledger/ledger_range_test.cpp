// The embedded engine's ledger range (issue 15, DESIGN §5): holdings and totals are Numeric 10,
// far past a trade's DECIMAL(18,8); a credit past the range is refused naming asset and limit;
// what a DvP locks and settles stays a trade figure (8 decimals), even from 10-decimal holdings.
#include <gtest/gtest.h>

#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

LedgerAmount A(const char* s) { return LedgerAmount::parse(s).value(); }

class LedgerRangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger = openLedger(dir.path());
    buyer = ledger->allocateParty("buyer").value();
    seller = ledger->allocateParty("seller").value();
  }
  Result<Outcome> run(const std::string& id, Command c) {
    return ledger->submitOne(id, std::move(c));
  }
  TempDir dir;
  std::unique_ptr<EmbeddedLedger> ledger;
  std::string buyer, seller;
};

TEST_F(LedgerRangeTest, TotalsGrowPastDecimal18_8AndStopAtNumeric10) {
  ASSERT_TRUE(ledger->credit(buyer, "USDC", A("9000000000"), "cash"));
  // The report: this second credit was refused as exceeding DECIMAL(18,8).
  auto second = ledger->credit(seller, "USDC", A("1000000000.0000000001"), "cash");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->amount, A("1000000000.0000000001"));
  EXPECT_EQ(total(*ledger, "USDC"), A("10000000000.0000000001"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", A("9999999999999999989999999999.9999999998"), "cash"));
  EXPECT_EQ(total(*ledger, "USDC"), LedgerAmount::max());

  const auto before = snapshot(*ledger);
  auto over = ledger->credit(seller, "USDC", A("0.0000000001"), "cash");
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, kAmountOutOfRange);
  EXPECT_FALSE(over.error().retryable);
  EXPECT_EQ(over.error().field, "amount");
  EXPECT_NE(over.error().message.find("USDC"), std::string::npos) << over.error().message;
  EXPECT_NE(over.error().message.find(LedgerAmount::max().toString()), std::string::npos)
      << over.error().message;
  EXPECT_EQ(snapshot(*ledger), before);
  // The limit is per asset.
  EXPECT_TRUE(ledger->credit(seller, "AAPL", A("1"), "securities"));

  // Replay gives the same figures.
  ledger.reset();
  ledger = openLedger(dir.path());
  EXPECT_EQ(total(*ledger, "USDC"), LedgerAmount::max());
  EXPECT_TRUE(ledger->verifyIntegrity());
}

TEST_F(LedgerRangeTest, APartialLockFromTenDecimalHoldingsTakesATradeFigure) {
  ASSERT_TRUE(ledger->credit(seller, "AAPL", A("5.0000000055"), "settlement"));
  ASSERT_TRUE(ledger->credit(buyer, "USDC", A("100.0000000001"), "settlement"));
  auto dvp = run("d:create:1", dvpCommand(buyer, seller, "10", "3"));
  ASSERT_TRUE(dvp) << dvp.error().message;
  auto sec = run("d:sec:1", LockSecurities{dvp->contract_id, D("10"), true});
  ASSERT_TRUE(sec) << sec.error().message;
  EXPECT_EQ(sec->quantity, D("5"));  // 5.0000000055 cut to 8 decimals
  EXPECT_EQ(freeOf(*ledger, seller, "AAPL"), A("0.0000000055"));
  ASSERT_TRUE(run("d:cash:1", LockCash{dvp->contract_id, D("3")}));
  auto settled = run("d:settle:1", Settle{dvp->contract_id});
  ASSERT_TRUE(settled) << settled.error().message;
  EXPECT_EQ(settled->quantity, D("5"));
  EXPECT_EQ(settled->amount, D("1.5"));  // pro rata, half-even to 8 decimals
  EXPECT_EQ(freeOf(*ledger, buyer, "USDC"), A("98.5000000001"));
  EXPECT_EQ(freeOf(*ledger, seller, "USDC"), A("1.5"));
  EXPECT_EQ(total(*ledger, "AAPL"), A("5.0000000055"));
  // What is left below the trade's scale is not a part that can lock.
  auto rest = run("d:sec:2", LockSecurities{settled->remainder_dvp_contract_id, D("5"), true});
  ASSERT_FALSE(rest);
  EXPECT_EQ(rest.error().code, kInsufficientSecurities);
  EXPECT_NE(rest.error().message.find("0.0000000055"), std::string::npos) << rest.error().message;
  EXPECT_TRUE(ledger->verifyIntegrity());
}

}  // namespace
}  // namespace sc::test

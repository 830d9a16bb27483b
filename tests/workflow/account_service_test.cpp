// AccountService (src/workflow/account_service.h) over the in-memory accounts, a ledger with no
// engine and a fake clock (tests/support).
#include "workflow/account_service.h"

#include <gtest/gtest.h>

#include "support/fake_clock.h"
#include "support/fake_ledger.h"
#include "support/memory_store.h"

namespace sc::test {
namespace {

Decimal dec(const char* s) { return *Decimal::parse(s); }

class AccountServiceTest : public ::testing::Test {
 protected:
  FakeClock clock{startOf(Date(std::chrono::year(2024) / 11 / 17))};
  MemoryAccounts accounts;
  FakeLedger ledger;
  workflow::AccountService service{accounts, ledger, clock};
};

TEST_F(AccountServiceTest, CreateAllocatesThePartyFromTheHintAndStampsTheClock) {
  auto a =
      service.create(workflow::NewAccount{"acc_1", std::string("alice"), AccountStatus::kInactive});
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->canton_party, "alice::fake");
  EXPECT_EQ(a->status, AccountStatus::kInactive);
  EXPECT_EQ(a->created_at, clock.now());
  auto stored = accounts.find("acc_1");
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->canton_party, "alice::fake");
}

TEST_F(AccountServiceTest, CreateWithoutAPartyHintUsesTheAccountId) {
  auto a = service.create(workflow::NewAccount{"acc_1", std::nullopt, AccountStatus::kActive});
  ASSERT_TRUE(a);
  EXPECT_EQ(a->canton_party, "acc_1::fake");
}

TEST_F(AccountServiceTest, CreateRejectsATakenIdBeforeAllocatingAParty) {
  accounts.put("acc_1");
  auto a =
      service.create(workflow::NewAccount{"acc_1", std::string("alice"), AccountStatus::kActive});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, "account_exists");
  EXPECT_EQ(a.error().field, "account_id");
  EXPECT_FALSE(*ledger.partyExists("alice::fake"));
}

TEST_F(AccountServiceTest, CreatePassesALedgerFailureThroughAndStoresNothing) {
  ledger.fail_with = Error::transient("ledger_unavailable", "down");
  auto a = service.create(workflow::NewAccount{"acc_1", std::nullopt, AccountStatus::kActive});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, "ledger_unavailable");
  EXPECT_FALSE(*accounts.find("acc_1"));
}

TEST_F(AccountServiceTest, FindReportsAnUnknownAccountByName) {
  auto a = service.find("acc_none");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, "account_not_found");
  EXPECT_EQ(a.error().message, "account acc_none not found");
  EXPECT_EQ(a.error().field, "account_id");
}

TEST_F(AccountServiceTest, SetStatusStoresTheNewStatusAndReturnsTheAccount) {
  accounts.put("acc_1");
  auto a = service.setStatus("acc_1", AccountStatus::kInactive);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, AccountStatus::kInactive);
  EXPECT_EQ((*accounts.find("acc_1"))->status, AccountStatus::kInactive);
}

TEST_F(AccountServiceTest, SetStatusOfAnUnknownAccountIsNotFound) {
  auto a = service.setStatus("acc_none", AccountStatus::kInactive);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, "account_not_found");
}

TEST_F(AccountServiceTest, HoldingsSumFreeAndLockedAmountsPerAssetExactly) {
  accounts.put("acc_1");
  const std::string party = "acc_1::party";
  ASSERT_TRUE(ledger.credit(party, "USDC", dec("0.10000001"), "cash"));
  ASSERT_TRUE(ledger.credit(party, "USDC", dec("0.2"), "cash"));
  ASSERT_TRUE(ledger.credit(party, "AAPL", dec("50"), "securities"));
  ledger.putLocked(party, "AAPL", dec("7.5"));
  ASSERT_TRUE(ledger.credit("someone_else", "AAPL", dec("1000"), "securities"));

  auto view = service.holdings("acc_1");
  ASSERT_TRUE(view) << view.error().message;
  EXPECT_EQ(view->account.account_id, "acc_1");
  EXPECT_EQ(view->holdings.size(), 4u);
  ASSERT_EQ(view->balances.size(), 2u);
  EXPECT_EQ(view->balances[0].asset, "AAPL");
  EXPECT_EQ(view->balances[0].free.toString(8), "50.00000000");
  EXPECT_EQ(view->balances[0].locked.toString(8), "7.50000000");
  EXPECT_EQ(view->balances[1].asset, "USDC");
  EXPECT_EQ(view->balances[1].free.toString(8), "0.30000001");
  EXPECT_EQ(view->balances[1].locked.toString(8), "0.00000000");
}

TEST_F(AccountServiceTest, BalancesReportAnOverflowingSumInsteadOfWrapping) {
  ledger::HoldingView h;
  h.asset = "USDC";
  h.amount = LedgerAmount::max();
  auto sums = workflow::AccountService::balances({h, h});
  ASSERT_FALSE(sums);
  EXPECT_EQ(sums.error().code, "amount_out_of_range");
}

TEST_F(AccountServiceTest, BalancesSumLedgerFiguresPastDecimal18_8Exactly) {
  ledger::HoldingView h;
  h.asset = "USDC";
  h.amount = dec("9999999999");  // twice is past DECIMAL(18,8), well inside Numeric 10
  ledger::HoldingView tiny = h;
  tiny.amount = LedgerAmount::parse("0.0000000001").value();
  auto sums = workflow::AccountService::balances({h, h, tiny});
  ASSERT_TRUE(sums) << sums.error().message;
  EXPECT_EQ(sums->at(0).free.toString(8), "19999999998.0000000001");
}

TEST_F(AccountServiceTest, CreditGoesToTheAccountsParty) {
  accounts.put("acc_1");
  auto h = service.credit("acc_1", "USDC", dec("100"), "cash");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->owner, "acc_1::party");
  EXPECT_EQ(h->synchronizer, "cash");
  auto missing = service.credit("acc_none", "USDC", dec("100"), "cash");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "account_not_found");
}

}  // namespace
}  // namespace sc::test

// Issue 15's acceptance, against the built service: one asset's ledger total of 10^15 (far past a
// trade's DECIMAL(18,8)) across many accounts, credited through the API, with trades settling;
// totals and holdings exact (10 decimals where the ledger holds them), the same after a restart
// (journal replay); and a credit past the ledger's Numeric 10 range refused, naming asset and
// limit.
#include <gtest/gtest.h>

#include "e2e_fixture.h"
#include "support/trade_json.h"

namespace sc::test {
namespace {

constexpr int kAccounts = 20;
// 20 × 5 × 10^13 = 10^15; two of them split one share at the 10th decimal.
const char* kShare = "50000000000000";

std::string accountId(int i) { return "acc_" + std::to_string(100 + i); }

class LedgerRangeE2e : public E2eTest {
 protected:
  std::string submit(const std::string& trade_id, int buyer, int seller, const std::string& qty,
                     const std::string& amount) {
    TradeEvent t;
    t.trade_id = trade_id;
    t.buyer = accountId(buyer);
    t.seller = accountId(seller);
    t.quantity = qty;
    t.price = "";
    t.amount = amount;
    auto r = postTrade(t.text());
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("settlement_id", "");
  }
  Json totals() {
    auto r = get("/ledger/totals");
    EXPECT_EQ(r.status, 200u) << r.body;
    Json by_asset = Json::object();
    const Json body = r.json();  // a range-for over r.json()[...] would dangle
    for (const auto& t : body["totals"]) by_asset[t["asset"].get<std::string>()] = t;
    return by_asset;
  }
  // asset -> "free/locked" of one account.
  std::map<std::string, std::string> balances(const std::string& account) {
    auto r = get("/accounts/" + account + "/holdings");
    EXPECT_EQ(r.status, 200u) << r.body;
    std::map<std::string, std::string> out;
    const Json body = r.json();
    for (const auto& b : body["balances"])
      out[b["asset"].get<std::string>()] =
          b["free"].get<std::string>() + "/" + b["locked"].get<std::string>();
    return out;
  }
  std::map<std::string, std::map<std::string, std::string>> allBalances() {
    std::map<std::string, std::map<std::string, std::string>> out;
    for (int i = 0; i < kAccounts; ++i) out[accountId(i)] = balances(accountId(i));
    return out;
  }

  // 10^15 USDC over the accounts (two of them split one share at the 10th decimal), 1000 AAPL
  // each.
  void fundAccounts() {
    for (int i = 0; i < kAccounts; ++i) {
      createAccount(accountId(i));
      std::string share = kShare;
      if (i == 0) share = "49999999999999.9999999999";
      if (i == 1) share = "50000000000000.0000000001";
      credit(accountId(i), "USDC", share);
      credit(accountId(i), "AAPL", "1000");
    }
  }
};

TEST_F(LedgerRangeE2e, ATotalOfTenToTheFifteenSettlesAndReplaysExactly) {
  fundAccounts();
  Json t = totals();
  EXPECT_EQ(t["USDC"]["total"], "1000000000000000.00000000") << t.dump();
  EXPECT_EQ(t["USDC"]["locked"], "0.00000000");
  // Ledger figures: 8 decimals like the trade fields, more only where the ledger holds them.
  EXPECT_EQ(balances(accountId(0))["USDC"], "49999999999999.9999999999/0.00000000");
  EXPECT_EQ(balances(accountId(2))["USDC"], "50000000000000.00000000/0.00000000");

  // Trades at the top of DECIMAL(18,8) between the large holdings: 0 buys from 1, 2 from 3, ...
  std::vector<std::string> ids;
  for (int k = 0; k < 10; ++k) {
    ids.push_back(
        submit("trd_big_" + std::to_string(k), 2 * k, 2 * k + 1, "100", "9999999999.99999999"));
  }
  for (const auto& id : ids) {
    Json s = waitForStatus(id, "settled", std::chrono::seconds(60));
    EXPECT_EQ(s.value("settled_amount", ""), "9999999999.99999999") << s.dump();
  }
  t = totals();
  EXPECT_EQ(t["USDC"]["total"], "1000000000000000.00000000") << t.dump();  // conserved
  EXPECT_EQ(t["USDC"]["locked"], "0.00000000");
  EXPECT_EQ(t["AAPL"]["total"], "20000.00000000");
  // 49999999999999.9999999999 - 9999999999.99999999 and 50000000000000.0000000001 + it.
  EXPECT_EQ(balances(accountId(0))["USDC"], "49990000000000.0000000099/0.00000000");
  EXPECT_EQ(balances(accountId(0))["AAPL"], "1100.00000000/0.00000000");
  EXPECT_EQ(balances(accountId(1))["USDC"], "50009999999999.9999999901/0.00000000");
  EXPECT_EQ(balances(accountId(1))["AAPL"], "900.00000000/0.00000000");
  EXPECT_EQ(balances(accountId(2))["USDC"], "49990000000000.00000001/0.00000000");
  EXPECT_EQ(balances(accountId(3))["USDC"], "50009999999999.99999999/0.00000000");

  const auto before = allBalances();
  // Restart (the ledger too): the journal replays to the same figures.
  restartServiceAndLedger();
  EXPECT_EQ(totals(), t);
  EXPECT_EQ(allBalances(), before);
  for (const auto& id : ids) {
    auto r = get("/settlements/" + id);
    EXPECT_EQ(r.json().value("status", ""), "settled") << r.body;
  }
  // And the ledger keeps working at that size after the replay.
  credit(accountId(5), "USDC", "0.0000000001");
  EXPECT_EQ(totals()["USDC"]["total"], "1000000000000000.0000000001");
}

TEST_F(LedgerRangeE2e, ACreditPastTheNumeric10RangeIsRefusedNamingAssetAndLimit) {
  fundAccounts();
  const Json t = totals();
  const auto before = allBalances();
  // A credit past the Numeric 10 range: refused, naming the asset and the limit; nothing changes.
  auto over = post("/ledger/holdings", Json{{"account_id", accountId(5)},
                                            {"asset", "USDC"},
                                            {"amount", "9999999999999999999999999999"}});
  EXPECT_EQ(over.status, 400u) << over.body;
  EXPECT_EQ(over.json()["error"]["code"], "ledger_amount_out_of_range") << over.body;
  const std::string message = over.json()["error"]["message"].get<std::string>();
  EXPECT_NE(message.find("USDC"), std::string::npos) << message;
  EXPECT_NE(message.find("9999999999999999999999999999.9999999999"), std::string::npos) << message;
  auto too_long = post("/ledger/holdings", Json{{"account_id", accountId(5)},
                                                {"asset", "USDC"},
                                                {"amount", "10000000000000000000000000000"}});
  EXPECT_EQ(too_long.status, 400u) << too_long.body;
  EXPECT_EQ(too_long.json()["error"]["code"], "amount_out_of_range") << too_long.body;
  EXPECT_NE(too_long.body.find("credit of USDC"), std::string::npos) << too_long.body;
  EXPECT_EQ(totals(), t);
  EXPECT_EQ(allBalances(), before);
}

}  // namespace
}  // namespace sc::test

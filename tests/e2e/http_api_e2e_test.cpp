// End-to-end: the BUILT settlement-coordinator binary, started on a free port with its own
// PostgreSQL database and ledger folder, driven over HTTP (issue 2): every trade rejection code,
// idempotent resubmission, conflict, settlement to SETTLED, retry, listing and accounts. The HTTP
// protocol and operator endpoints are in http_protocol_e2e_test.cpp; configuration errors and
// graceful shutdown in service_lifecycle_e2e_test.cpp.
#include "e2e/http_api_e2e.h"

#include <set>
#include <string>
#include <vector>

namespace sc::test {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// --- every rejection code ------------------------------------------------------------------------

struct RejectionCase {
  std::string code;
  std::string field;  // the field the error names ("" for none)
  std::function<std::string()> body;
};

Json tradeWith(std::initializer_list<std::pair<const char*, Json>> changes,
               std::vector<const char*> remove = {}) {
  Json t = E2eTest::validTrade("trd_rejected");
  for (auto& [k, v] : changes) t[k] = v;
  for (auto* k : remove) t.erase(k);
  return t;
}

std::vector<RejectionCase> rejectionCases() {
  auto with = [](std::initializer_list<std::pair<const char*, Json>> changes,
                 std::vector<const char*> remove = {}) {
    std::string body = tradeWith(changes, std::move(remove)).dump();
    return [body] { return body; };
  };
  return {
      {"invalid_json", "", [] { return std::string(R"({"trade_id": "trd_1", )"); }},
      {"missing_field", "quantity", with({}, {"quantity"})},
      {"invalid_field_type", "symbol", with({{"symbol", 42}})},
      {"invalid_event_type", "event_type", with({{"event_type", "trade_cancelled"}})},
      {"invalid_id", "trade_id", with({{"trade_id", "trd with spaces!"}})},
      {"invalid_decimal", "quantity", with({{"quantity", "fifty"}})},
      {"decimal_too_precise", "quantity", with({{"quantity", "50.000000001"}})},
      {"decimal_out_of_range", "amount", with({{"amount", "12345678901.00"}})},
      {"non_positive_quantity", "quantity", with({{"quantity", "0"}})},
      {"non_positive_amount", "amount", with({{"amount", "0.00"}})},
      {"non_positive_price", "price", with({{"price", "0"}})},
      {"amount_mismatch", "amount", with({{"amount", "7524.01"}})},
      {"self_trade", "seller_account_id", with({{"seller_account_id", "acc_buyer"}})},
      {"invalid_symbol", "symbol", with({{"symbol", "AAPLUSDC"}})},
      {"unknown_symbol", "symbol", with({{"symbol", "TSLA/USDC"}})},
      {"invalid_date", "settlement_date", with({{"settlement_date", "2024-02-30"}})},
      {"invalid_timestamp", "executed_at", with({{"executed_at", "yesterday afternoon"}})},
      {"settlement_date_before_trade_date", "settlement_date",
       with({{"settlement_date", "2024-11-16"}})},
      {"unknown_account", "buyer_account_id", with({{"buyer_account_id", "acc_nobody"}})},
      {"inactive_account", "seller_account_id", with({{"seller_account_id", "acc_dormant"}})},
  };
}

void PrintTo(const RejectionCase& c, std::ostream* os) { *os << c.code; }

class TradeRejectionE2e : public HttpApiE2e, public ::testing::WithParamInterface<RejectionCase> {};

TEST_P(TradeRejectionE2e, PostTradeAnswers400WithTheReasonCodeAndRecordsNothing) {
  createTradingAccounts();
  createAccount("acc_dormant", "inactive");
  const RejectionCase& c = GetParam();
  auto r = postTrade(c.body());
  expectError(r, 400, c.code, c.field);
  EXPECT_EQ(settlementTotal(), 0) << "a rejected trade must not create a settlement";
  // The service counts it.
  auto m = get("/metrics");
  EXPECT_NE(m.body.find("sc_intake_rejected_total 1\n"), std::string::npos) << m.body;
}

INSTANTIATE_TEST_SUITE_P(EveryReasonCode, TradeRejectionE2e, ::testing::ValuesIn(rejectionCases()),
                         [](const ::testing::TestParamInfo<RejectionCase>& info) {
                           return info.param.code;
                         });

TEST_F(HttpApiE2e, TradeFromAnAccountMadeInactiveByPatchIsRejected) {
  createTradingAccounts();
  auto p = http().request("PATCH", "/accounts/acc_buyer", R"({"status":"inactive"})");
  ASSERT_EQ(p.status, 200u) << p.body;
  EXPECT_EQ(p.json().value("status", ""), "inactive");
  expectError(postTrade(validTrade("trd_1")), 400, "inactive_account", "buyer_account_id");
  EXPECT_EQ(get("/accounts/acc_buyer").json().value("status", ""), "inactive");
}

TEST_F(HttpApiE2e, SameTradeIdWithDifferentContentIsAConflict) {
  createTradingAccounts();
  auto first = postTrade(validTrade("trd_1"));
  ASSERT_EQ(first.status, 201u) << first.body;
  std::string id = first.json()["settlement_id"];
  Json changed = validTrade("trd_1");
  changed["quantity"] = "51";
  changed["amount"] = "7674.48";
  auto r = postTrade(changed);
  expectError(r, 409, "trade_conflict", "trade_id");
  EXPECT_NE(r.json()["error"].value("message", "").find(id), std::string::npos)
      << "the conflict should name the existing settlement: " << r.body;
  EXPECT_EQ(settlementTotal(), 1);
}

// --- acceptance, idempotency, settlement ---------------------------------------------------------

TEST_F(HttpApiE2e, ValidTradeIsAcceptedAsPendingWithTheSpecFields) {
  createTradingAccounts();
  auto r = postTrade(validTrade("trd_1234567890abcdef"));
  ASSERT_EQ(r.status, 201u) << r.body;
  Json s = r.json();
  EXPECT_EQ(s.value("status", ""), "pending");
  std::string id = s.value("settlement_id", "");
  EXPECT_TRUE(id.starts_with("set_") && id.size() == 36) << id;
  EXPECT_EQ(s.value("trade_id", ""), "trd_1234567890abcdef");
  EXPECT_EQ(s.value("buyer_account_id", ""), "acc_buyer");
  EXPECT_EQ(s.value("seller_account_id", ""), "acc_seller");
  EXPECT_EQ(s.value("symbol", ""), "AAPL/USDC");
  EXPECT_EQ(s.value("quantity", ""), "50.00000000");
  EXPECT_EQ(s.value("amount", ""), "7524.00000000");
  EXPECT_EQ(s.value("settlement_date", ""), "2024-11-19T00:00:00Z");
  for (const char* k : {"initiated_at", "confirmed_at", "settled_at", "dvp_atomic_transaction_id",
                        "buyer_securities_ledger_ref", "seller_cash_ledger_ref"})
    EXPECT_TRUE(s.contains(k)) << k << " missing: " << r.body;
}

TEST_F(HttpApiE2e, ResubmittingTheSameTradeAnswers200WithTheSameSettlement) {
  createTradingAccounts();
  auto first = postTrade(validTrade("trd_1"));
  ASSERT_EQ(first.status, 201u) << first.body;
  auto again = postTrade(validTrade("trd_1"));
  ASSERT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(again.json()["settlement_id"], first.json()["settlement_id"]);
  // A redelivery under a new event id is the same trade too (event_id is not content).
  Json redelivered = validTrade("trd_1");
  redelivered["event_id"] = "evt_redelivered";
  auto third = postTrade(redelivered);
  ASSERT_EQ(third.status, 200u) << third.body;
  EXPECT_EQ(third.json()["settlement_id"], first.json()["settlement_id"]);
  EXPECT_EQ(settlementTotal(), 1);
}

TEST_F(HttpApiE2e, FundedTradeSettlesAndItsEventsFollowTheLifecycle) {
  createTradingAccounts();
  credit("acc_seller", "AAPL", "50");
  credit("acc_buyer", "USDC", "7524");
  auto r = postTrade(validTrade("trd_1"));
  ASSERT_EQ(r.status, 201u) << r.body;
  std::string id = r.json()["settlement_id"];

  Json s = waitForStatus(id, "settled");
  ASSERT_EQ(s.value("status", ""), "settled");
  EXPECT_EQ(s.value("settlement_id", ""), id);
  EXPECT_EQ(s.value("trade_id", ""), "trd_1");
  EXPECT_EQ(s.value("quantity", ""), "50.00000000");
  EXPECT_EQ(s.value("amount", ""), "7524.00000000");
  EXPECT_EQ(s.value("settlement_date", ""), "2024-11-19T00:00:00Z");
  for (const char* k : {"initiated_at", "confirmed_at", "settled_at", "dvp_atomic_transaction_id",
                        "buyer_securities_ledger_ref", "seller_cash_ledger_ref"}) {
    ASSERT_TRUE(s.contains(k) && s[k].is_string())
        << k << " should be set once settled: " << s.dump();
    EXPECT_FALSE(s[k].get<std::string>().empty()) << k;
  }
  EXPECT_LE(s["initiated_at"].get<std::string>(), s["confirmed_at"].get<std::string>());
  EXPECT_LE(s["confirmed_at"].get<std::string>(), s["settled_at"].get<std::string>());

  auto statuses = eventStatuses(id);
  EXPECT_EQ(statuses,
            (std::vector<std::string>{"pending", "initiated", "seller_securities_locked",
                                      "buyer_cash_locked", "executing", "confirmed", "settled"}));
  expectLegalPath(statuses);

  // Delivery versus payment: the buyer holds the securities, the seller the cash.
  auto buyer = get("/accounts/acc_buyer/holdings").json();
  auto seller = get("/accounts/acc_seller/holdings").json();
  auto freeOf = [](const Json& h, const std::string& asset) {
    for (auto& b : h["balances"])
      if (b.value("asset", "") == asset) return b.value("free", "");
    return std::string("0.00000000");
  };
  EXPECT_EQ(freeOf(buyer, "AAPL"), "50.00000000") << buyer.dump();
  EXPECT_EQ(freeOf(buyer, "USDC"), "0.00000000") << buyer.dump();
  EXPECT_EQ(freeOf(seller, "USDC"), "7524.00000000") << seller.dump();
  EXPECT_EQ(freeOf(seller, "AAPL"), "0.00000000") << seller.dump();
}

TEST_F(HttpApiE2e, ResubmissionOfAnAcceptedTradeIsStill200AfterAnAccountIsDeactivated) {
  // The trade was accepted: telling its sender "rejected: inactive_account" now would contradict
  // the settlement that exists (and may settle); a resubmission is answered with that settlement.
  createTradingAccounts();
  auto first = postTrade(validTrade("trd_1"));
  ASSERT_EQ(first.status, 201u) << first.body;
  ASSERT_EQ(http().request("PATCH", "/accounts/acc_seller", R"({"status":"inactive"})").status,
            200u);
  auto again = postTrade(validTrade("trd_1"));
  EXPECT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(again.json()["settlement_id"], first.json()["settlement_id"]) << again.body;
  // A new trade from that account is rejected, though.
  expectError(postTrade(validTrade("trd_2")), 400, "inactive_account", "seller_account_id");
}

TEST_F(HttpApiE2e, SettlementIsFoundByItsCanonicalUuidToo) {
  createTradingAccounts();
  std::string id = postTrade(validTrade("trd_1")).json()["settlement_id"];
  std::string hex = id.substr(4);
  std::string uuid = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
                     hex.substr(16, 4) + "-" + hex.substr(20);
  auto r = get("/settlements/" + uuid);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json().value("settlement_id", ""), id);
  EXPECT_EQ(get("/settlements/" + uuid + "/events").status, 200u);
}

// --- retry ---------------------------------------------------------------------------------------

TEST_F(HttpApiE2e, RetryOfASettledSettlementIs409NamingItsStatus) {
  createTradingAccounts();
  credit("acc_seller", "AAPL", "50");
  credit("acc_buyer", "USDC", "7524");
  std::string id = postTrade(validTrade("trd_1")).json()["settlement_id"];
  waitForStatus(id, "settled");
  auto r = post("/settlements/" + id + "/retry", Json{{"reason", "just in case"}});
  expectError(r, 409, "invalid_state");
  EXPECT_NE(r.json()["error"].value("message", "").find("settled"), std::string::npos) << r.body;
  EXPECT_EQ(get("/settlements/" + id).json().value("retry_count", -1), 0);
}

TEST_F(HttpApiE2e, RetryOfAnUnknownSettlementIs404AndOfAMalformedIdIs400) {
  expectError(post("/settlements/" + kUnknownSettlementId + "/retry", Json{{"reason", "x"}}), 404,
              "settlement_not_found", kAnyField);
  expectError(post("/settlements/not-an-id/retry", Json{{"reason", "x"}}), 400, "invalid_id",
              "settlement_id");
}

TEST_F(HttpApiE2e, RetryWithoutAReasonIs400) {
  expectError(post("/settlements/" + kUnknownSettlementId + "/retry", Json::object()), 400,
              "missing_field", "reason");
  expectError(post("/settlements/" + kUnknownSettlementId + "/retry", std::string("not json")), 400,
              "invalid_json");
}

TEST_F(HttpApiE2e, FailedSettlementRetriedAfterTheSellerIsFundedSettles) {
  createTradingAccounts();
  credit("acc_seller", "AAPL", "10");  // 50 needed, partial settlement not allowed
  credit("acc_buyer", "USDC", "7524");
  auto created = postTrade(validTrade("trd_1"));
  ASSERT_EQ(created.status, 201u) << created.body;
  std::string id = created.json()["settlement_id"];
  Json failed = waitForStatus(id, "failed");
  ASSERT_EQ(failed.value("status", ""), "failed");
  EXPECT_TRUE(failed["failure_reason"].is_string()) << failed.dump();
  EXPECT_TRUE(failed["failed_at"].is_string()) << failed.dump();
  int retries_before = failed.value("retry_count", -1);

  // Nothing stays locked on a failed settlement.
  auto seller = get("/accounts/acc_seller/holdings").json();
  for (auto& b : seller["balances"])
    EXPECT_EQ(b.value("locked", ""), "0.00000000") << seller.dump();

  credit("acc_seller", "AAPL", "50");
  auto r = post("/settlements/" + id + "/retry", Json{{"reason", "Securities delivered"}});
  ASSERT_EQ(r.status, 200u) << r.body;
  Json j = r.json();
  EXPECT_EQ(j.value("settlement_id", ""), id);
  std::set<std::string> resumed = {"pending", "initiated"};
  EXPECT_TRUE(resumed.count(j.value("status", ""))) << r.body;
  EXPECT_EQ(j.value("retry_count", -1), retries_before + 1) << r.body;
  EXPECT_EQ(j.value("message", ""), "Settlement retry initiated");

  Json settled = waitForStatus(id, "settled");
  EXPECT_EQ(settled.value("retry_count", -1), retries_before + 1);
  auto statuses = eventStatuses(id);
  expectLegalPath(statuses);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), "failed"), 1);
  EXPECT_EQ(statuses.back(), "settled");
  // Retrying again is refused: it is settled now.
  expectError(post("/settlements/" + id + "/retry", Json{{"reason", "again"}}), 409,
              "invalid_state");
}

// --- listing -------------------------------------------------------------------------------------

TEST_F(HttpApiE2e, ListFiltersByAccountStatusAndDatePagesAndIsNewestFirst) {
  for (auto* a : {"acc_a", "acc_b", "acc_c"}) createAccount(a);
  credit("acc_b", "AAPL", "50");
  credit("acc_a", "USDC", "7524");
  Json t1 = validTrade("trd_1", "acc_a", "acc_b");  // funded: settles
  Json t2 = validTrade("trd_2", "acc_b", "acc_c");  // C has no securities: fails
  t2["settlement_date"] = "2024-11-20";
  Json t3 = validTrade("trd_3", "acc_c", "acc_a");  // C has no cash: fails
  t3["settlement_date"] = "2024-11-21";
  std::vector<std::string> ids;
  for (auto* t : {&t1, &t2, &t3}) {
    auto r = postTrade(*t);
    ASSERT_EQ(r.status, 201u) << r.body;
    ids.push_back(r.json()["settlement_id"]);
  }
  waitForStatus(ids[0], "settled");
  waitForStatus(ids[1], "failed");
  waitForStatus(ids[2], "failed");

  using V = std::vector<std::string>;
  auto all = get("/settlements").json();
  EXPECT_EQ(all.value("total", -1), 3);
  EXPECT_EQ(all.value("limit", -1), 50);
  EXPECT_EQ(listedTradeIds(""), (V{"trd_3", "trd_2", "trd_1"}));
  for (auto& s : all["settlements"])
    for (const char* k : {"settlement_id", "trade_id", "symbol", "quantity", "amount", "status",
                          "settlement_date", "settled_at"})
      EXPECT_TRUE(s.contains(k)) << k << " missing: " << s.dump();

  EXPECT_EQ(listedTradeIds("?account_id=acc_a"), (V{"trd_3", "trd_1"}));
  EXPECT_EQ(listedTradeIds("?status=settled"), (V{"trd_1"}));
  EXPECT_EQ(listedTradeIds("?status=failed"), (V{"trd_3", "trd_2"}));
  EXPECT_EQ(listedTradeIds("?status=settled,failed"), (V{"trd_3", "trd_2", "trd_1"}));
  EXPECT_EQ(listedTradeIds("?status=pending"), V{});
  EXPECT_EQ(listedTradeIds("?start_date=2024-11-20"), (V{"trd_3", "trd_2"}));
  EXPECT_EQ(listedTradeIds("?end_date=2024-11-20"), (V{"trd_2", "trd_1"}));
  EXPECT_EQ(listedTradeIds("?start_date=2024-11-20&end_date=2024-11-20"), (V{"trd_2"}));
  EXPECT_EQ(listedTradeIds("?account_id=acc_c&status=failed&start_date=2024-11-21"), (V{"trd_3"}));
  EXPECT_EQ(settlementTotal("?account_id=acc_b"), 2);

  auto page = get("/settlements?limit=1&offset=1").json();
  EXPECT_EQ(page.value("total", -1), 3) << "total counts every match, not the page";
  EXPECT_EQ(page.value("limit", -1), 1);
  ASSERT_EQ(page["settlements"].size(), 1u) << page.dump();
  EXPECT_EQ(page["settlements"][0].value("trade_id", ""), "trd_2");
  EXPECT_EQ(listedTradeIds("?limit=2"), (V{"trd_3", "trd_2"}));
  EXPECT_EQ(listedTradeIds("?offset=3"), V{});
  EXPECT_EQ(settlementTotal("?offset=3"), 3);
  EXPECT_EQ(listedTradeIds("?limit=1000"), (V{"trd_3", "trd_2", "trd_1"}));
}

TEST_F(HttpApiE2e, ListWithABadParameterIs400NamingIt) {
  struct Bad {
    std::string query, field;
  };
  for (const Bad& b : std::vector<Bad>{{"limit=0", "limit"},
                                       {"limit=1001", "limit"},
                                       {"limit=ten", "limit"},
                                       {"limit=-5", "limit"},
                                       {"offset=-1", "offset"},
                                       {"offset=1.5", "offset"},
                                       {"status=lost", "status"},
                                       {"status=settled,nope", "status"},
                                       {"start_date=2024-13-01", "start_date"},
                                       {"end_date=yesterday", "end_date"},
                                       {"start_date=2024-11-21&end_date=2024-11-20", "end_date"},
                                       {"account_id=bad%20id", "account_id"}}) {
    SCOPED_TRACE(b.query);
    auto r = get("/settlements?" + b.query);
    expectError(r, 400, "invalid_parameter", b.field);
  }
}

// --- accounts ------------------------------------------------------------------------------------

TEST_F(HttpApiE2e, AccountsAreCreatedOnceAndLookedUp) {
  auto r = post("/accounts", Json{{"account_id", "acc_1"}});
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.json().value("account_id", ""), "acc_1");
  EXPECT_EQ(r.json().value("status", ""), "active");
  EXPECT_FALSE(r.json().value("canton_party", "").empty()) << r.body;

  expectError(post("/accounts", Json{{"account_id", "acc_1"}}), 409, "account_exists",
              "account_id");
  auto g = get("/accounts/acc_1");
  ASSERT_EQ(g.status, 200u) << g.body;
  EXPECT_EQ(g.json()["canton_party"], r.json()["canton_party"]);

  expectError(get("/accounts/acc_nobody"), 404, "account_not_found", "account_id");
  expectError(get("/accounts/bad%20id"), 400, "invalid_id", "account_id");
  expectError(post("/accounts", Json{{"account_id", "has space"}}), 400, "invalid_id",
              "account_id");
  expectError(post("/accounts", Json::object()), 400, "missing_field", "account_id");
  expectError(post("/accounts", Json{{"account_id", "acc_2"}, {"status", "sleepy"}}), 400,
              "invalid_parameter", "status");
}

}  // namespace
}  // namespace sc::test

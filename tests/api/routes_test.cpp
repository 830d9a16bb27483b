// Every route over real HTTP against in-memory fakes: shapes (field names as the spec), status
// codes and the error mapping.
#include "api/test_server.h"

namespace sc::test {
namespace {

using Json = nlohmann::json;

Settlement settlementIn(Status status, const std::string& trade_id, Date settlement_date,
                        const std::string& buyer = "acc_buyer") {
  Settlement s;
  s.id = Uuid::generateV7();
  s.trade.trade_id = trade_id;
  s.trade.buyer_account_id = buyer;
  s.trade.seller_account_id = "acc_seller";
  s.trade.symbol = "AAPL/USDC";
  s.trade.quantity = *Decimal::parse("50");
  s.trade.amount = *Decimal::parse("7524");
  s.trade.settlement_date = settlement_date;
  s.status = status;
  return s;
}

Date nov(int day) { return Date(std::chrono::year(2024) / 11 / day); }

class Routes : public ApiServerTest {};

TEST_F(Routes, PostTradeCreatesPendingSettlementWithSpecShape) {
  auto r = http().post("/trades", tradeJson());
  ASSERT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_FALSE(r.header("server").empty());
  Json j = r.json();
  for (const char* f : {"settlement_id",
                        "trade_id",
                        "buyer_account_id",
                        "seller_account_id",
                        "symbol",
                        "quantity",
                        "amount",
                        "status",
                        "settlement_date",
                        "initiated_at",
                        "confirmed_at",
                        "settled_at",
                        "dvp_atomic_transaction_id",
                        "buyer_securities_ledger_ref",
                        "seller_cash_ledger_ref",
                        "price",
                        "allow_partial",
                        "executed_at",
                        "failed_at",
                        "failure_reason",
                        "retry_count",
                        "settled_quantity",
                        "created_at",
                        "updated_at"})
    EXPECT_TRUE(j.contains(f)) << f;
  EXPECT_EQ(j["status"], "pending");
  EXPECT_EQ(j["trade_id"], "trd_1");
  EXPECT_EQ(j["quantity"], "50.00000000");
  EXPECT_EQ(j["amount"], "7524.00000000");
  EXPECT_EQ(j["price"], "150.48000000");
  EXPECT_EQ(j["settlement_date"], "2024-11-19T00:00:00Z");
  EXPECT_EQ(j["executed_at"], "2024-11-17T16:30:00Z");
  EXPECT_TRUE(j["initiated_at"].is_null());
  EXPECT_TRUE(j["dvp_atomic_transaction_id"].is_null());
  std::string id = j["settlement_id"];
  EXPECT_EQ(id.rfind("set_", 0), 0u);
  EXPECT_EQ(id.size(), 36u);
}

TEST_F(Routes, PostTradeTwiceWithSameContentReturns200AndTheSameSettlement) {
  auto id = createSettlement();
  auto r = http().post("/trades", tradeJson());
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["settlement_id"], id);
}

TEST_F(Routes, PostTradeWithDifferentContentForSameIdIs409TradeConflict) {
  createSettlement();
  std::string changed = tradeJson();
  changed.replace(changed.find("2024-11-19"), 10, "2024-11-20");
  auto r = http().post("/trades", changed);
  ASSERT_EQ(r.status, 409u) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "trade_conflict");
}

TEST_F(Routes, PostTradeRejectionsAre400WithReasonCodeAndField) {
  struct Case {
    std::string body, code, field;
  } cases[] = {
      {"{not json", "invalid_json", ""},
      {tradeJson("trd_2", "50", "acc_buyer", "acc_buyer"), "self_trade", ""},
      {tradeJson("trd_3", "50", "acc_nobody"), "unknown_account", "buyer_account_id"},
      {tradeJson("trd_4", "-5"), "", ""},
  };
  for (const auto& c : cases) {
    auto r = http().post("/trades", c.body);
    EXPECT_EQ(r.status, 400u) << c.body << " -> " << r.body;
    Json e = r.json()["error"];
    EXPECT_TRUE(e["code"].is_string() && e["message"].is_string()) << r.body;
    if (!c.code.empty()) EXPECT_EQ(e["code"], c.code) << r.body;
    if (!c.field.empty()) EXPECT_EQ(e["field"], c.field) << r.body;
  }
}

TEST_F(Routes, PostTradeForInactiveAccountIs400) {
  accounts.put("acc_sleepy", AccountStatus::kInactive);
  auto r = http().post("/trades", tradeJson("trd_9", "50", "acc_sleepy"));
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.json()["error"]["code"], "inactive_account");
}

TEST_F(Routes, DatabaseUnavailableIs503WithRetryAfter) {
  repo.fail_with = Error::transient("database_unavailable", "connection refused");
  auto r = http().post("/trades", tradeJson());
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "database_unavailable");
  EXPECT_EQ(r.header("retry-after"), "1");
  auto g = http().get("/settlements");
  EXPECT_EQ(g.status, 503u);
}

TEST_F(Routes, UnexpectedPermanentStoreErrorIs500) {
  repo.fail_with = Error::permanent("illegal_transition", "bug");
  EXPECT_EQ(http().get("/settlements").status, 500u);
}

TEST_F(Routes, GetSettlementAcceptsPrefixedAndCanonicalIds) {
  auto id = createSettlement();
  auto r = http().get("/settlements/" + id);
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json()["settlement_id"], id);
  auto uuid = Uuid::parsePrefixed(id, kSettlementPrefix);
  ASSERT_TRUE(uuid);
  auto c = http().get("/settlements/" + uuid->canonical());
  EXPECT_EQ(c.status, 200u);
  EXPECT_EQ(c.json()["settlement_id"], id);
}

TEST_F(Routes, GetSettlementRendersLedgerRefsAndTimestamps) {
  Settlement s = settlementIn(Status::kConfirmed, "trd_x", nov(19));
  s.initiated_at = clock.now();
  s.confirmed_at = clock.now() + std::chrono::seconds(45);
  s.dvp_atomic_transaction_id = "upd_1";
  s.buyer_securities_ledger_ref = "sec_buyer_ref_123";
  s.seller_cash_ledger_ref = "cash_seller_ref_123";
  repo.put(s);
  Json j = http().get("/settlements/" + s.settlementId()).json();
  EXPECT_EQ(j["status"], "confirmed");
  EXPECT_EQ(j["initiated_at"], "2024-11-17T16:30:00Z");
  EXPECT_EQ(j["confirmed_at"], "2024-11-17T16:30:45Z");
  EXPECT_TRUE(j["settled_at"].is_null());
  EXPECT_EQ(j["dvp_atomic_transaction_id"], "upd_1");
  EXPECT_EQ(j["buyer_securities_ledger_ref"], "sec_buyer_ref_123");
  EXPECT_EQ(j["seller_cash_ledger_ref"], "cash_seller_ref_123");
}

TEST_F(Routes, GetUnknownSettlementIs404AndMalformedIdIs400) {
  auto r = http().get("/settlements/" + Uuid::generateV7().prefixed(kSettlementPrefix));
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.json()["error"]["code"], "settlement_not_found");
  auto bad = http().get("/settlements/set_nothex");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(bad.json()["error"]["code"], "invalid_id");
  EXPECT_EQ(bad.json()["error"]["field"], "settlement_id");
}

TEST_F(Routes, ListSettlementsReturnsPageWithTotalLimitOffset) {
  for (int i = 0; i < 3; ++i)
    repo.put(settlementIn(Status::kSettled, "trd_" + std::to_string(i), nov(19)));
  repo.put(settlementIn(Status::kFailed, "trd_f", nov(20), "acc_other"));
  auto r = http().get("/settlements?status=settled&limit=2");
  ASSERT_EQ(r.status, 200u) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["total"], 3);
  EXPECT_EQ(j["limit"], 2);
  EXPECT_EQ(j["offset"], 0);
  ASSERT_EQ(j["settlements"].size(), 2u);
  Json row = j["settlements"][0];
  for (const char* f : {"settlement_id", "trade_id", "symbol", "quantity", "amount", "status",
                        "settlement_date", "settled_at", "buyer_account_id", "seller_account_id"})
    EXPECT_TRUE(row.contains(f)) << f;
  EXPECT_EQ(row["settlement_date"], "2024-11-19T00:00:00Z");
}

TEST_F(Routes, ListSettlementsPagesWithNextCursorUntilNull) {
  for (int i = 0; i < 5; ++i)
    repo.put(settlementIn(Status::kSettled, "trd_" + std::to_string(i), nov(19)));
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (; pages < 10; ++pages) {
    auto r = http().get("/settlements?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(r.status, 200u) << r.body;
    Json j = r.json();
    EXPECT_EQ(j["total"], 5);  // the whole collection, whatever the page
    for (const auto& row : j["settlements"]) seen.push_back(row["trade_id"]);
    ASSERT_TRUE(j.contains("next_cursor"));
    if (j["next_cursor"].is_null()) break;
    cursor = j["next_cursor"];
  }
  EXPECT_EQ(pages, 2);  // 2 + 2 + 1, the last with next_cursor null
  std::vector<std::string> all = seen;
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{"trd_0", "trd_1", "trd_2", "trd_3", "trd_4"}));
}

TEST_F(Routes, ListSettlementsPassesDecodedFiltersToTheRepository) {
  auto r = http().get(
      "/settlements?account_id=acc%5Fbuyer&status=failed%2Csettled&start_date=2024-11-01"
      "&end_date=2024-11-30&limit=10&offset=5");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto q = repo.lastQuery();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->account_id, "acc_buyer");
  EXPECT_EQ(q->statuses, (std::vector<Status>{Status::kFailed, Status::kSettled}));
  EXPECT_EQ(q->start_date, nov(1));
  EXPECT_EQ(q->end_date, nov(30));
  EXPECT_EQ(q->limit, 10);
  EXPECT_EQ(q->offset, 5);
  EXPECT_EQ(http().get("/settlements").json()["limit"], 50);
}

TEST_F(Routes, ListSettlementsRejectsBadParametersNamingThem) {
  struct Case {
    std::string query, field;
  } cases[] = {
      {"limit=1001", "limit"},
      {"limit=0", "limit"},
      {"limit=ten", "limit"},
      {"limit=-1", "limit"},
      {"offset=-3", "offset"},
      {"offset=x", "offset"},
      {"offset=10001", "offset"},
      {"cursor=", "cursor"},
      {"cursor=abc", "cursor"},
      {"cursor=-5_00000000000000000000000000000000", "cursor"},
      {"cursor=5_0000", "cursor"},
      {"status=done", "status"},
      {"status=settled,", "status"},
      {"start_date=2024-13-01", "start_date"},
      {"end_date=yesterday", "end_date"},
      {"start_date=0000-01-01", "start_date"},
      {"end_date=0000-12-31", "end_date"},
      {"start_date=2024-11-20&end_date=2024-11-19", "end_date"},
      {"account_id=a%20b", "account_id"},
  };
  for (const auto& c : cases) {
    auto r = http().get("/settlements?" + c.query);
    EXPECT_EQ(r.status, 400u) << c.query;
    EXPECT_EQ(r.json()["error"]["code"], "invalid_parameter") << c.query;
    EXPECT_EQ(r.json()["error"]["field"], c.field) << c.query;
  }
  EXPECT_EQ(http().get("/settlements?status=%zz").status, 400u);
}

TEST_F(Routes, RetryFailedSettlementReturnsNewStatusAndCount) {
  Settlement s = settlementIn(Status::kFailed, "trd_r", nov(19));
  s.retry_count = 1;
  repo.put(s);
  auto r = http().post("/settlements/" + s.settlementId() + "/retry",
                       R"({"reason":"Domain connectivity restored"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["settlement_id"], s.settlementId());
  EXPECT_EQ(j["status"], "pending");
  EXPECT_EQ(j["retry_count"], 2);
  EXPECT_EQ(j["message"], "Settlement retry initiated");
  EXPECT_EQ(commands.last_reason, "Domain connectivity restored");
}

TEST_F(Routes, RetryInWrongStateIs409NamingTheCurrentStatus) {
  Settlement s = settlementIn(Status::kExecuting, "trd_e", nov(19));
  repo.put(s);
  auto r = http().post("/settlements/" + s.settlementId() + "/retry", R"({"reason":"try"})");
  ASSERT_EQ(r.status, 409u) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "invalid_state");
  EXPECT_NE(r.json()["error"]["message"].get<std::string>().find("executing"), std::string::npos);
}

TEST_F(Routes, RetryValidatesReasonAndUnknownIdIs404) {
  auto id = Uuid::generateV7().prefixed(kSettlementPrefix);
  EXPECT_EQ(http().post("/settlements/" + id + "/retry", R"({"reason":"x"})").status, 404u);
  EXPECT_EQ(http().post("/settlements/" + id + "/retry", R"({})").json()["error"]["code"],
            "missing_field");
  EXPECT_EQ(http().post("/settlements/" + id + "/retry", R"({"reason":""})").status, 400u);
  EXPECT_EQ(http().post("/settlements/" + id + "/retry", R"({"reason":5})").json()["error"]["code"],
            "invalid_field_type");
  auto long_reason = http().post("/settlements/" + id + "/retry",
                                 R"({"reason":")" + std::string(501, 'a') + "\"}");
  EXPECT_EQ(long_reason.status, 400u);
  EXPECT_EQ(long_reason.json()["error"]["field"], "reason");
  EXPECT_EQ(http().post("/settlements/" + id + "/retry", "[1]").json()["error"]["code"],
            "invalid_json");
}

// PostgreSQL's text and jsonb cannot hold U+0000: a body string carrying it is the client's error.
TEST_F(Routes, RetryReasonWithNulIs400NamingTheField) {
  Settlement s = settlementIn(Status::kFailed, "trd_nul", nov(19));
  repo.put(s);
  auto r = http().post("/settlements/" + s.settlementId() + "/retry", R"({"reason":"x\u0000y"})");
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "invalid_parameter") << r.body;
  EXPECT_EQ(r.json()["error"]["field"], "reason") << r.body;
  EXPECT_EQ(commands.last_reason, "");
}

TEST_F(Routes, PostTradeWithATimestampBeforeYear1Is400InvalidTimestamp) {
  for (const char* at : {"0000-12-31T23:00:00Z", "0001-01-01T00:30:00+01:00"}) {
    TradeEvent t;
    t.executed_at = at;
    auto r = http().post("/trades", t.text());
    EXPECT_EQ(r.status, 400u) << at << " -> " << r.body;
    EXPECT_EQ(r.json()["error"]["code"], "invalid_timestamp") << r.body;
    EXPECT_EQ(r.json()["error"]["field"], "executed_at") << r.body;
  }
}

TEST_F(Routes, EventsAreListedOldestFirstWithKafkaEventTypes) {
  auto id = createSettlement();
  auto uuid = *Uuid::parsePrefixed(id, kSettlementPrefix);
  repo.addEvent(uuid, Status::kInitiated, R"({"dvp_contract_id":"c1"})",
                clock.now() + std::chrono::seconds(1));
  auto r = http().get("/settlements/" + id + "/events");
  ASSERT_EQ(r.status, 200u) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["settlement_id"], id);
  ASSERT_EQ(j["events"].size(), 2u);
  Json first = j["events"][0], second = j["events"][1];
  EXPECT_EQ(first["event_type"], "settlement_pending");
  EXPECT_EQ(first["status"], "pending");
  EXPECT_EQ(second["event_type"], "settlement_initiated");
  EXPECT_EQ(second["details"]["dvp_contract_id"], "c1");
  EXPECT_EQ(second["created_at"], "2024-11-17T16:30:01Z");
  EXPECT_LT(first["position"].get<int64_t>(), second["position"].get<int64_t>());
  EXPECT_EQ(first["event_id"].get<std::string>().rfind("evt_", 0), 0u);
  EXPECT_EQ(http().get("/settlements/" + Uuid::generateV7().canonical() + "/events").status, 404u);
}

TEST_F(Routes, CreateAccountAllocatesPartyAndRejectsDuplicates) {
  auto r = http().post("/accounts", R"({"account_id":"acc_new"})");
  ASSERT_EQ(r.status, 201u) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["account_id"], "acc_new");
  EXPECT_EQ(j["canton_party"], "acc_new::fake");
  EXPECT_EQ(j["status"], "active");
  EXPECT_EQ(j["created_at"], "2024-11-17T16:30:00Z");
  auto dup = http().post("/accounts", R"({"account_id":"acc_new"})");
  EXPECT_EQ(dup.status, 409u);
  EXPECT_EQ(dup.json()["error"]["code"], "account_exists");

  auto p = http().post("/accounts",
                       R"({"account_id":"acc_p","canton_party":"alice","status":"inactive"})");
  ASSERT_EQ(p.status, 201u) << p.body;
  EXPECT_EQ(p.json()["canton_party"], "alice::fake");
  EXPECT_EQ(p.json()["status"], "inactive");
}

TEST_F(Routes, CreateAccountValidatesFields) {
  auto bad_id = http().post("/accounts", R"({"account_id":"has space"})");
  EXPECT_EQ(bad_id.status, 400u);
  EXPECT_EQ(bad_id.json()["error"]["code"], "invalid_id");
  EXPECT_EQ(bad_id.json()["error"]["field"], "account_id");
  EXPECT_EQ(http().post("/accounts", R"({})").json()["error"]["code"], "missing_field");
  EXPECT_EQ(
      http().post("/accounts", R"({"account_id":"a","status":"zombie"})").json()["error"]["field"],
      "status");
  EXPECT_EQ(http().post("/accounts", R"({"account_id":7})").json()["error"]["code"],
            "invalid_field_type");
}

TEST_F(Routes, GetAndPatchAccount) {
  EXPECT_EQ(http().get("/accounts/acc_none").status, 404u);
  EXPECT_EQ(http().get("/accounts/acc_none").json()["error"]["code"], "account_not_found");
  auto g = http().get("/accounts/acc_buyer");
  ASSERT_EQ(g.status, 200u);
  EXPECT_EQ(g.json()["canton_party"], "acc_buyer::party");
  auto p = http().request("PATCH", "/accounts/acc_buyer", R"({"status":"inactive"})");
  ASSERT_EQ(p.status, 200u) << p.body;
  EXPECT_EQ(p.json()["status"], "inactive");
  EXPECT_EQ(http().get("/accounts/acc_buyer").json()["status"], "inactive");
  EXPECT_EQ(http().request("PATCH", "/accounts/acc_none", R"({"status":"active"})").status, 404u);
  EXPECT_EQ(http().request("PATCH", "/accounts/acc_buyer", R"({"status":"?"})").status, 400u);
}

TEST_F(Routes, CreditHoldingThenListHoldingsWithExactBalances) {
  auto c = http().post("/ledger/holdings",
                       R"({"account_id":"acc_seller","asset":"AAPL","amount":"100.5"})");
  ASSERT_EQ(c.status, 201u) << c.body;
  EXPECT_EQ(c.json()["amount"], "100.50000000");
  EXPECT_EQ(c.json()["synchronizer"], "securities");
  EXPECT_EQ(c.json()["locked"], false);
  ASSERT_EQ(
      http()
          .post(
              "/ledger/holdings",
              R"({"account_id":"acc_seller","asset":"AAPL","amount":"0.1","synchronizer":"cash"})")
          .status,
      201u);
  ledger.putLocked("acc_seller::party", "AAPL", *Decimal::parse("0.2"));

  auto h = http().get("/accounts/acc_seller/holdings");
  ASSERT_EQ(h.status, 200u) << h.body;
  Json j = h.json();
  EXPECT_EQ(j["account_id"], "acc_seller");
  ASSERT_EQ(j["holdings"].size(), 3u);
  for (const char* f : {"asset", "amount", "locked", "synchronizer", "contract_id"})
    EXPECT_TRUE(j["holdings"][0].contains(f)) << f;
  ASSERT_EQ(j["balances"].size(), 1u);
  EXPECT_EQ(j["balances"][0]["asset"], "AAPL");
  EXPECT_EQ(j["balances"][0]["free"], "100.60000000");
  EXPECT_EQ(j["balances"][0]["locked"], "0.20000000");

  auto t = http().get("/ledger/totals");
  ASSERT_EQ(t.status, 200u);
  EXPECT_EQ(t.json()["totals"][0]["asset"], "AAPL");
  EXPECT_EQ(t.json()["totals"][0]["total"], "100.80000000");
  EXPECT_EQ(t.json()["totals"][0]["locked"], "0.20000000");
}

// The pruner's watermark and how far the ledger is pruned; before the pruner's first watermark
// its fields are null.
TEST_F(Routes, ThePruneWatermarkShowsWhatMayBePrunedAndWhatIs) {
  std::optional<api::PruneWatermarkView> w;
  prune_watermark = [&] { return w; };
  auto none = http().get("/ledger/prune-watermark");
  ASSERT_EQ(none.status, 200u) << none.body;
  for (const char* k : {"prune_before", "prune_up_to", "ledger_end", "age_seconds"})
    EXPECT_TRUE(none.json()[k].is_null()) << k;
  EXPECT_EQ(none.json()["applied"], false);
  EXPECT_EQ(none.json()["pruned_up_to"], 0);
  w = api::PruneWatermarkView{41, 50, 2.5, false};
  auto r = http().get("/ledger/prune-watermark");
  ASSERT_EQ(r.status, 200u) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["prune_before"], 41);
  EXPECT_EQ(j["prune_up_to"], 40) << "Canton's pruneUpTo is inclusive";
  EXPECT_EQ(j["ledger_end"], 50);
  EXPECT_EQ(j["pruned_up_to"], 0) << "the fake ledger never pruned";
  EXPECT_EQ(j["age_seconds"], 2.5);
  EXPECT_EQ(j["applied"], false);
}

TEST_F(Routes, CreditHoldingValidatesInput) {
  auto post = [&](const std::string& b) { return http().post("/ledger/holdings", b); };
  EXPECT_EQ(post(R"({"account_id":"acc_none","asset":"AAPL","amount":"1"})").status, 404u);
  EXPECT_EQ(
      post(R"({"account_id":"acc_seller","asset":"AAPL","amount":"0"})").json()["error"]["code"],
      "non_positive_amount");
  auto precise = post(R"({"account_id":"acc_seller","asset":"AAPL","amount":"1.12345678901"})");
  EXPECT_EQ(precise.json()["error"]["field"], "amount");
  EXPECT_EQ(precise.json()["error"]["code"], "amount_too_precise");
  EXPECT_EQ(precise.status, 400u);
  // A credit is a ledger operation: Numeric 10, past DECIMAL(18,8), rendered without loss.
  auto wide =
      post(R"({"account_id":"acc_seller","asset":"AAPL","amount":"12345678901.123456789"})");
  EXPECT_EQ(wide.status, 201u) << wide.body;
  EXPECT_EQ(wide.json()["amount"], "12345678901.123456789");
  auto huge = post(R"({"account_id":"acc_seller","asset":"AAPL","amount":"1e30"})");
  EXPECT_EQ(huge.status, 400u) << huge.body;
  EXPECT_EQ(
      post(R"({"account_id":"acc_seller","asset":"AAPL","amount":1.5})").json()["error"]["code"],
      "invalid_field_type");
  EXPECT_EQ(post(R"({"account_id":"acc_seller","asset":"AAPL","amount":"1","synchronizer":"moon"})")
                .json()["error"]["field"],
            "synchronizer");
  EXPECT_EQ(post(R"({"account_id":"acc_seller","amount":"1"})").json()["error"]["field"], "asset");
  ledger.fail_with = Error::transient("ledger_unavailable", "down");
  EXPECT_EQ(post(R"({"account_id":"acc_seller","asset":"AAPL","amount":"1"})").status, 503u);
}

TEST_F(Routes, HealthReadyAndMetrics) {
  auto h = http().get("/health");
  EXPECT_EQ(h.status, 200u);
  EXPECT_EQ(h.json()["status"], "ok");
  EXPECT_EQ(http().get("/ready").json()["status"], "ready");
  readiness = [] {
    return Result<void>(Error::transient("database_unavailable", "PostgreSQL is down"));
  };
  auto nr = http().get("/ready");
  EXPECT_EQ(nr.status, 503u);
  EXPECT_EQ(nr.json()["error"]["message"], "PostgreSQL is down");
  auto m = http().get("/metrics");
  EXPECT_EQ(m.status, 200u);
  EXPECT_EQ(m.header("content-type").rfind("text/plain", 0), 0u);
  EXPECT_NE(m.body.find("sc_api_requests_total"), std::string::npos);
  EXPECT_NE(m.body.find("sc_api_responses_5xx_total"), std::string::npos);
}

}  // namespace
}  // namespace sc::test

// End-to-end: the BUILT settlement-coordinator binary, started on a free port with its own
// PostgreSQL database and ledger folder, driven over HTTP (issue 2). Every trade rejection code,
// idempotent resubmission, conflict, settlement to SETTLED, retry, listing, accounts, HTTP
// protocol errors, operator endpoints, configuration errors and graceful shutdown.
#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <set>
#include <vector>

#include "domain/status.h"
#include "e2e/e2e_fixture.h"


namespace sc::test {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// Passed as `field` to expectError: do not check which field the error names.
const std::string kAnyField = "*";

// The JSON error body {"error":{"code","message","field"}} with the expected status and code;
// `field` empty means the body must not name one.
void expectError(const HttpResult& r, unsigned status, const std::string& code, const std::string& field = {}) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_NE(r.header("content-type").find("application/json"), std::string::npos) << r.header("content-type");
  Json j = r.json();
  ASSERT_TRUE(j.is_object() && j.contains("error") && j["error"].is_object()) << r.body;
  const Json& e = j["error"];
  EXPECT_EQ(e.value("code", ""), code) << r.body;
  ASSERT_TRUE(e.contains("message") && e["message"].is_string()) << r.body;
  EXPECT_FALSE(e["message"].get<std::string>().empty()) << r.body;
  if (field.empty()) {
    EXPECT_FALSE(e.contains("field")) << r.body;
  } else if (field != kAnyField) {
    EXPECT_EQ(e.value("field", ""), field) << r.body;
  }
}

// A settlement id of the right form that no settlement has.
const std::string kUnknownSettlementId = "set_0190f0f0f0f07000800000000000abcd";

// True when nothing accepts connections on 127.0.0.1:port any more.
bool connectRefused(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  return rc != 0 && err == ECONNREFUSED;
}

// Polls `done` until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);  // polling interval; the deadline bounds the wait
  }
  return true;
}

// A libpq connection to the test database, for what HTTP cannot do (holding a table lock).
class Sql {
 public:
  explicit Sql(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {}
  ~Sql() { PQfinish(c_); }
  bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(c_); }
  // Runs `sql`; returns the first column of the first row ("" when none), or nullopt on error.
  std::optional<std::string> exec(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    auto st = PQresultStatus(r);
    std::optional<std::string> out;
    if (st == PGRES_COMMAND_OK) out = "";
    else if (st == PGRES_TUPLES_OK) out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    else last_error_ = PQresultErrorMessage(r);
    PQclear(r);
    return out;
  }
  const std::string& lastError() const { return last_error_; }

 private:
  PGconn* c_;
  std::string last_error_;
};

class HttpApiE2e : public E2eTest {
 protected:
  std::map<std::string, std::string> serviceEnv() const override {
    return {{"ALLOWED_SYMBOLS", "AAPL/USDC,MSFT/EUR"}, {"HTTP_MAX_BODY_BYTES", "4096"}};
  }

  void createTradingAccounts() {
    createAccount("acc_buyer");
    createAccount("acc_seller");
  }

  int64_t settlementTotal(const std::string& query = "") {
    auto r = get("/settlements" + query);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json().value("total", int64_t{-1});
  }

  std::vector<std::string> listedTradeIds(const std::string& query) {
    auto r = get("/settlements" + query);
    EXPECT_EQ(r.status, 200u) << query << ": " << r.body;
    std::vector<std::string> ids;
    Json j = r.json();
    if (j.is_object() && j["settlements"].is_array())
      for (auto& s : j["settlements"]) ids.push_back(s.value("trade_id", ""));
    return ids;
  }

  // Statuses of GET /settlements/{id}/events, checking the list is oldest first.
  std::vector<std::string> eventStatuses(const std::string& settlement_id) {
    auto r = get("/settlements/" + settlement_id + "/events");
    EXPECT_EQ(r.status, 200u) << r.body;
    Json j = r.json();
    EXPECT_EQ(j.value("settlement_id", ""), settlement_id);
    std::vector<std::string> statuses;
    int64_t last_position = -1;
    std::string last_created;
    for (auto& e : j["events"]) {
      statuses.push_back(e.value("status", ""));
      EXPECT_EQ(e.value("event_type", ""), "settlement_" + e.value("status", "")) << e.dump();
      EXPECT_TRUE(e.value("event_id", "").starts_with("evt_")) << e.dump();
      EXPECT_TRUE(e["details"].is_object()) << e.dump();
      int64_t pos = e.value("position", int64_t{-1});
      EXPECT_GT(pos, last_position) << "events are not oldest first: " << j.dump();
      last_position = pos;
      std::string created = e.value("created_at", "");
      EXPECT_GE(created, last_created) << "events are not oldest first: " << j.dump();  // RFC 3339 UTC sorts
      last_created = created;
    }
    return statuses;
  }

  static void expectLegalPath(const std::vector<std::string>& statuses) {
    ASSERT_FALSE(statuses.empty());
    EXPECT_EQ(statuses.front(), "pending");
    for (size_t i = 1; i < statuses.size(); ++i) {
      auto from = parseStatus(statuses[i - 1]);
      auto to = parseStatus(statuses[i]);
      ASSERT_TRUE(from && to) << statuses[i - 1] << " -> " << statuses[i];
      EXPECT_TRUE(isAllowedTransition(*from, *to)) << "illegal transition " << statuses[i - 1] << " -> " << statuses[i];
    }
  }
};

// --- every rejection code ------------------------------------------------------------------------

struct RejectionCase {
  std::string code;
  std::string field;  // the field the error names ("" for none)
  std::function<std::string()> body;
};

Json tradeWith(std::initializer_list<std::pair<const char*, Json>> changes, std::vector<const char*> remove = {}) {
  Json t = E2eTest::validTrade("trd_rejected");
  for (auto& [k, v] : changes) t[k] = v;
  for (auto* k : remove) t.erase(k);
  return t;
}

std::vector<RejectionCase> rejectionCases() {
  auto with = [](std::initializer_list<std::pair<const char*, Json>> changes, std::vector<const char*> remove = {}) {
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
      {"settlement_date_before_trade_date", "settlement_date", with({{"settlement_date", "2024-11-16"}})},
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
                         [](const ::testing::TestParamInfo<RejectionCase>& info) { return info.param.code; });

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
    ASSERT_TRUE(s.contains(k) && s[k].is_string()) << k << " should be set once settled: " << s.dump();
    EXPECT_FALSE(s[k].get<std::string>().empty()) << k;
  }
  EXPECT_LE(s["initiated_at"].get<std::string>(), s["confirmed_at"].get<std::string>());
  EXPECT_LE(s["confirmed_at"].get<std::string>(), s["settled_at"].get<std::string>());

  auto statuses = eventStatuses(id);
  EXPECT_EQ(statuses, (std::vector<std::string>{"pending", "initiated", "seller_securities_locked",
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
  ASSERT_EQ(http().request("PATCH", "/accounts/acc_seller", R"({"status":"inactive"})").status, 200u);
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
  expectError(post("/settlements/not-an-id/retry", Json{{"reason", "x"}}), 400, "invalid_id", "settlement_id");
}

TEST_F(HttpApiE2e, RetryWithoutAReasonIs400) {
  expectError(post("/settlements/" + kUnknownSettlementId + "/retry", Json::object()), 400, "missing_field", "reason");
  expectError(post("/settlements/" + kUnknownSettlementId + "/retry", std::string("not json")), 400, "invalid_json");
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
  for (auto& b : seller["balances"]) EXPECT_EQ(b.value("locked", ""), "0.00000000") << seller.dump();

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
  expectError(post("/settlements/" + id + "/retry", Json{{"reason", "again"}}), 409, "invalid_state");
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

  expectError(post("/accounts", Json{{"account_id", "acc_1"}}), 409, "account_exists", "account_id");
  auto g = get("/accounts/acc_1");
  ASSERT_EQ(g.status, 200u) << g.body;
  EXPECT_EQ(g.json()["canton_party"], r.json()["canton_party"]);

  expectError(get("/accounts/acc_nobody"), 404, "account_not_found", "account_id");
  expectError(get("/accounts/bad%20id"), 400, "invalid_id", "account_id");
  expectError(post("/accounts", Json{{"account_id", "has space"}}), 400, "invalid_id", "account_id");
  expectError(post("/accounts", Json::object()), 400, "missing_field", "account_id");
  expectError(post("/accounts", Json{{"account_id", "acc_2"}, {"status", "sleepy"}}), 400, "invalid_parameter",
              "status");
}

// --- HTTP protocol -------------------------------------------------------------------------------

TEST_F(HttpApiE2e, UnknownRouteIs404Json) {
  expectError(get("/nowhere"), 404, "not_found");
  expectError(get("/settlements/" + kUnknownSettlementId), 404, "settlement_not_found", "settlement_id");
  expectError(get("/settlements/" + kUnknownSettlementId + "/events"), 404, "settlement_not_found",
              "settlement_id");
  expectError(get("/settlements/garbage"), 400, "invalid_id", "settlement_id");
}

TEST_F(HttpApiE2e, WrongMethodIs405JsonWithAllowHeader) {
  auto r = get("/trades");
  expectError(r, 405, "method_not_allowed");
  EXPECT_EQ(r.header("allow"), "POST");
  auto d = http().request("DELETE", "/settlements/" + kUnknownSettlementId);
  expectError(d, 405, "method_not_allowed");
  EXPECT_EQ(d.header("allow"), "GET");
  auto p = http().request("PUT", "/accounts/acc_1", "{}");
  expectError(p, 405, "method_not_allowed");
  EXPECT_NE(p.header("allow").find("GET"), std::string::npos) << p.header("allow");
  EXPECT_NE(p.header("allow").find("PATCH"), std::string::npos) << p.header("allow");
}

TEST_F(HttpApiE2e, BodyOverTheLimitIs413JsonAndTheServiceStaysUp) {
  createTradingAccounts();
  Json big = validTrade("trd_big");
  big["padding"] = std::string(5000, 'x');  // HTTP_MAX_BODY_BYTES=4096
  auto r = postTrade(big);
  expectError(r, 413, "payload_too_large");
  EXPECT_EQ(settlementTotal(), 0);
  HttpClient fresh(port());
  EXPECT_EQ(fresh.get("/health").status, 200u);
  // Just under the limit is fine.
  Json fits = validTrade("trd_fits");
  fits["padding"] = std::string(3000, 'x');
  EXPECT_EQ(postTrade(fits).status, 201u);
}

TEST_F(HttpApiE2e, MalformedHttpIs400AndTheServiceStaysUp) {
  for (std::string garbage : {std::string("THIS IS NOT HTTP\r\n\r\n"),
                              std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                                          sizeof("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n") - 1),
                              std::string("GET /health HTTP/1.1\r\nContent-Length: nope\r\n\r\n")}) {
    HttpClient raw(port());
    raw.sendRaw(garbage);
    auto r = raw.readResponse();
    ASSERT_TRUE(r.has_value()) << "the server closed without answering " << Json(garbage).dump(-1, ' ', false,
                                                                                              Json::error_handler_t::replace);
    expectError(*r, 400, "malformed_request");
    EXPECT_TRUE(raw.waitForServerClose(5s)) << "the connection should be closed after a protocol error";
  }
  auto h = get("/health");
  EXPECT_EQ(h.status, 200u);
  auto m = get("/metrics");
  EXPECT_NE(m.body.find("sc_api_protocol_errors_total 3\n"), std::string::npos) << m.body;
}

TEST_F(HttpApiE2e, OversizedHeadersAre431Json) {
  auto r = http().request("GET", "/health", "", {{"X-Padding", std::string(20000, 'p')}});
  expectError(r, 431, "header_too_large");
  HttpClient fresh(port());
  EXPECT_EQ(fresh.get("/health").status, 200u);
}

TEST_F(HttpApiE2e, MalformedJsonIs400InvalidJson) {
  expectError(postTrade(std::string("{not json")), 400, "invalid_json");
  expectError(postTrade(std::string("[1,2,3]")), 400, "invalid_json");
  expectError(postTrade(std::string("")), 400, "invalid_json");
  expectError(post("/accounts", std::string("{\"account_id\":")), 400, "invalid_json");
}

// --- operator endpoints --------------------------------------------------------------------------

TEST_F(HttpApiE2e, HealthReadyAndMetricsAnswer) {
  auto h = get("/health");
  EXPECT_EQ(h.status, 200u);
  EXPECT_EQ(h.json().value("status", ""), "ok");
  auto r = get("/ready");
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.json().value("status", ""), "ready");
  get("/nowhere");  // one 4xx
  auto m = get("/metrics");
  ASSERT_EQ(m.status, 200u);
  EXPECT_NE(m.header("content-type").find("text/plain"), std::string::npos);
  for (const char* name : {"sc_api_requests_total", "sc_api_responses_2xx_total", "sc_intake_accepted_total",
                           "sc_workflow_settled_total", "sc_store_transitions_total"})
    EXPECT_NE(m.body.find(std::string("# TYPE ") + name + " counter"), std::string::npos) << name << "\n" << m.body;
  // The requests before this one were counted: 3 responses, one of them 4xx.
  EXPECT_NE(m.body.find("sc_api_requests_total 3\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("sc_api_responses_4xx_total 1\n"), std::string::npos) << m.body;
}

// With API_TOKEN set, every write needs the bearer token; reads do not.
class AuthenticatedApiE2e : public E2eTest {
 protected:
  std::map<std::string, std::string> serviceEnv() const override { return {{"API_TOKEN", "s3cret-token"}}; }
};

TEST_F(AuthenticatedApiE2e, WritesWithoutTheBearerTokenAre401AndWithItSucceed) {
  auto body = Json{{"account_id", "acc_1"}}.dump();
  auto none = http().post("/accounts", body);
  expectError(none, 401, "unauthorized");
  EXPECT_EQ(none.header("www-authenticate"), "Bearer");
  expectError(http().post("/accounts", body, {{"Authorization", "Bearer wrong-token"}}), 401, "unauthorized");
  expectError(http().post("/trades", validTrade("trd_1").dump()), 401, "unauthorized");
  EXPECT_EQ(http().post("/accounts", body, {{"Authorization", "Bearer s3cret-token"}}).status, 201u);
  EXPECT_EQ(get("/accounts/acc_1").status, 200u);
  EXPECT_EQ(get("/settlements").status, 200u);
}

// --- configuration -------------------------------------------------------------------------------

struct Exit {
  int status = -1;  // exit code, 128+signal, or -1 on timeout
  std::string err;  // stderr
};

// Runs the built binary with the parent's environment plus `env`, stdout discarded, and waits
// (bounded) for it to exit.
Exit runBinary(const std::map<std::string, std::string>& env, std::chrono::milliseconds timeout = 20s) {
  ChildEnvironment child_env(env);
  std::string bin = serviceBinaryPath();

  int err[2];
  if (pipe(err) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    close(err[0]);
    close(err[1]);
    char* argv[] = {bin.data(), nullptr};
    execve(bin.c_str(), argv, child_env.envp());
    _exit(127);
  }
  close(err[1]);
  Exit out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{err[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char buf[1024];
    ssize_t n = read(err[0], buf, sizeof buf);
    if (n <= 0) break;  // EOF: the child exited
    out.err.append(buf, static_cast<size_t>(n));
  }
  close(err[0]);
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == 0) {
    // Stderr closed (or timed out) but not yet reaped: give it the rest of the deadline.
    while (std::chrono::steady_clock::now() < deadline && waitpid(pid, &status, WNOHANG) == 0)
      std::this_thread::sleep_for(10ms);
    if (waitpid(pid, &status, WNOHANG) == 0 && kill(pid, 0) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return out;  // status -1: it did not exit in time
    }
  }
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

struct BadConfig {
  std::string name, value;
};

void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name << "=" << c.value; }

class BadConfigurationE2e : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigurationE2e, ServiceExitsWithStatus2NamingTheVariable) {
  const BadConfig& c = GetParam();
  auto ledger = makeTempDir("e2e-config-ledger");
  Exit e = runBinary({{c.name, c.value}, {"LEDGER_DATA_DIR", ledger}, {"PORT", "0"}, {"HTTP_BIND", "127.0.0.1"}});
  EXPECT_EQ(e.status, 2) << e.err;
  EXPECT_NE(e.err.find("configuration error"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find(c.name), std::string::npos) << e.err;
}

INSTANTIATE_TEST_SUITE_P(OneBadValue, BadConfigurationE2e,
                         ::testing::Values(BadConfig{"PORT", "abc"}, BadConfig{"PORT", "70000"},
                                           BadConfig{"SETTLEMENT_BATCH_SIZE", "0"},
                                           BadConfig{"SETTLEMENT_TIMEOUT_SECONDS", "-1"},
                                           BadConfig{"HTTP_MAX_BODY_BYTES", "12kb"},
                                           BadConfig{"LOG_LEVEL", "CHATTY"}, BadConfig{"DB_NAME", ""},
                                           BadConfig{"LEDGER_MODE", "canton"}),
                         [](const ::testing::TestParamInfo<BadConfig>& info) {
                           return info.param.name + "_" + std::to_string(info.index);
                         });

TEST(ServiceStartupE2e, UnreachableDatabaseExitsWithStatus1NamingTheSettings) {
  auto ledger = makeTempDir("e2e-config-ledger");
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  Exit e = runBinary({{"DB_HOST", "127.0.0.1"}, {"DB_PORT", "1"}, {"LEDGER_DATA_DIR", ledger}, {"PORT", "0"},
                      {"HTTP_BIND", "127.0.0.1"}});
  EXPECT_EQ(e.status, 1) << e.err;
  EXPECT_NE(e.err.find("DB_HOST"), std::string::npos) << e.err;
}

// --- graceful shutdown ---------------------------------------------------------------------------

TEST_F(HttpApiE2e, SigtermAnswersTheRequestInFlightThenExitsZero) {
  createTradingAccounts();
  // Hold the accounts table so that the next POST /trades blocks inside the service.
  Sql sql(db_.conninfo());
  ASSERT_TRUE(sql.ok()) << sql.error();
  ASSERT_TRUE(sql.exec("BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")) << sql.lastError();

  auto in_flight = std::async(std::launch::async, [port = port()] {
    HttpClient c(port, "127.0.0.1", 30s);
    return c.post("/trades", E2eTest::validTrade("trd_in_flight").dump());
  });
  // Wait until the service is blocked on the lock, i.e. the request is in flight.
  ASSERT_TRUE(eventually([&] {
    auto n = sql.exec(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
        "application_name = 'settlement-coordinator' AND wait_event_type = 'Lock'");
    return n && *n != "0";
  })) << "the POST never reached the database";

  ASSERT_EQ(::kill(service().pid(), SIGTERM), 0);
  // Draining: new connections are refused while the request in flight is still unanswered.
  ASSERT_TRUE(eventually([&] { return connectRefused(port()); })) << "the service kept accepting after SIGTERM";
  EXPECT_EQ(in_flight.wait_for(0s), std::future_status::timeout) << "answered before the lock was released?";

  ASSERT_TRUE(sql.exec("COMMIT")) << sql.lastError();
  HttpResult r = in_flight.get();
  EXPECT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.json().value("trade_id", ""), "trd_in_flight");
  EXPECT_FALSE(r.keep_alive) << "a response during shutdown should close the connection";
  std::string id = r.json().value("settlement_id", "");

  EXPECT_EQ(service().terminate(), 0) << service().logTail();
  restartService();
  auto g = get("/settlements/" + id);
  EXPECT_EQ(g.status, 200u) << g.body;
  EXPECT_EQ(g.json().value("trade_id", ""), "trd_in_flight");
}

TEST_F(HttpApiE2e, SigtermUnderTradeLoadTruncatesNoResponseAndKeepsEveryAcceptedTrade) {
  createTradingAccounts();
  constexpr int kThreads = 4;
  constexpr int kMaxPerThread = 3000;  // a bound, should SIGTERM somehow never take effect

  struct Outcome {
    std::map<std::string, std::string> accepted;  // trade_id → settlement_id
    std::vector<std::string> problems;            // wrong status or truncated response
    std::vector<std::string> unanswered;          // refused, or closed before any response byte
  };
  std::vector<Outcome> outcomes(kThreads);
  std::atomic<int> answered{0};
  std::mutex mu;
  std::condition_variable cv;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(port(), "127.0.0.1", 30s);
      Outcome& o = outcomes[t];
      for (int i = 0; i < kMaxPerThread; ++i) {
        std::string trade_id = "trd_load_" + std::to_string(t) + "_" + std::to_string(i);
        try {
          auto r = c.post("/trades", E2eTest::validTrade(trade_id).dump());
          if (r.status == 201 && r.json().value("trade_id", "") == trade_id)
            o.accepted[trade_id] = r.json().value("settlement_id", "");
          else
            o.problems.push_back(trade_id + ": " + std::to_string(r.status) + " " + r.body);
          answered++;
          { std::lock_guard g(mu); }
          cv.notify_all();
        } catch (const std::exception& e) {
          std::string what = e.what();
          if (what.find("partial") != std::string::npos) o.problems.push_back(trade_id + ": truncated: " + what);
          else o.unanswered.push_back(trade_id);
          if (connectRefused(port())) break;  // the service has closed its listener
          c.close();
        }
      }
    });
  }
  bool loaded;
  {
    std::unique_lock l(mu);
    loaded = cv.wait_for(l, 30s, [&] { return answered.load() >= 100; });
  }
  int status = service().terminate();  // SIGTERM while the threads keep posting
  for (auto& th : threads) th.join();
  ASSERT_TRUE(loaded) << "the load never got going";
  EXPECT_EQ(status, 0) << service().logTail();

  std::map<std::string, std::string> accepted;
  std::vector<std::string> unanswered;
  for (auto& o : outcomes) {
    for (auto& p : o.problems) ADD_FAILURE() << p;
    accepted.insert(o.accepted.begin(), o.accepted.end());
    unanswered.insert(unanswered.end(), o.unanswered.begin(), o.unanswered.end());
  }
  RecordProperty("accepted", static_cast<int>(accepted.size()));
  RecordProperty("unanswered", static_cast<int>(unanswered.size()));
  EXPECT_GE(accepted.size(), 100u);
  EXPECT_LE(unanswered.size(), static_cast<size_t>(kThreads * 2))
      << "a thread keeps trying only until it sees the listener gone";

  // Every accepted trade is in the database, as the same settlement.
  restartService();
  EXPECT_GE(settlementTotal(), static_cast<int64_t>(accepted.size()));
  for (auto& [trade_id, settlement_id] : accepted) {
    auto g = get("/settlements/" + settlement_id);
    ASSERT_EQ(g.status, 200u) << trade_id << ": " << g.body;
    EXPECT_EQ(g.json().value("trade_id", ""), trade_id);
  }
  // An unanswered POST is safe to send again (trade_id makes it idempotent): it is either
  // recorded now (201) or was recorded before the connection closed (200), never half-done.
  for (auto& trade_id : unanswered) {
    auto r = postTrade(validTrade(trade_id));
    EXPECT_TRUE(r.status == 201 || r.status == 200) << trade_id << ": " << r.status << " " << r.body;
  }
}

}  // namespace
}  // namespace sc::test

// The role table (README "Security") as a test table: every route × every role, with a real
// verifier over an RSA key made here. Then the account_holder's scope (404 for others' settlements,
// filtered lists whose total counts only what it may see), /ready details, the audit of operator
// actions (refused attempts included), GET /audit, Idempotency-Key credits, reserved parties and
// production's missing routes.
#include <gtest/gtest.h>

#include "api/test_server.h"
#include "auth/verifier.h"
#include "support/test_tokens.h"

namespace sc::test {
namespace {

using nlohmann::json;

constexpr const char* kIss = "https://issuer.test";
constexpr const char* kAud = "settlement-coordinator";

class AuthApiTest : public ApiServerTest {
 protected:
  static const TestKey& key() {
    static TestKey k = TestKey::rsa("k1");
    return k;
  }
  void SetUp() override {
    ApiServerTest::SetUp();
    accounts.put("acc_other");
    auto keys = std::make_shared<auth::KeyProvider>(
        []() -> Result<std::string> { return jwks({&key()}); }, "test", system_clock_);
    auth::VerifierOptions o;
    o.issuer = kIss;
    o.audience = kAud;
    verifier_ = std::make_unique<auth::Verifier>(o, keys, system_clock_);
    verifier = verifier_.get();
  }
  std::string bearer(const std::vector<std::string>& roles,
                     const std::vector<std::string>& accts = {}, const std::string& sub = "alice") {
    return "Bearer " + key().token(claims(kIss, kAud, sub, roles, accts));
  }
  HttpResult call(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& auth) {
    std::map<std::string, std::string> h;
    if (!auth.empty()) h["Authorization"] = auth;
    return http().request(method, path, body, h);
  }

  std::string createSettlementAs(const std::string& trade_id) {
    auto r = call("POST", "/trades", tradeJson(trade_id), bearer({"submitter"}));
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("settlement_id", "");
  }

  SystemClock system_clock_;
  std::unique_ptr<auth::Verifier> verifier_;
};

struct RouteCase {
  const char* method;
  const char* path;  // {set} is replaced by a settlement of acc_buyer
  const char* body;
  std::vector<std::string> allowed;  // roles with access; "account_holder" = scoped access
};

TEST_F(AuthApiTest, EveryRouteAdmitsExactlyTheRolesOfTheTable) {
  std::string set = createSettlementAs("trd_table");
  const std::vector<RouteCase> table = {
      {"POST", "/trades", nullptr, {"submitter"}},
      {"POST", "/accounts", R"({"account_id":"new_{n}"})", {"operator"}},
      {"GET", "/accounts/acc_buyer", "", {"operator", "auditor"}},
      {"PATCH", "/accounts/acc_other", R"({"status":"active"})", {"operator"}},
      {"GET", "/accounts/acc_buyer/holdings", "", {"operator", "auditor", "account_holder"}},
      {"POST",
       "/ledger/holdings",
       R"({"account_id":"acc_buyer","asset":"USD","amount":"1"})",
       {"operator"}},
      {"GET", "/ledger/totals", "", {"operator", "auditor"}},
      {"GET", "/ledger/prune-watermark", "", {"operator", "auditor"}},
      {"GET", "/settlements", "", {"auditor", "account_holder"}},
      {"GET", "/settlements/{set}", "", {"auditor", "account_holder"}},
      {"GET", "/settlements/{set}/events", "", {"auditor", "account_holder"}},
      {"POST", "/settlements/{set}/retry", R"({"reason":"x"})", {"operator"}},
      {"GET", "/audit", "", {"operator", "auditor"}},
      {"GET", "/rejections", "", {"operator", "auditor"}},
      {"GET", "/reconciliation", "", {"operator", "auditor"}},
      {"POST", "/reconciliation/run", "", {"operator"}},
      {"POST", "/reconciliation/findings/1/acknowledge", R"({"note":"seen"})", {"operator"}},
      {"GET", "/metrics", "", {"auditor"}},
      {"GET", "/health", "", {"submitter", "operator", "auditor", "account_holder", "none"}},
      {"GET", "/ready", "", {"submitter", "operator", "auditor", "account_holder", "none"}},
      {"GET", "/overview", "", {"operator", "auditor", "account_holder"}},
      {"GET", "/ui", "", {"submitter", "operator", "auditor", "account_holder", "none"}},
      {"GET", "/ui/app.js", "", {"submitter", "operator", "auditor", "account_holder", "none"}},
  };
  const std::vector<std::string> roles = {"submitter", "operator", "auditor", "account_holder"};
  int n = 0;
  for (const auto& rc : table) {
    std::string path = rc.path;
    if (auto p = path.find("{set}"); p != std::string::npos) path.replace(p, 5, set);
    auto bodyFor = [&]() {
      if (!rc.body) return tradeJson("trd_t" + std::to_string(++n));
      std::string b = rc.body;
      if (auto p = b.find("{n}"); p != std::string::npos) b.replace(p, 3, std::to_string(++n));
      return b;
    };
    bool is_public = std::find(rc.allowed.begin(), rc.allowed.end(), "none") != rc.allowed.end();
    auto anonymous = call(rc.method, path, bodyFor(), "");
    EXPECT_EQ(anonymous.status, is_public ? 200u : 401u) << rc.method << " " << path;
    if (!is_public) {
      EXPECT_EQ(anonymous.json()["error"]["code"], "missing_token");
      EXPECT_EQ(call(rc.method, path, bodyFor(), "Bearer x.y.z").status, 401u);
    }
    for (const auto& role : roles) {
      bool allowed = std::find(rc.allowed.begin(), rc.allowed.end(), role) != rc.allowed.end();
      auto res = call(rc.method, path, bodyFor(), bearer({role}, {"acc_buyer"}));
      if (allowed) {  // admitted: whatever the handler answers, not 401/403
        EXPECT_TRUE(res.status != 401u && res.status != 403u)
            << role << " " << rc.method << " " << path << ": " << res.body;
      } else {
        EXPECT_EQ(res.status, 403u) << role << " " << rc.method << " " << path << ": " << res.body;
        EXPECT_EQ(res.json()["error"]["code"], "forbidden");
      }
    }
    if (!is_public)
      EXPECT_EQ(call(rc.method, path, bodyFor(), bearer({})).status, 403u)
          << "no roles: " << rc.method << " " << path;
  }
}

TEST_F(AuthApiTest, AnAccountHolderSeesOnlyItsAccountsAndTotalCountsOnlyThose) {
  std::string mine = createSettlementAs("trd_mine");
  std::string theirs;
  {
    auto r = call("POST", "/trades", tradeJson("trd_theirs", "50", "acc_other", "acc_seller"),
                  bearer({"submitter"}));
    ASSERT_EQ(r.status, 201u) << r.body;
    theirs = r.json()["settlement_id"];
  }
  std::string holder = bearer({"account_holder"}, {"acc_other"});
  EXPECT_EQ(call("GET", "/settlements/" + theirs, "", holder).status, 200u);
  auto hidden = call("GET", "/settlements/" + mine, "", holder);
  EXPECT_EQ(hidden.status, 404u);
  EXPECT_EQ(hidden.json()["error"]["code"], "settlement_not_found");
  EXPECT_EQ(call("GET", "/settlements/" + mine + "/events", "", holder).status, 404u);
  auto list = call("GET", "/settlements", "", holder);
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(list.json()["total"], 1);
  ASSERT_EQ(list.json()["settlements"].size(), 1u);
  EXPECT_EQ(list.json()["settlements"][0]["settlement_id"], theirs);
  // Asking for another account's settlements yields nothing, not an error that reveals them.
  auto other = call("GET", "/settlements?account_id=acc_buyer", "", holder);
  EXPECT_EQ(other.json()["total"], 0);
  EXPECT_EQ(call("GET", "/accounts/acc_buyer/holdings", "", holder).status, 404u);
  EXPECT_EQ(call("GET", "/accounts/acc_other/holdings", "", holder).status, 200u);
  // No accounts listed: nothing visible.
  EXPECT_EQ(call("GET", "/settlements", "", bearer({"account_holder"})).json()["total"], 0);
  // The auditor sees both.
  EXPECT_EQ(call("GET", "/settlements", "", bearer({"auditor"})).json()["total"], 2);
}

// The dashboard's overview: an account holder gets the counts of its own accounts' settlements and
// nothing of the service's internals; an auditor everything.
TEST_F(AuthApiTest, AnAccountHolderSeesOnlyItsOwnCountsOnTheOverview) {
  workflow::Throughput t;  // before the server starts (the first call)
  overview.throughput = &t;
  overview.health = {{"database", []() -> Result<void> { return {}; }}};
  createSettlementAs("trd_mine");
  createSettlementAs("trd_mine_2");
  auto r = call("POST", "/trades", tradeJson("trd_theirs", "50", "acc_other", "acc_seller"),
                bearer({"submitter"}));
  ASSERT_EQ(r.status, 201u) << r.body;

  auto holder = call("GET", "/overview", "", bearer({"account_holder"}, {"acc_other"}));
  ASSERT_EQ(holder.status, 200u) << holder.body;
  json o = holder.json();
  EXPECT_EQ(o["scope"], "accounts");
  EXPECT_EQ(o["accounts"], json::array({"acc_other"}));
  EXPECT_EQ(o["counts"]["pending"], 1);
  EXPECT_EQ(o["active"], 1);
  for (const char* hidden : {"throughput", "confirmation_latency", "kafka", "relay", "health"})
    EXPECT_FALSE(o.contains(hidden)) << hidden;
  auto none = call("GET", "/overview", "", bearer({"account_holder"})).json();
  EXPECT_EQ(none["counts"]["pending"], 0);

  auto auditor = call("GET", "/overview", "", bearer({"auditor"})).json();
  EXPECT_EQ(auditor["scope"], "all");
  EXPECT_EQ(auditor["counts"]["pending"], 3);
  EXPECT_TRUE(auditor.contains("throughput"));
  EXPECT_EQ(auditor["health"].size(), 1u);
  // The dashboard's files need no token; the overview does.
  EXPECT_EQ(call("GET", "/ui", "", "").status, 200u);
  EXPECT_EQ(call("GET", "/overview", "", "").status, 401u);
  EXPECT_EQ(call("GET", "/overview", "", bearer({"submitter"})).status, 403u);
}

TEST_F(AuthApiTest, EveryHostileTokenIsRefusedWith401AndItsReason) {
  json c = claims(kIss, kAud, "mallory", {"operator"});
  std::string payload = auth::base64UrlEncode(c.dump());
  TestKey stranger = TestKey::rsa("k1");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {assembleToken(json{{"alg", "none"}}, c, ""), "alg_none_refused"},
      {hs256Token(key().jwk().dump(), json{{"alg", "HS256"}, {"kid", "k1"}}, c),
       "alg_key_mismatch"},
      {stranger.token(c), "bad_signature"},
      {"not-a-token", "malformed_token"},
      {key().token(claims("https://evil", kAud, "m", {"operator"})), "wrong_issuer"},
      {key().token(claims(kIss, "other", "m", {"operator"})), "wrong_audience"},
  };
  for (const auto& [token, reason] : cases) {
    auto r = call("POST", "/accounts", R"({"account_id":"evil"})", "Bearer " + token);
    EXPECT_EQ(r.status, 401u) << reason;
    EXPECT_EQ(r.json()["error"]["code"], reason);
    EXPECT_NE(r.header("www-authenticate").find(reason), std::string::npos);
  }
  EXPECT_FALSE(accounts.find("evil")->has_value());
}

TEST_F(AuthApiTest, ReadyShowsItsReasonOnlyToAToken) {
  readiness = []() -> Result<void> { return Error::transient("database_unavailable", "db down"); };
  auto open = call("GET", "/ready", "", "");
  EXPECT_EQ(open.status, 503u);
  EXPECT_FALSE(open.json().contains("error"));
  auto detailed = call("GET", "/ready", "", bearer({"auditor"}));
  EXPECT_EQ(detailed.status, 503u);
  EXPECT_EQ(detailed.json()["error"]["code"], "database_unavailable");
}

TEST_F(AuthApiTest, OperatorActionsAndRefusedAttemptsAreAudited) {
  auto ok =
      call("POST", "/accounts", R"({"account_id":"acc_new"})", bearer({"operator"}, {}, "op1"));
  ASSERT_EQ(ok.status, 201u) << ok.body;
  auto refused = call("POST", "/ledger/holdings",
                      R"({"account_id":"acc_buyer","asset":"USD","amount":"1000000"})",
                      bearer({"submitter"}, {}, "sub\n1"));
  EXPECT_EQ(refused.status, 403u);
  auto entries = audit.entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].actor, "op1");
  EXPECT_EQ(entries[0].role, "operator");
  EXPECT_EQ(entries[0].action, "account.create");
  EXPECT_EQ(entries[0].target, "acc_new");
  EXPECT_EQ(entries[0].outcome, "succeeded");
  EXPECT_EQ(entries[0].remote_address, "127.0.0.1");
  EXPECT_EQ(entries[0].request_id, ok.header("x-request-id"));
  EXPECT_EQ(entries[1].actor, "sub\n1");
  EXPECT_EQ(entries[1].action, "ledger.credit");
  EXPECT_EQ(entries[1].outcome, "refused");
  EXPECT_EQ(entries[1].status, 403);
  EXPECT_EQ(entries[1].error_code, "forbidden");

  auto list = call("GET", "/audit?action=account.create", "", bearer({"auditor"}));
  ASSERT_EQ(list.status, 200u) << list.body;
  ASSERT_EQ(list.json()["entries"].size(), 1u);
  EXPECT_EQ(list.json()["entries"][0]["actor"], "op1");
  auto page = call("GET", "/audit?limit=1", "", bearer({"operator"}));
  ASSERT_EQ(page.json()["entries"].size(), 1u);
  std::string cursor = page.json()["next_cursor"];
  auto next = call("GET", "/audit?limit=1&cursor=" + cursor, "", bearer({"operator"}));
  ASSERT_EQ(next.json()["entries"].size(), 1u);
  EXPECT_EQ(next.json()["entries"][0]["action"], "account.create");
  EXPECT_EQ(call("GET", "/audit?since=yesterday", "", bearer({"operator"})).status, 400u);
}

// Values PostgreSQL cannot take (year 0, an instant before 0001-01-01T00:00:00Z, invalid UTF-8,
// NUL) are the client's error, naming the parameter, never a database_error.
TEST_F(AuthApiTest, AuditFiltersPostgresCannotTakeAre400NamingTheParameter) {
  struct Case {
    std::string query, field;
  } cases[] = {
      {"since=0000-01-01T00:00:00Z", "since"},
      {"until=0000-12-31T23:59:59Z", "until"},
      {"until=0001-01-01T00:30:00%2B01:00", "until"},
      {"since=9999-12-31T23:30:00-01:00", "since"},
      {"actor=%FF", "actor"},
      {"action=%FF", "action"},
      {"target=%FF", "target"},
      {"actor=a%00b", "actor"},
  };
  for (const auto& c : cases) {
    auto r = call("GET", "/audit?" + c.query, "", bearer({"auditor"}));
    EXPECT_EQ(r.status, 400u) << c.query << " -> " << r.body;
    EXPECT_EQ(r.json()["error"]["code"], "invalid_parameter") << c.query;
    EXPECT_EQ(r.json()["error"]["field"], c.field) << c.query;
  }
  auto edge =
      call("GET", "/audit?since=0001-01-01T01:00:00%2B01:00&actor=%C3%A9", "", bearer({"auditor"}));
  EXPECT_EQ(edge.status, 200u) << edge.body;
}

TEST_F(AuthApiTest, TheSameIdempotencyKeyAndBodyCreditsOnce) {
  std::string op = bearer({"operator"});
  std::string body = R"({"account_id":"acc_buyer","asset":"USD","amount":"100"})";
  auto send = [&](const std::string& b, const std::string& k) {
    return http().request("POST", "/ledger/holdings", b,
                          {{"Authorization", op}, {"Idempotency-Key", k}});
  };
  auto first = send(body, "key-1");
  ASSERT_EQ(first.status, 201u) << first.body;
  auto again = send(R"({ "amount":"100", "asset":"USD", "account_id":"acc_buyer" })", "key-1");
  EXPECT_EQ(again.status, 201u);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  EXPECT_EQ(ledger.holdings("acc_buyer::party")->size(), 1u);
  auto other = send(R"({"account_id":"acc_buyer","asset":"USD","amount":"999"})", "key-1");
  EXPECT_EQ(other.status, 422u);
  EXPECT_EQ(other.json()["error"]["code"], "idempotency_key_reused");
  EXPECT_EQ(send(body, "key-2").status, 201u);
  EXPECT_EQ(ledger.holdings("acc_buyer::party")->size(), 2u);
  EXPECT_EQ(send(body, std::string(300, 'k')).status, 400u);
}

// A credit whose outcome the ledger could not tell (ledger_timeout: it may have run) keeps its
// Idempotency-Key with that answer: a retry under the key is answered, never credited again. A
// credit the ledger refused for certain (ledger_unavailable: not sent) releases the key.
TEST_F(AuthApiTest, ACreditWhoseOutcomeIsUnknownKeepsItsIdempotencyKey) {
  std::string op = bearer({"operator"});
  std::string body = R"({"account_id":"acc_buyer","asset":"USD","amount":"100"})";
  auto send = [&](const std::string& k) {
    return http().request("POST", "/ledger/holdings", body,
                          {{"Authorization", op}, {"Idempotency-Key", k}});
  };
  ledger.fail_with = Error::transient(ledger::kTimeout, "test: the answer was lost");
  auto lost = send("key-lost");
  EXPECT_EQ(lost.status, 503u) << lost.body;
  EXPECT_EQ(lost.json()["error"]["code"], "ledger_timeout");
  ledger.fail_with.reset();
  auto again = send("key-lost");
  EXPECT_EQ(again.status, 503u) << again.body;
  EXPECT_EQ(again.header("idempotent-replayed"), "true");
  EXPECT_EQ(again.body, lost.body);
  EXPECT_EQ(ledger.holdings("acc_buyer::party")->size(), 0u) << "credited under a spent key";

  ledger.fail_with = Error::transient(ledger::kUnavailable, "test: not sent");
  EXPECT_EQ(send("key-down").status, 503u);
  ledger.fail_with.reset();
  auto retried = send("key-down");
  EXPECT_EQ(retried.status, 201u) << retried.body;
  EXPECT_EQ(ledger.holdings("acc_buyer::party")->size(), 1u);
}

TEST_F(AuthApiTest, IssuerAndCashProviderPartiesAndTakenPartiesAreRefused) {
  std::string op = bearer({"operator"});
  auto issuer =
      call("POST", "/accounts", R"({"account_id":"x1","canton_party":"securities-issuer::1"})", op);
  EXPECT_EQ(issuer.status, 422u);
  EXPECT_EQ(issuer.json()["error"]["code"], "reserved_party");
  EXPECT_NE(issuer.json()["error"]["message"].get<std::string>().find("securities-issuer::1"),
            std::string::npos);
  EXPECT_EQ(
      call("POST", "/accounts", R"({"account_id":"x2","canton_party":"cash-provider::2"})", op)
          .status,
      422u);
  ASSERT_EQ(call("POST", "/accounts", R"({"account_id":"x3","canton_party":"shared"})", op).status,
            201u);
  auto taken = call("POST", "/accounts", R"({"account_id":"x4","canton_party":"shared"})", op);
  EXPECT_EQ(taken.status, 409u);
  EXPECT_EQ(taken.json()["error"]["code"], "canton_party_taken");
}

TEST_F(AuthApiTest, WithoutMintingThereIsNoCreditRoute) {
  minting = false;
  auto r = call("POST", "/ledger/holdings",
                R"({"account_id":"acc_buyer","asset":"USD","amount":"1"})", bearer({"operator"}));
  EXPECT_EQ(r.status, 404u);
}

}  // namespace
}  // namespace sc::test

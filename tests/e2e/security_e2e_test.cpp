// The attacks of issue 11's first paragraph against the built binary with authentication
// configured (a JWKS file of keys made here): each fails with 401/403/404, refused operator
// attempts are in the audit log (GET /audit) and in the service log. And production with auth
// serves neither minting nor fault injection.
#include <set>

#include "e2e/e2e_fixture.h"
#include "support/test_tls.h"
#include "support/test_tokens.h"

namespace sc::test {
namespace {

const TestIssuer& issuer() {
  static TestIssuer i("e2e-1", "https://issuer.e2e", makeTempDir("e2e-auth"));
  return i;
}

class SecurityE2e : public E2eTest {
 protected:
  std::map<std::string, std::string> serviceEnv() const override {
    auto env = issuer().serviceEnv();
    env["LOG_LEVEL"] = "INFO";
    return env;
  }
  std::map<std::string, std::string> as(const std::vector<std::string>& roles,
                                        const std::vector<std::string>& accounts = {},
                                        const std::string& sub = "e2e-user") {
    return issuer().bearer(sub, roles, accounts);
  }
  HttpResult send(const std::string& method, const std::string& path, const std::string& body,
                  const std::map<std::string, std::string>& headers = {}) {
    return http().request(method, path, body, headers);
  }
};

TEST_F(SecurityE2e, EveryAttackOfTheIssueFailsAndIsAuditedAndLogged) {
  // In canton mode the service serves no fault injection at all (404 to anyone; see
  // serviceServesFaults), so no refusal of it is audited or logged there.
  const bool faults = serviceServesFaults();
  const auto op = as({"operator"}, {}, "ops-1");
  const auto submitter = as({"submitter"}, {}, "desk-1");
  const std::string credit =
      Json{{"account_id", "acc_victim"}, {"asset", "USDC"}, {"amount", "1000000"}}.dump();

  // Anyone who reaches the port: no account, no credit, no trade, no reads, no faults.
  EXPECT_EQ(send("POST", "/accounts", R"({"account_id":"acc_evil"})").status, 401u);
  EXPECT_EQ(send("POST", "/ledger/holdings", credit).status, 401u);
  EXPECT_EQ(send("POST", "/trades", validTrade("trd_evil").dump()).status, 401u);
  EXPECT_EQ(send("GET", "/settlements", "").status, 401u);
  EXPECT_EQ(send("GET", "/accounts/acc_victim/holdings", "").status, 401u);
  EXPECT_EQ(send("POST", "/ledger/faults", R"({"synchronizer":"cash","down":true})").status,
            faults ? 401u : 404u);
  // A forged unsigned token is no better.
  std::string none =
      assembleToken(Json{{"alg", "none"}, {"typ", "JWT"}},
                    claims(issuer().issuer(), issuer().audience(), "mallory", {"operator"}), "");
  auto forged = send("POST", "/ledger/holdings", credit, {{"Authorization", "Bearer " + none}});
  EXPECT_EQ(forged.status, 401u);
  EXPECT_EQ(forged.json()["error"]["code"], "alg_none_refused");

  // The operator sets up two accounts; a submitter may trade but not mint or take a synchronizer
  // down.
  ASSERT_EQ(send("POST", "/accounts", R"({"account_id":"acc_victim"})", op).status, 201u);
  ASSERT_EQ(send("POST", "/accounts", R"({"account_id":"acc_thief"})", op).status, 201u);
  EXPECT_EQ(send("POST", "/ledger/holdings", credit, submitter).status, 403u);
  EXPECT_EQ(
      send("POST", "/ledger/faults", R"({"synchronizer":"cash","down":true})", submitter).status,
      faults ? 403u : 404u);
  EXPECT_EQ(send("POST", "/accounts", R"({"account_id":"acc_evil2"})", submitter).status, 403u);

  // Aliasing another account's party, or the issuer's, is refused.
  auto victim = send("GET", "/accounts/acc_victim", "", op).json();
  std::string victim_party = victim["canton_party"];
  auto alias = send("POST", "/accounts",
                    Json{{"account_id", "acc_alias"}, {"canton_party", victim_party}}.dump(), op);
  EXPECT_EQ(alias.status, 409u) << alias.body;
  EXPECT_EQ(alias.json()["error"]["code"], "canton_party_taken");
  auto issuer = send("POST", "/accounts",
                     R"({"account_id":"acc_iss","canton_party":"securities-issuer::12345"})", op);
  EXPECT_EQ(issuer.status, 422u) << issuer.body;

  // An account holder cannot read another account's settlement or holdings.
  auto trade =
      send("POST", "/trades", validTrade("trd_v", "acc_victim", "acc_seller").dump(), submitter);
  ASSERT_TRUE(trade.status == 201u || trade.status == 400u) << trade.body;
  EXPECT_EQ(send("GET", "/accounts/acc_victim/holdings", "", as({"account_holder"}, {"acc_thief"}))
                .status,
            404u);
  auto seen = send("GET", "/settlements", "", as({"account_holder"}, {"acc_thief"}));
  ASSERT_EQ(seen.status, 200u);
  EXPECT_EQ(seen.json()["total"], 0);
  if (trade.status == 201u) {
    std::string id = trade.json()["settlement_id"];
    EXPECT_EQ(send("GET", "/settlements/" + id, "", as({"account_holder"}, {"acc_thief"})).status,
              404u);
  }

  // The refused attempts of authenticated callers are in the audit log...
  auto audit = send("GET", "/audit?actor=desk-1", "", as({"auditor"}));
  ASSERT_EQ(audit.status, 200u) << audit.body;
  std::set<std::string> actions;
  Json entries = audit.json()["entries"];
  for (const auto& e : entries) {
    EXPECT_EQ(e["outcome"], "refused");
    EXPECT_EQ(e["status"], 403);
    EXPECT_EQ(e["remote_address"], "127.0.0.1");
    actions.insert(e["action"].get<std::string>());
  }
  std::set<std::string> refused{"ledger.credit", "account.create"};
  if (faults) refused.insert("ledger.fault");
  EXPECT_EQ(actions, refused);
  auto created = send("GET", "/audit?action=account.create&actor=ops-1", "", op).json();
  EXPECT_EQ(created["entries"].size(), 4u);  // two accounts, the alias, the issuer's party
  // ...and every refusal is in the service log.
  std::string log = service().logTail(200000);
  EXPECT_NE(log.find("refused POST \"/ledger/holdings\""), std::string::npos);
  EXPECT_NE(log.find("alg_none_refused"), std::string::npos);
  EXPECT_EQ(log.find("forbidden POST \"/ledger/faults\" for \"desk-1\"") != std::string::npos,
            faults);
}

TEST_F(SecurityE2e, TheSameIdempotencyKeyCreditsOnceAcrossARestart) {
  const auto op = as({"operator"});
  ASSERT_EQ(send("POST", "/accounts", R"({"account_id":"acc_1"})", op).status, 201u);
  auto headers = op;
  headers["Idempotency-Key"] = "fund-acc_1-001";
  std::string body = Json{{"account_id", "acc_1"}, {"asset", "USDC"}, {"amount", "500"}}.dump();
  auto first = send("POST", "/ledger/holdings", body, headers);
  ASSERT_EQ(first.status, 201u) << first.body;
  restartService();
  auto again = send("POST", "/ledger/holdings", body, headers);
  EXPECT_EQ(again.status, 201u);
  EXPECT_EQ(again.body, first.body);
  auto holdings = send("GET", "/accounts/acc_1/holdings", "", op).json();
  EXPECT_EQ(holdings["holdings"].size(), 1u) << holdings.dump();
  auto other =
      send("POST", "/ledger/holdings",
           Json{{"account_id", "acc_1"}, {"asset", "USDC"}, {"amount", "501"}}.dump(), headers);
  EXPECT_EQ(other.status, 422u);
}

class ProductionE2e : public SecurityE2e {
 protected:
  std::map<std::string, std::string> serviceEnv() const override {
    auto env = SecurityE2e::serviceEnv();
    env["ENVIRONMENT"] = "production";
    return env;
  }
};

TEST_F(ProductionE2e, ServesNeitherMintingNorFaultInjection) {
  const auto op = as({"operator"});
  auto mint =
      send("POST", "/ledger/holdings", R"({"account_id":"a","asset":"USDC","amount":"1"})", op);
  EXPECT_EQ(mint.status, 404u) << mint.body;
  auto fault = send("POST", "/ledger/faults", R"({"synchronizer":"cash","down":true})", op);
  EXPECT_EQ(fault.status, 404u) << fault.body;
  EXPECT_EQ(send("GET", "/health", "").status, 200u);
}

}  // namespace
}  // namespace sc::test

namespace sc::test {
namespace {

// The built binary with HTTP_TLS_CERT_FILE/HTTP_TLS_KEY_FILE: HTTPS only, verified by the client
// against the CA that signed the certificate; plain HTTP to the same port gets no HTTP answer.
const TestPki& pki() {
  static TestPki p("e2e https CA");
  return p;
}

class HttpsE2e : public E2eTest {
 protected:
  std::map<std::string, std::string> serviceEnv() const override {
    return {{"HTTP_TLS_CERT_FILE", pki().certChainFile()}, {"HTTP_TLS_KEY_FILE", pki().keyFile()}};
  }
};

TEST_F(HttpsE2e, TheApiPortServesVerifiedHttpsAndNoPlainHttp) {
  HttpClient https(service().port(), TlsClientOptions{pki().caFile(), "127.0.0.1"});
  EXPECT_EQ(https.get("/health").status, 200u);
  auto created = https.post("/accounts", Json{{"account_id", "acc_tls"}}.dump(),
                            {{"Content-Type", "application/json"}});
  EXPECT_EQ(created.status, 201u) << created.body;
  EXPECT_EQ(https.get("/accounts/acc_tls").json().value("account_id", ""), "acc_tls");

  HttpClient plain(service().port());
  bool answered = false;
  try {
    answered = plain.get("/health").status != 0;
  } catch (const std::exception&) {
  }
  EXPECT_FALSE(answered) << "plain HTTP was answered on the HTTPS port";
  EXPECT_THROW(HttpClient(service().port(), TlsClientOptions{"", "127.0.0.1"}).get("/health"),
               std::runtime_error)
      << "a client that trusts no CA completed the handshake";
}

}  // namespace
}  // namespace sc::test

// End-to-end over HTTP (see http_api_e2e_test.cpp): HTTP protocol errors (404, 405, 413, 400,
// 431), the operator endpoints (health, ready, metrics). Authentication: security_e2e_test.cpp.
#include <string>

#include "e2e/http_api_e2e.h"

namespace sc::test {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// --- HTTP protocol -------------------------------------------------------------------------------

TEST_F(HttpApiE2e, UnknownRouteIs404Json) {
  expectError(get("/nowhere"), 404, "not_found");
  expectError(get("/settlements/" + kUnknownSettlementId), 404, "settlement_not_found",
              "settlement_id");
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
  for (std::string garbage :
       {std::string("THIS IS NOT HTTP\r\n\r\n"),
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                    sizeof("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n") - 1),
        std::string("GET /health HTTP/1.1\r\nContent-Length: nope\r\n\r\n")}) {
    HttpClient raw(port());
    raw.sendRaw(garbage);
    auto r = raw.readResponse();
    ASSERT_TRUE(r.has_value()) << "the server closed without answering "
                               << Json(garbage).dump(-1, ' ', false,
                                                     Json::error_handler_t::replace);
    expectError(*r, 400, "malformed_request");
    EXPECT_TRUE(raw.waitForServerClose(5s))
        << "the connection should be closed after a protocol error";
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
  EXPECT_EQ(r.json()["details"].value("relay", ""), "off") << r.body;  // no Kafka configured
  get("/nowhere");                                                     // one 4xx
  auto m = get("/metrics");
  ASSERT_EQ(m.status, 200u);
  EXPECT_NE(m.header("content-type").find("text/plain"), std::string::npos);
  for (const char* name :
       {"sc_api_requests_total", "sc_api_responses_2xx_total", "sc_intake_accepted_total",
        "sc_workflow_settled_total", "sc_store_transitions_total"})
    EXPECT_NE(m.body.find(std::string("# TYPE ") + name + " counter"), std::string::npos)
        << name << "\n"
        << m.body;
  // The requests before this one were counted: 3 responses, one of them 4xx.
  EXPECT_NE(m.body.find("sc_api_requests_total 3\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("sc_api_responses_4xx_total 1\n"), std::string::npos) << m.body;
}

}  // namespace
}  // namespace sc::test

#pragma once
// The HTTP API end-to-end suites' fixture (http_api_e2e_test.cpp, http_protocol_e2e_test.cpp,
// service_lifecycle_e2e_test.cpp): the built binary with two symbols and a 4 KiB body limit, and
// the assertions they share.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "domain/status.h"
#include "e2e/e2e_fixture.h"

namespace sc::test {

using Json = nlohmann::json;

// Passed as `field` to expectError: do not check which field the error names.
inline const std::string kAnyField = "*";

// The JSON error body {"error":{"code","message","field"}} with the expected status and code;
// `field` empty means the body must not name one.
inline void expectError(const HttpResult& r, unsigned status, const std::string& code,
                        const std::string& field = {}) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_NE(r.header("content-type").find("application/json"), std::string::npos)
      << r.header("content-type");
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
inline const std::string kUnknownSettlementId = "set_0190f0f0f0f07000800000000000abcd";

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
      EXPECT_GE(created, last_created)
          << "events are not oldest first: " << j.dump();  // RFC 3339 UTC sorts
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
      EXPECT_TRUE(isAllowedTransition(*from, *to))
          << "illegal transition " << statuses[i - 1] << " -> " << statuses[i];
    }
  }
};

}  // namespace sc::test

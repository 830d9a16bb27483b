// Router matching and the one error-to-status mapping, without a server.
#include "api/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>
#include <vector>

#include "api/errors.h"
#include "domain/trade.h"
#include "ledger/ledger.h"
#include "store/errors.h"
#include "workflow/errors.h"

namespace sc::test {
namespace {

using namespace sc::api;

HttpResponse echoParams(const HttpRequest& r) {
  HttpResponse res;
  for (auto& [k, v] : r.params) res.body += k + "=" + v + ";";
  return res;
}

TEST(Router, MatchesPathParametersAndDecodesThem) {
  Router router;
  router.add("GET", "/settlements/{id}/events", echoParams);
  HttpRequest req{.method = "GET", .target = "/settlements/set%5Fab/events?x=1"};
  auto res = router.dispatch(req);
  EXPECT_EQ(res.status, 200u);
  EXPECT_EQ(res.body, "id=set_ab;");
  EXPECT_EQ(req.query.at("x"), "1");
}

TEST(Router, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router router;
  router.add("GET", "/accounts/{id}", echoParams);
  router.add("PATCH", "/accounts/{id}", echoParams);
  HttpRequest missing{.method = "GET", .target = "/nothing"};
  auto r404 = router.dispatch(missing);
  EXPECT_EQ(r404.status, 404u);
  EXPECT_EQ(nlohmann::json::parse(r404.body)["error"]["code"], "not_found");
  HttpRequest wrong{.method = "DELETE", .target = "/accounts/a"};
  auto r405 = router.dispatch(wrong);
  EXPECT_EQ(r405.status, 405u);
  ASSERT_EQ(r405.headers.size(), 1u);
  EXPECT_EQ(r405.headers[0].first, "Allow");
  EXPECT_EQ(r405.headers[0].second, "GET, PATCH");
}

TEST(Router, LiteralSegmentsWinOverParameters) {
  Router router;
  router.add("GET", "/x/{id}", [](const HttpRequest&) { return HttpResponse{.body = "param"}; });
  router.add("GET", "/x/special",
             [](const HttpRequest&) { return HttpResponse{.body = "literal"}; });
  HttpRequest req{.method = "GET", .target = "/x/special"};
  EXPECT_EQ(router.dispatch(req).body, "literal");
}

TEST(Router, HandlerExceptionBecomes500) {
  Router router;
  router.add("GET", "/boom",
             [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
  HttpRequest req{.method = "GET", .target = "/boom"};
  auto res = router.dispatch(req);
  EXPECT_EQ(res.status, 500u);
  EXPECT_EQ(nlohmann::json::parse(res.body)["error"]["code"], "internal_error");
}

TEST(Router, QueryDecodingHandlesPlusPercentAndBadEscapes) {
  auto q = parseQuery("a=x%20y&b=c+d&empty=&flag");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->at("a"), "x y");
  EXPECT_EQ(q->at("b"), "c d");
  EXPECT_EQ(q->at("empty"), "");
  EXPECT_EQ(q->at("flag"), "");
  EXPECT_FALSE(parseQuery("a=%4"));
  EXPECT_FALSE(parseQuery("a=%g1"));
}

// The API speaks UTF-8 JSON and PostgreSQL text holds neither invalid UTF-8 nor U+0000: a decoded
// query value or path parameter that is either is refused before any handler runs, naming it.
TEST(Router, QueryValuesAndPathParametersMustBeUtf8WithoutNul) {
  Router router;
  bool ran = false;
  auto handler = [&](const HttpRequest&) {
    ran = true;
    return HttpResponse{};
  };
  router.add("GET", "/audit", handler);
  router.add("GET", "/accounts/{id}", handler);
  struct Case {
    std::string target, field;
  } refused[] = {
      {"/audit?actor=%FF", "actor"},
      {"/audit?action=%FF", "action"},
      {"/audit?target=%FF", "target"},
      {"/audit?actor=a%00b", "actor"},
      {"/audit?limit=5&actor=ok&target=%C3", "target"},  // truncated sequence
      {"/audit?actor=%C0%AF", "actor"},                  // overlong '/'
      {"/audit?actor=%E0%80%AF", "actor"},               // overlong '/'
      {"/audit?actor=%ED%A0%80", "actor"},               // UTF-16 surrogate
      {"/audit?actor=%F4%90%80%80", "actor"},            // past U+10FFFF
      {"/audit?actor=%80", "actor"},                     // lone continuation byte
      {"/audit?since=2024-01-01T00:00:00Z%00", "since"},
      {"/audit?actor=a\xff"
       "b",
       "actor"},  // raw, not escaped
      {"/accounts/%FF", "id"},
      {"/accounts/acc%00", "id"},
      {"/accounts/%ED%BF%BF", "id"},
  };
  for (const auto& c : refused) {
    ran = false;
    HttpRequest req{.method = "GET", .target = c.target};
    auto res = router.dispatch(req);
    EXPECT_EQ(res.status, 400u) << c.target;
    EXPECT_FALSE(ran) << c.target;
    auto body = nlohmann::json::parse(res.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << c.target << " -> " << res.body;
    EXPECT_EQ(body["error"]["code"], "invalid_parameter") << c.target;
    EXPECT_EQ(body["error"]["field"], c.field) << c.target;
  }
  for (std::string target :
       {"/audit?actor=%C3%A9l%C3%A8ve", "/audit?actor=%E2%82%AC%F0%9F%98%80",
        "/audit?actor=%EF%BF%BF%F4%8F%BF%BF", "/audit?actor=", "/accounts/%C3%A9"}) {
    ran = false;
    HttpRequest req{.method = "GET", .target = target};
    EXPECT_EQ(router.dispatch(req).status, 200u) << target;
    EXPECT_TRUE(ran) << target;
  }
}

TEST(ErrorMapping, EveryDomainReasonCodeIs400ExceptTradeConflict) {
  for (auto code : {reason::kInvalidJson,         reason::kMissingField,
                    reason::kInvalidFieldType,    reason::kInvalidEventType,
                    reason::kInvalidId,           reason::kInvalidDecimal,
                    reason::kDecimalTooPrecise,   reason::kDecimalOutOfRange,
                    reason::kNonPositiveQuantity, reason::kNonPositiveAmount,
                    reason::kNonPositivePrice,    reason::kAmountMismatch,
                    reason::kSelfTrade,           reason::kInvalidSymbol,
                    reason::kUnknownSymbol,       reason::kInvalidDate,
                    reason::kInvalidTimestamp,    reason::kSettlementDateBeforeTradeDate,
                    reason::kUnknownAccount,      reason::kInactiveAccount})
    EXPECT_EQ(httpStatusFor(Error::permanent(std::string(code), "m")), 400u) << code;
  EXPECT_EQ(httpStatusFor(Error::permanent(std::string(reason::kTradeConflict), "m")), 409u);
}

TEST(ErrorMapping, OperationalCodesMapToTheirStatus) {
  auto status = [](const char* code, bool retryable = false) {
    return httpStatusFor(Error{code, "m", "", retryable});
  };
  EXPECT_EQ(status("settlement_not_found"), 404u);
  EXPECT_EQ(status("account_not_found"), 404u);
  EXPECT_EQ(status("not_found"), 404u);
  EXPECT_EQ(status("invalid_state"), 409u);
  EXPECT_EQ(status("account_exists"), 409u);
  EXPECT_EQ(status("unauthorized"), 401u);
  EXPECT_EQ(status("payload_too_large"), 413u);
  EXPECT_EQ(status("database_unavailable", true), 503u);
  EXPECT_EQ(status("ledger_unavailable"), 503u);
  EXPECT_EQ(status("anything_new", true), 503u);
  EXPECT_EQ(status("illegal_transition"), 500u);
  EXPECT_EQ(status(""), 500u);
}

// By the names in each module's list: a renamed or moved code keeps its status or fails here.
TEST(ErrorMapping, EachModulesListedCodesMapToTheirStatus) {
  const std::vector<std::pair<std::string_view, unsigned>> expected = {
      {ledger::kInvalidCommand, 400},
      {store::kUnknownAccount, 400},
      {workflow::kUnknownAccount, 400},
      {workflow::kInactiveAccount, 400},
      {store::kAccountExists, 409},
      {workflow::kInvalidState, 409},
      {workflow::kSettlementNotFound, 404},
      {workflow::kAccountNotFound, 404},
      {store::kDatabaseUnavailable, 503},
      {ledger::kUnavailable, 503},
      {ledger::kTimeout, 503},
      {ledger::kContractInFlight, 503},
      {kNotReady, 503},
      {kMethodNotAllowed, 405},
      {kHeaderTooLarge, 431},
      {store::kIllegalTransition, 500},
      // Nothing produces "invalid_request" any more: it is not a client-input code.
      {"invalid_request", 500},
  };
  for (const auto& [code, status] : expected)
    EXPECT_EQ(httpStatusFor(Error::permanent(std::string(code), "m")), status) << code;
}

TEST(ErrorMapping, BodyHasCodeMessageAndFieldOnlyWhenKnown) {
  auto with = nlohmann::json::parse(errorBody(Error::permanent("invalid_id", "bad", "trade_id")));
  EXPECT_EQ(with, nlohmann::json::parse(
                      R"({"error":{"code":"invalid_id","message":"bad","field":"trade_id"}})"));
  auto without = nlohmann::json::parse(errorBody(Error::permanent("x", "y")));
  EXPECT_FALSE(without["error"].contains("field"));
  // Invalid UTF-8 in a message never throws.
  EXPECT_NO_THROW(errorBody(Error::permanent("x", std::string("\xff\xfe"))));
}

}  // namespace
}  // namespace sc::test

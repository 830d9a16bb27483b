// The JSON body limits of request_parsing: nesting depth and size of non-trade bodies.
#include "api/request_parsing.h"

#include <gtest/gtest.h>

#include "api/errors.h"
#include "api/test_server.h"

namespace sc::test {
namespace {

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonNestingDepth, CountsObjectsAndArraysButNotBracketsInStrings) {
  EXPECT_EQ(api::jsonNestingDepth(R"({"a":1})"), 1u);
  EXPECT_EQ(api::jsonNestingDepth(R"({"a":[{"b":{}}]})"), 4u);
  EXPECT_EQ(api::jsonNestingDepth(R"({"a":"[[[[{{{{"})"), 1u);
  EXPECT_EQ(api::jsonNestingDepth(R"({"a":"\"[[[["})"), 1u);  // an escaped quote stays inside
  EXPECT_EQ(api::jsonNestingDepth(R"({"a":"\\"} [[)"), 2u);   // an escaped backslash ends it
  EXPECT_EQ(api::jsonNestingDepth("]]]"), 0u);
  EXPECT_EQ(api::jsonNestingDepth(nested(100000)), 100000u);
}

TEST(ParseObject, RefusesBodiesNestedTooDeepBeforeParsingThem) {
  auto deep = api::parseObject("{\"a\":" + nested(api::kMaxJsonDepth) + "}");
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code, "json_too_deep");
  EXPECT_EQ(api::httpStatusFor(deep.error()), 400u);
  EXPECT_TRUE(api::parseObject("{\"a\":" + nested(api::kMaxJsonDepth - 1) + "}"));
}

TEST(ParseObject, RefusesNonTradeBodiesOverTheirSizeLimit) {
  std::string big = R"({"reason":")" + std::string(api::kMaxObjectBodyBytes, 'x') + "\"}";
  auto r = api::parseObject(big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "payload_too_large");
  EXPECT_EQ(api::httpStatusFor(r.error()), 413u);
}

class RequestLimitsTest : public ApiServerTest {};

TEST_F(RequestLimitsTest, ADeeplyNestedAccountBodyIs400NamingTheLimit) {
  auto r = http().post("/accounts", "{\"account_id\":\"a1\",\"x\":" + nested(5000) + "}");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.json()["error"]["code"], "json_too_deep") << r.body;
}

}  // namespace
}  // namespace sc::test

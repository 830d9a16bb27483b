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

// Every string a body gives goes through optionalString/requiredString: U+0000 (which PostgreSQL's
// text and jsonb cannot store) is refused there, naming the field.
TEST(StringFields, RefuseNulNamingTheField) {
  auto body = api::parseObject(R"({"reason":"x\u0000y","note":"\u0000","ok":"caf\u00e9"})");
  ASSERT_TRUE(body);
  auto reason = api::requiredString(*body, "reason");
  ASSERT_FALSE(reason);
  EXPECT_EQ(reason.error().code, "invalid_parameter");
  EXPECT_EQ(reason.error().field, "reason");
  EXPECT_EQ(api::httpStatusFor(reason.error()), 400u);
  auto note = api::optionalString(*body, "note");
  ASSERT_FALSE(note);
  EXPECT_EQ(note.error().code, "invalid_parameter");
  EXPECT_EQ(note.error().field, "note");
  auto ok = api::requiredString(*body, "ok");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, "caf\xc3\xa9");
  auto id = api::requiredExternalId(*body, "reason");
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().field, "reason");
}

// nlohmann::json refuses invalid UTF-8 and lone surrogates when parsing, so every parsed string
// is valid UTF-8: only NUL needs checking.
TEST(ParseObject, RefusesInvalidUtf8InStrings) {
  for (std::string text :
       {std::string("{\"reason\":\"a\xff\"}"), std::string("{\"reason\":\"\xc0\xaf\"}"),
        std::string("{\"reason\":\"\xed\xa0\x80\"}"), std::string(R"({"reason":"\ud800"})"),
        std::string("{\"r\xff\":\"x\"}")}) {
    auto r = api::parseObject(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, "invalid_json");
  }
}

class RequestLimitsTest : public ApiServerTest {};

TEST_F(RequestLimitsTest, ADeeplyNestedAccountBodyIs400NamingTheLimit) {
  auto r = http().post("/accounts", "{\"account_id\":\"a1\",\"x\":" + nested(5000) + "}");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.json()["error"]["code"], "json_too_deep") << r.body;
}

}  // namespace
}  // namespace sc::test

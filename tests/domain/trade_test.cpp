#include "domain/trade.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sc::test {
namespace {

using nlohmann::json;

json validTrade() {
  return json{{"event_id", "evt_1"},
              {"event_type", "trade_executed"},
              {"trade_id", "trd_1"},
              {"buyer_account_id", "acc_buyer"},
              {"seller_account_id", "acc_seller"},
              {"symbol", "AAPL/USDC"},
              {"quantity", "50.00000000"},
              {"price", "150.48"},
              {"amount", "7524.00"},
              {"settlement_date", "2024-11-19"},
              {"executed_at", "2024-11-17T16:30:00Z"},
              {"allow_partial", false}};
}

std::string rejectCode(const std::string& text, std::string* field = nullptr) {
  auto r = decodeTrade(text);
  if (r.ok()) return "accepted";
  if (field) *field = r.error().field;
  return r.error().code;
}

std::string rejectCode(const json& j, std::string* field = nullptr) {
  return rejectCode(j.dump(), field);
}

TEST(TradeDecode, AcceptsTheDesignExample) {
  auto r = decodeTrade(validTrade().dump());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->trade_id, "trd_1");
  EXPECT_EQ(r->quantity.toString(), "50.00000000");
  EXPECT_EQ(r->amount.toString(), "7524.00000000");
  EXPECT_EQ(r->securityAsset(), "AAPL");
  EXPECT_EQ(r->cashAsset(), "USDC");
  EXPECT_EQ(formatDate(r->settlement_date), "2024-11-19");
  EXPECT_FALSE(r->allow_partial);
}

TEST(TradeDecode, AcceptsExactJsonNumbersUsingTheirLiteralText) {
  json j = validTrade();
  j["quantity"] = 50;
  j.erase("price");
  std::string text = j.dump();
  // a literal a double could not hold exactly must still be exact
  auto pos = text.find("\"7524.00\"");
  text.replace(pos, 9, "0.30000001");
  auto r = decodeTrade(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->amount.toString(), "0.30000001");
  EXPECT_EQ(r->quantity.toString(), "50.00000000");
}

TEST(TradeDecode, JsonNumbersWithHugeExponentsAreDecidedExactly) {
  json j = validTrade();
  j.erase("price");
  std::string text = j.dump();
  auto withAmount = [&](const std::string& literal) {
    std::string t = text;
    t.replace(t.find("\"7524.00\""), 9, literal);
    return t;
  };
  // 10^1000 × 10^-10000 is 10^-9000, not 1 (issue 8, defect 6).
  std::string field;
  EXPECT_EQ(rejectCode(withAmount("1" + std::string(1000, '0') + "e-10000"), &field),
            "decimal_too_precise");
  EXPECT_EQ(field, "amount");
  auto big = decodeTrade(withAmount("0." + std::string(1500, '0') + "75240e1504"));
  ASSERT_TRUE(big.ok()) << big.error().message;
  EXPECT_EQ(big->amount.toString(), "7524.00000000");
}

TEST(TradeDecode, PriceIsOptional) {
  json j = validTrade();
  j.erase("price");
  EXPECT_EQ(rejectCode(j), "accepted");
}

TEST(TradeDecode, RejectsMalformedJson) {
  EXPECT_EQ(rejectCode(std::string("{\"trade_id\":")), "invalid_json");
  EXPECT_EQ(rejectCode(std::string("[1,2]")), "invalid_json");
  EXPECT_EQ(rejectCode(std::string("")), "invalid_json");
  EXPECT_EQ(rejectCode(std::string("{\"a\":1,\"a\":2}")), "invalid_json");
}

TEST(TradeDecode, DuplicateMemberErrorStaysValidUtf8WhenTheNameIsCut) {
  // Found by tests/fuzz/trade_fuzz: the name was cut at byte 64, inside a two-byte character, and
  // the message could no longer be serialised into the JSON error body.
  const std::string name = std::string(63, 'a') + "\xc3\xa9";
  auto r = decodeTrade("{\"" + name + "\":1,\"" + name + "\":2}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_json");
  EXPECT_NO_THROW((void)json(r.error().message).dump());
  EXPECT_EQ(r.error().message, "duplicate member '" + std::string(63, 'a') + "\\xc3...'");
}

TEST(TradeDecode, RejectsEachMissingRequiredField) {
  for (const char* f : {"trade_id", "buyer_account_id", "seller_account_id", "symbol", "quantity",
                        "amount", "settlement_date", "executed_at"}) {
    json j = validTrade();
    j.erase(f);
    std::string field;
    EXPECT_EQ(rejectCode(j, &field), "missing_field") << f;
    EXPECT_EQ(field, f);
    j = validTrade();
    j[f] = nullptr;
    EXPECT_EQ(rejectCode(j), "missing_field") << f;
  }
}

TEST(TradeDecode, RejectsWrongFieldTypes) {
  std::string field;
  json j = validTrade();
  j["trade_id"] = 42;
  EXPECT_EQ(rejectCode(j, &field), "invalid_field_type");
  EXPECT_EQ(field, "trade_id");
  j = validTrade();
  j["quantity"] = json::array({1});
  EXPECT_EQ(rejectCode(j), "invalid_field_type");
  j = validTrade();
  j["allow_partial"] = "yes";
  EXPECT_EQ(rejectCode(j), "invalid_field_type");
  j = validTrade();
  j["amount"] = true;
  EXPECT_EQ(rejectCode(j), "invalid_field_type");
}

TEST(TradeDecode, RejectsBadEventTypeAndIds) {
  json j = validTrade();
  j["event_type"] = "trade_cancelled";
  EXPECT_EQ(rejectCode(j), "invalid_event_type");
  j = validTrade();
  j["buyer_account_id"] = "has space";
  EXPECT_EQ(rejectCode(j), "invalid_id");
  j = validTrade();
  j["trade_id"] = std::string(65, 'x');
  EXPECT_EQ(rejectCode(j), "invalid_id");
}

TEST(TradeDecode, RejectsBadDecimals) {
  json j = validTrade();
  j["quantity"] = "fifty";
  EXPECT_EQ(rejectCode(j), "invalid_decimal");
  j = validTrade();
  j.erase("price");
  j["quantity"] = "1.123456789";
  EXPECT_EQ(rejectCode(j), "decimal_too_precise");
  j = validTrade();
  j.erase("price");
  j["amount"] = "12345678901";
  EXPECT_EQ(rejectCode(j), "decimal_out_of_range");
}

TEST(TradeDecode, RejectsNonPositiveNumbers) {
  json j = validTrade();
  j["quantity"] = "0";
  EXPECT_EQ(rejectCode(j), "non_positive_quantity");
  j = validTrade();
  j["quantity"] = "-5";
  EXPECT_EQ(rejectCode(j), "non_positive_quantity");
  j = validTrade();
  j.erase("price");
  j["amount"] = "0.00";
  EXPECT_EQ(rejectCode(j), "non_positive_amount");
  j = validTrade();
  j["price"] = "0";
  EXPECT_EQ(rejectCode(j), "non_positive_price");
}

TEST(TradeDecode, RejectsAmountThatIsNotQuantityTimesPrice) {
  json j = validTrade();
  j["amount"] = "7524.01";
  std::string field;
  EXPECT_EQ(rejectCode(j, &field), "amount_mismatch");
  EXPECT_EQ(field, "amount");
  // half-even rounding to 8 dp is the reference: 0.00000003 * 0.5 = 0.00000002
  j = validTrade();
  j["quantity"] = "0.00000003";
  j["price"] = "0.5";
  j["amount"] = "0.00000002";
  EXPECT_EQ(rejectCode(j), "accepted");
}

TEST(TradeDecode, RejectsSelfTrade) {
  json j = validTrade();
  j["seller_account_id"] = "acc_buyer";
  EXPECT_EQ(rejectCode(j), "self_trade");
}

TEST(TradeDecode, RejectsMalformedSymbols) {
  for (const char* s :
       {"AAPL", "AAPL/", "/USDC", "AAPL/USDC/X", "aapl/usdc", "AAPL/AAPL", "TOOLONGSYMBOL1/USDC"}) {
    json j = validTrade();
    j["symbol"] = s;
    EXPECT_EQ(rejectCode(j), "invalid_symbol") << s;
  }
}

TEST(TradeDecode, RejectsSymbolsNotInTheConfiguredList) {
  TradeRules rules{{"MSFT/USDC"}};
  auto r = decodeTrade(validTrade().dump(), rules);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "unknown_symbol");
}

TEST(TradeDecode, RejectsBadDatesAndTimestamps) {
  json j = validTrade();
  j["settlement_date"] = "2024-02-30";
  EXPECT_EQ(rejectCode(j), "invalid_date");
  j = validTrade();
  j["executed_at"] = "yesterday";
  EXPECT_EQ(rejectCode(j), "invalid_timestamp");
}

TEST(TradeDecode, RejectsDatesAndTimestampsOutsideYears0001To9999) {
  std::string field;
  json j = validTrade();
  j["executed_at"] = "0000-12-31T23:00:00Z";
  EXPECT_EQ(rejectCode(j, &field), "invalid_timestamp");
  EXPECT_EQ(field, "executed_at");
  j["executed_at"] = "0001-01-01T00:30:00+01:00";  // 0000-12-31T23:30:00Z
  field.clear();
  EXPECT_EQ(rejectCode(j, &field), "invalid_timestamp");
  EXPECT_EQ(field, "executed_at");
  j = validTrade();
  j["settlement_date"] = "0000-01-01";
  field.clear();
  EXPECT_EQ(rejectCode(j, &field), "invalid_date");
  EXPECT_EQ(field, "settlement_date");
}

// The trade's strings are ids, a symbol, an event type, a date and a timestamp, all of restricted
// character sets: none can carry U+0000 (which PostgreSQL's text and jsonb cannot store).
TEST(TradeDecode, RefusesNulInEveryStringField) {
  for (const char* name :
       {"event_id", "event_type", "trade_id", "buyer_account_id", "seller_account_id", "symbol",
        "quantity", "price", "amount", "settlement_date", "executed_at"}) {
    json j = validTrade();
    j[name] = j[name].get<std::string>() + std::string(1, '\0');
    std::string field;
    EXPECT_NE(rejectCode(j, &field), "accepted") << name;
    EXPECT_EQ(field, name);
  }
}

TEST(TradeDecode, RejectsSettlementDateBeforeTradeDate) {
  json j = validTrade();
  j["settlement_date"] = "2024-11-16";
  EXPECT_EQ(rejectCode(j), "settlement_date_before_trade_date");
  j["settlement_date"] = "2024-11-17";  // same day is fine
  EXPECT_EQ(rejectCode(j), "accepted");
}

TEST(TradeDecode, SameContentIgnoresEventIdButNothingElse) {
  Trade a = *decodeTrade(validTrade().dump());
  json j = validTrade();
  j["event_id"] = "evt_other";
  Trade b = *decodeTrade(j.dump());
  EXPECT_TRUE(a.sameContent(b));
  j["allow_partial"] = true;
  EXPECT_FALSE(a.sameContent(*decodeTrade(j.dump())));
}

TEST(TradeEncode, RoundTripsThroughDecode) {
  Trade a = *decodeTrade(validTrade().dump());
  auto b = decodeTrade(encodeTrade(a));
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_TRUE(a.sameContent(*b));
  EXPECT_EQ(b->event_id, "evt_1");
}

TEST(ReadableTradeId, NamesARejectedTradeWhoseIdIsValid) {
  json j = validTrade();
  j.erase("quantity");
  EXPECT_EQ(rejectCode(j), "missing_field");
  EXPECT_EQ(readableTradeId(j.dump()), "trd_1");
  j["trade_id"] = "not an id";
  EXPECT_EQ(readableTradeId(j.dump()), "");
  j["trade_id"] = 42;
  EXPECT_EQ(readableTradeId(j.dump()), "");
  j.erase("trade_id");
  EXPECT_EQ(readableTradeId(j.dump()), "");
  EXPECT_EQ(readableTradeId(R"({"trade_id":"trd_1",)"), "");  // malformed
  EXPECT_EQ(readableTradeId(R"(["trd_1"])"), "");
  EXPECT_EQ(readableTradeId(R"({"x":{"trade_id":"trd_nested"}})"), "");
  EXPECT_EQ(readableTradeId(R"({"trade_id":"a","trade_id":"b"})"), "");  // duplicate member
}

}  // namespace
}  // namespace sc::test

// The Daml-LF JSON encoding shared by the Canton adapter and the sandbox.
#include "ledger/daml_json.h"

#include <gtest/gtest.h>

namespace sc::ledger::daml {
namespace {

Numeric N(const char* s) { return Numeric::parse(s).value(); }

TEST(DamlJson, TemplateIdsUseThePackageNameFromDamlYaml) {
  EXPECT_EQ(packageName(), "settlement-coordinator");
  EXPECT_EQ(templateRef(Template::kDeliveryVsPayment),
            "#settlement-coordinator:Settlement.DvP:DeliveryVsPayment");
  EXPECT_EQ(templateRef(Template::kLockedCash),
            "#settlement-coordinator:Settlement.Holding:LockedCash");
  EXPECT_EQ(packageId().size(), 64u);
}

TEST(DamlJson, TemplateIdsParseInBothFormsAndRejectOthers) {
  for (Template t : kAllTemplates) {
    EXPECT_EQ(parseTemplateId(templateRef(t)).value(), t);
    EXPECT_EQ(parseTemplateId(templateIdWithPackageId(t)).value(), t);
  }
  EXPECT_FALSE(parseTemplateId("#other-package:Settlement.DvP:DeliveryVsPayment"));
  EXPECT_FALSE(parseTemplateId("#settlement-coordinator:Settlement.DvP:Nope"));
  auto e = parseTemplateId("DeliveryVsPayment");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("<Module>:<Entity>"), std::string::npos);
}

TEST(DamlJson, NumericIsAStringWithScaleTenAndRoundTripsExactly) {
  EXPECT_EQ(numeric(N("100.5")), Json("100.5000000000"));
  EXPECT_EQ(numeric(N("0.00000001")), Json("0.0000000100"));
  EXPECT_EQ(numeric(N("-3")), Json("-3.0000000000"));
  EXPECT_EQ(parseNumeric(Json("9999999999.99999999"), "q").value(), N("9999999999.99999999"));
  EXPECT_EQ(parseNumeric(Json("1.0000000000"), "q").value(), N("1"));
  EXPECT_EQ(parseNumeric(Json(42), "q").value(), N("42"));
}

TEST(DamlJson, NumericRejectsDoublesExcessDigitsAndGarbage) {
  auto d = parseNumeric(Json(1.5), "quantity");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().field, "quantity");
  EXPECT_FALSE(parseNumeric(Json("1.00000000001"), "q"));  // 11 decimals
  EXPECT_FALSE(parseNumeric(Json("1.0000000010"), "q"));   // digits past the ledger's scale
  EXPECT_FALSE(parseNumeric(Json("abc"), "q"));
}

TEST(DamlJson, DvpArgumentsRoundTrip) {
  DvpArgs a{"buyer::1", "seller::2",   "iss::3",
            "cash::4",  "AAPL",        "USDC",
            N("100"),   N("15000.25"), std::chrono::sys_days{std::chrono::year{2024} / 11 / 19}};
  Json j = encode(a);
  EXPECT_EQ(j["settlement_date"], "2024-11-19");
  EXPECT_EQ(j["cash_amount"], "15000.2500000000");
  auto b = decodeDvp(j).value();
  EXPECT_EQ(b.buyer, a.buyer);
  EXPECT_EQ(b.currency, "USDC");
  EXPECT_EQ(b.cash_amount, a.cash_amount);
  EXPECT_EQ(b.settlement_date, a.settlement_date);
  j.erase("currency");
  auto e = decodeDvp(j);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().field, "currency");
}

TEST(DamlJson, HoldingArgumentsUseEachTemplatesFieldNames) {
  HoldingArgs lock{Template::kLockedCash, "cash::4", "buyer::1", "USDC",
                   "seller::2",           "00ab",    N("7")};
  Json j = encode(lock);
  EXPECT_EQ(j["provider"], "cash::4");
  EXPECT_EQ(j["currency"], "USDC");
  EXPECT_EQ(j["seller"], "seller::2");
  EXPECT_EQ(j["amount"], "7.0000000000");
  auto back = decodeHolding(Template::kLockedCash, j).value();
  EXPECT_EQ(back.dvp_ref, "00ab");
  EXPECT_TRUE(back.isLock());
  EXPECT_TRUE(back.isCash());
  HoldingArgs sec{Template::kSecuritiesHolding, "iss::3", "seller::2", "AAPL", "", "", N("10")};
  Json s = encode(sec);
  EXPECT_EQ(s["symbol"], "AAPL");
  EXPECT_EQ(s["quantity"], "10.0000000000");
  EXPECT_FALSE(s.contains("dvp_ref"));
  EXPECT_FALSE(decodeHolding(Template::kSecuritiesHolding, Json{{"issuer", "x"}}));
}

TEST(DamlJson, CantonErrorsRenderAndParseWithCategoryStatusAndRetry) {
  CantonError dup =
      makeError(kDuplicateCommand, Category::kInvalidGivenCurrentSystemStateResourceExists,
                "A command with the given command id has already been successfully processed");
  dup.context["existing_submission_id"] = "s1";
  Json j = render(dup);
  EXPECT_EQ(j["errorCategory"], 10);
  EXPECT_EQ(j["grpcCodeValue"], 6);
  EXPECT_EQ(dup.httpStatus(), 409);
  auto back = parseCantonError(j).value();
  EXPECT_EQ(back.code, kDuplicateCommand);
  EXPECT_EQ(back.context.at("existing_submission_id"), "s1");
  EXPECT_FALSE(retryable(back.category()));

  CantonError flight =
      makeError(kSubmissionAlreadyInFlight, Category::kContentionOnSharedResources, "x");
  EXPECT_TRUE(retryable(flight.category()));
  EXPECT_EQ(flight.httpStatus(), 409);
  EXPECT_EQ(render(flight)["retryInfo"], "1 second");
  EXPECT_EQ(
      makeError(kRequestTimeout, Category::kDeadlineExceededRequestStateUnknown, "t").httpStatus(),
      504);
  EXPECT_EQ(makeError(kDamlAuthorizationError, Category::kInvalidIndependentOfSystemState, "a")
                .httpStatus(),
            400);
  EXPECT_EQ(
      makeError(kContractNotFound, Category::kInvalidGivenCurrentSystemStateResourceMissing, "c")
          .httpStatus(),
      404);
  EXPECT_EQ(
      makeError(kUnauthenticated, Category::kAuthInterceptorInvalidAuthenticationCredentials, "u")
          .httpStatus(),
      401);
  EXPECT_EQ(
      makeError(kUnsupportedOperation, Category::kInternalUnsupportedOperation, "u").httpStatus(),
      501);
  EXPECT_FALSE(parseCantonError(Json{{"cause", "no code"}}));
  EXPECT_FALSE(parseCantonError(Json{{"code", "X"}}));  // no category
}

}  // namespace
}  // namespace sc::ledger::daml

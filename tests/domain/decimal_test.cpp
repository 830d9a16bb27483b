#include "domain/decimal.h"

#include <gtest/gtest.h>

namespace sc {
namespace {

Decimal d(const char* s) {
  auto r = Decimal::parse(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Decimal();
}

TEST(Decimal, ParsesAndFormatsWithEightFractionalDigits) {
  EXPECT_EQ(d("50").toString(), "50.00000000");
  EXPECT_EQ(d("7524.00").toString(), "7524.00000000");
  EXPECT_EQ(d("0.00000001").toString(), "0.00000001");
  EXPECT_EQ(d("-1.5").toString(), "-1.50000000");
  EXPECT_EQ(d("+2").toString(), "2.00000000");
  EXPECT_EQ(d("0009.1").toString(), "9.10000000");
  EXPECT_EQ(d("9999999999.99999999").toString(), "9999999999.99999999");
  EXPECT_EQ(d("0").toString(), "0.00000000");
}

TEST(Decimal, TrailingZerosBeyondEightPlacesAreExact) {
  EXPECT_EQ(d("1.1234567800").toString(), "1.12345678");
}

TEST(Decimal, RejectsMalformedText) {
  for (const char* s : {"", "-", ".", "1.", ".5", "1..2", "1,5", "abc", "1e3", " 1", "1 ", "0x10",
                        "NaN", "Infinity", "--1", "1-"}) {
    auto r = Decimal::parse(s);
    ASSERT_FALSE(r.ok()) << "'" << s << "' parsed";
    EXPECT_EQ(r.error().code, "invalid_decimal") << s;
  }
}

TEST(Decimal, RejectsMoreThanEightFractionalDigits) {
  auto r = Decimal::parse("0.000000001");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "decimal_too_precise");
}

TEST(Decimal, RejectsMoreThanTenIntegerDigits) {
  auto r = Decimal::parse("10000000000");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "decimal_out_of_range");
  EXPECT_FALSE(Decimal::parse("-99999999999.1").ok());
}

TEST(Decimal, ExponentOnlyForJsonNumbersAndOnlyWhenExact) {
  EXPECT_EQ(Decimal::parse("1e3", true)->toString(), "1000.00000000");
  EXPECT_EQ(Decimal::parse("1.5E-2", true)->toString(), "0.01500000");
  EXPECT_EQ(Decimal::parse("12345e-8", true)->toString(), "0.00012345");
  EXPECT_EQ(Decimal::parse("1e-9", true).error().code, "decimal_too_precise");
  EXPECT_EQ(Decimal::parse("1e10", true).error().code, "decimal_out_of_range");
  EXPECT_EQ(Decimal::parse("1e", true).error().code, "invalid_decimal");
  EXPECT_EQ(Decimal::parse("0e999", true)->toString(), "0.00000000");
}

TEST(Decimal, AddAndSubtractAreExactAndDetectOverflow) {
  EXPECT_EQ(d("0.1").add(d("0.2"))->toString(), "0.30000000");
  EXPECT_EQ(d("1").sub(d("0.00000001"))->toString(), "0.99999999");
  auto big = d("9999999999.99999999");
  EXPECT_EQ(big.add(d("0.00000001")).error().code, "decimal_out_of_range");
  EXPECT_EQ(d("-9999999999.99999999").sub(d("0.00000001")).error().code, "decimal_out_of_range");
}

TEST(Decimal, MultiplyRoundsHalfEven) {
  EXPECT_EQ(d("50").mul(d("150.48"))->toString(), "7524.00000000");
  // 0.00000001 * 0.5 = 0.000000005 → tie → even (0)
  EXPECT_EQ(d("0.00000001").mul(d("0.5"))->toString(), "0.00000000");
  // 0.00000003 * 0.5 = 0.000000015 → tie → even (0.00000002)
  EXPECT_EQ(d("0.00000003").mul(d("0.5"))->toString(), "0.00000002");
  // 0.00000001 * 0.6 = 0.000000006 → up
  EXPECT_EQ(d("0.00000001").mul(d("0.6"))->toString(), "0.00000001");
  EXPECT_EQ(d("-0.00000003").mul(d("0.5"))->toString(), "-0.00000002");
  EXPECT_EQ(d("100000").mul(d("100000")).error().code, "decimal_out_of_range");
}

TEST(Decimal, DivideRoundsHalfEvenAndRejectsZero) {
  EXPECT_EQ(d("1").div(d("3"))->toString(), "0.33333333");
  EXPECT_EQ(d("2").div(d("3"))->toString(), "0.66666667");
  EXPECT_EQ(d("0.00000001").div(d("2"))->toString(), "0.00000000");  // tie → even
  EXPECT_EQ(d("0.00000003").div(d("2"))->toString(), "0.00000002");  // tie → even
  EXPECT_EQ(d("1").div(d("0")).error().code, "division_by_zero");
}

TEST(Decimal, MulDivRoundsOnceForProRataShares) {
  // 7524 * 1/3: one rounding, not two.
  EXPECT_EQ(d("7524").mulDiv(d("1"), d("3"))->toString(), "2508.00000000");
  EXPECT_EQ(d("100").mulDiv(d("1"), d("3"))->toString(), "33.33333333");
  // Parts computed as remainder always add up exactly.
  Decimal amount = d("100"), q = d("3");
  Decimal p1 = *amount.mulDiv(d("1"), q);
  Decimal p2 = *amount.mulDiv(d("1"), q);
  Decimal rest = *amount.sub(*p1.add(p2));
  EXPECT_EQ(p1.add(p2)->add(rest)->toString(), "100.00000000");
}

TEST(Decimal, DivRoundHalfEvenHandlesSigns) {
  EXPECT_EQ(static_cast<long>(divRoundHalfEven(5, 2)), 2);
  EXPECT_EQ(static_cast<long>(divRoundHalfEven(7, 2)), 4);
  EXPECT_EQ(static_cast<long>(divRoundHalfEven(-5, 2)), -2);
  EXPECT_EQ(static_cast<long>(divRoundHalfEven(-7, 2)), -4);
  EXPECT_EQ(static_cast<long>(divRoundHalfEven(5, -2)), -2);
  EXPECT_EQ(static_cast<long>(divRoundHalfEven(8, 3)), 3);
}

TEST(Decimal, ComparesByValue) {
  EXPECT_EQ(d("1.0"), d("1.00000000"));
  EXPECT_LT(d("0.99999999"), d("1"));
  EXPECT_TRUE(d("0.00000001").isPositive());
  EXPECT_FALSE(d("0").isPositive());
}

}  // namespace
}  // namespace sc

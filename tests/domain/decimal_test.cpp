#include "domain/decimal.h"

#include <gtest/gtest.h>

#include "oracle_table.h"

namespace sc::test {
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

TEST(Decimal, HugeExponentsAreDecidedExactly) {
  // 1 followed by 1000 zeros, times 10^-10000, is 10^-9000: far below 10^-8 (issue 8, defect 6).
  const std::string tiny = "1" + std::string(1000, '0') + "e-10000";
  EXPECT_EQ(Decimal::parse(tiny, true).error().code, "decimal_too_precise");
  EXPECT_EQ(Decimal::parse("1" + std::string(1000, '0') + "e-1000", true)->toString(),
            "1.00000000");
  EXPECT_EQ(Decimal::parse("1" + std::string(1000, '0') + "e-1001", true)->toString(),
            "0.10000000");
  // Large positive exponents that still give an exact DECIMAL(18,8).
  EXPECT_EQ(Decimal::parse("0.000000000000000000001e21", true)->toString(), "1.00000000");
  EXPECT_EQ(Decimal::parse("1e9", true)->toString(), "1000000000.00000000");
  EXPECT_EQ(Decimal::parse("0." + std::string(2000, '0') + "1e2001", true)->toString(),
            "1.00000000");
  EXPECT_EQ(Decimal::parse("1.0E+000000000000000000000000009", true)->toString(),
            "1000000000.00000000");
  // Exponents beyond any integer type: decided, not wrapped.
  EXPECT_EQ(Decimal::parse("1e99999999999999999999999999999", true).error().code,
            "decimal_out_of_range");
  EXPECT_EQ(Decimal::parse("1e-99999999999999999999999999999", true).error().code,
            "decimal_too_precise");
  EXPECT_EQ(Decimal::parse("0e-99999999999999999999999999999", true)->toString(), "0.00000000");
  EXPECT_EQ(Decimal::parse("18446744073709551600e-10", true)->toString(), "1844674407.37095516");
}

TEST(Decimal, ErrorMessagesQuoteTheTextAsPrintableAscii) {
  auto r = Decimal::parse("1\xc3\xa9");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "'1\\xc3\\xa9' is not a decimal: unexpected character '\\xc3'");
  auto long_text = Decimal::parse(std::string(50, '1') + ".123456789");
  EXPECT_EQ(long_text.error().message,
            "'" + std::string(40, '1') + "...' has more than 8 fractional digits");
}

// Python's decimal module (tests/domain/data/make_oracle_tables.py) says, for thousands of random
// literals of every shape (signs, leading zeros, fractions, exponent forms, huge and tiny
// exponents, too many digits, damaged text), what each must parse to or which error it must get.
TEST(Decimal, ParseAgreesWithTheOracleTable) {
  int accepted = 0, rejected = 0;
  for (const auto& c : readOracleTable("decimal_parse.tsv")) {
    ASSERT_EQ(c.fields.size(), 4u) << "line " << c.line;
    const std::string& literal = c.fields[2];
    auto r = Decimal::parse(literal, c.fields[1] == "1");
    const std::string got = r ? r->toString() : r.error().code;
    EXPECT_EQ(got, c.fields[3]) << "line " << c.line << ": '" << literal.substr(0, 80) << "'";
    (r ? accepted : rejected)++;
    if (r) {
      auto again = Decimal::parse(r->toString());
      EXPECT_TRUE(again.ok() && *again == *r) << "round trip of " << r->toString();
    }
  }
  EXPECT_GE(accepted, 1000);
  EXPECT_GE(rejected, 3000);
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
  // 0.00000001 × 1 / 2 is a tie: to even (0); 0.00000003 × 1 / 2 rounds to 0.00000002.
  EXPECT_EQ(d("0.00000001").mulDiv(d("1"), d("2"))->toString(), "0.00000000");
  EXPECT_EQ(d("0.00000003").mulDiv(d("1"), d("2"))->toString(), "0.00000002");
  // Operands at the limit: the product needs 120 bits, the quotient fits again.
  EXPECT_EQ(d("9999999999.99999999")
                .mulDiv(d("9999999999.99999999"), d("9999999999.99999999"))
                ->toString(),
            "9999999999.99999999");
}

// Python's decimal/fractions arithmetic (tests/domain/data/make_oracle_tables.py) says what each
// operation must give: add, sub, mul, div, mulDiv over random operands, boundaries and zeros.
TEST(Decimal, ArithmeticAgreesWithTheOracleTable) {
  int checked = 0;
  for (const auto& c : readOracleTable("decimal_arith.tsv")) {
    const auto& f = c.fields;
    ASSERT_GE(f.size(), 4u) << "line " << c.line;
    const Decimal a = d(f[1].c_str()), b = d(f[2].c_str());
    Result<Decimal> r = Decimal();
    if (f[0] == "add")
      r = a.add(b);
    else if (f[0] == "sub")
      r = a.sub(b);
    else if (f[0] == "mul")
      r = a.mul(b);
    else if (f[0] == "div")
      r = a.div(b);
    else if (f[0] == "muldiv")
      r = a.mulDiv(b, d(f[3].c_str()));
    else
      FAIL() << "line " << c.line << ": unknown operation " << f[0];
    const std::string got = r ? r->toString() : r.error().code;
    EXPECT_EQ(got, f.back()) << "line " << c.line << ": " << f[0] << " " << f[1] << " " << f[2];
    ++checked;
  }
  EXPECT_GE(checked, 5000);
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
}  // namespace sc::test

#include "domain/ledger_amount.h"

#include <gtest/gtest.h>

#include <boost/multiprecision/cpp_int.hpp>
#include <random>

#include "oracle_table.h"

namespace sc::test {
namespace {

using boost::multiprecision::cpp_int;

LedgerAmount a(const std::string& s) {
  auto r = LedgerAmount::parse(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : LedgerAmount();
}

std::string codeOf(const Result<LedgerAmount>& r) { return r ? r->toString() : r.error().code; }

const std::string kMax = std::string(28, '9') + "." + std::string(10, '9');  // 10^28 - 10^-10

TEST(LedgerAmount, ParsesDamlNumericStrings) {
  EXPECT_EQ(a("123.4500000000").toString(), "123.45");
  EXPECT_EQ(a("-5").toString(), "-5");
  EXPECT_EQ(a("+0.5").toString(), "0.5");
  EXPECT_EQ(a("0.0000000001").toString(), "0.0000000001");
  EXPECT_EQ(a("-0").toString(), "0");
  EXPECT_EQ(a("007524.00").toString(), "7524");
  EXPECT_EQ(a("1.00000000000000").toString(), "1");  // trailing zeros are not precision
  EXPECT_EQ(a(kMax).toString(), kMax);
  EXPECT_EQ(a("-" + kMax).toString(), "-" + kMax);
}

TEST(LedgerAmount, RejectsMalformedTooPreciseAndOutOfRangeTextWithClearMessages) {
  for (const char* s : {"", "-", ".5", "1.", "1e3", "1,5", " 1", "0x10", "NaN", "1..2"}) {
    auto r = LedgerAmount::parse(s);
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.error().code, "invalid_amount") << s;
  }
  auto precise = LedgerAmount::parse("0.00000000001");
  EXPECT_EQ(precise.error().code, "amount_too_precise");
  EXPECT_EQ(precise.error().message, "'0.00000000001' has more than 10 fractional digits");
  auto big = LedgerAmount::parse("1" + std::string(28, '0'));
  EXPECT_EQ(big.error().code, "amount_out_of_range");
  EXPECT_EQ(big.error().message,
            "'10000000000000000000000000000' exceeds the ledger's Numeric 10 range: at most 28 "
            "integer digits");
  EXPECT_EQ(LedgerAmount::parse("-1" + std::string(28, '0') + ".5").error().code,
            "amount_out_of_range");
}

TEST(LedgerAmount, RendersMinimalAtLeastAndDamlForms) {
  EXPECT_EQ(a("1234.5").toString(), "1234.5");
  EXPECT_EQ(a("1234.5").toString(8), "1234.50000000");
  EXPECT_EQ(a("0.0000000001").toString(8), "0.0000000001");
  EXPECT_EQ(a("1234.5").toDamlString(), "1234.5000000000");
  EXPECT_EQ(a("0").toDamlString(), "0.0000000000");
  EXPECT_EQ(a("-0.05").toDamlString(), "-0.0500000000");
  EXPECT_EQ(a("42").toString(), "42");
}

TEST(LedgerAmount, AddAndSubtractAreExactAndDetectOverflowAtTheBoundary) {
  EXPECT_EQ(a("0.1").add(a("0.2"))->toString(), "0.3");
  EXPECT_EQ(a(kMax).sub(a(kMax))->toString(), "0");
  EXPECT_EQ(a(std::string(28, '9')).add(a("0." + std::string(10, '9')))->toString(), kMax);
  EXPECT_EQ(a(kMax).add(a("0.0000000001")).error().code, "amount_out_of_range");
  EXPECT_EQ(a("-" + kMax).sub(a("0.0000000001")).error().code, "amount_out_of_range");
  EXPECT_EQ(a(kMax).add(a(kMax)).error().code, "amount_out_of_range");
  EXPECT_EQ(a("-" + kMax).sub(a(kMax)).error().code, "amount_out_of_range");
  EXPECT_EQ(a(kMax).sub(a("-0.0000000001")).error().code, "amount_out_of_range");
}

TEST(LedgerAmount, HoldsARealisticCashSupplyThatDecimalCannot) {
  // Issue 15: 9,000,000,000 USDC then 1,000,000,000 more overflowed DECIMAL(18,8).
  auto usdc = LedgerAmount::fromDecimal(*Decimal::parse("9000000000"));
  auto total = usdc.add(LedgerAmount::fromDecimal(*Decimal::parse("1000000000")));
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->toString(8), "10000000000.00000000");
  LedgerAmount sum;  // 10^15 as a million credits of 10^9
  const auto credit = LedgerAmount::fromDecimal(*Decimal::parse("1000000000"));
  for (int i = 0; i < 1'000'000; ++i) sum = *sum.add(credit);
  EXPECT_EQ(sum.toString(), "1000000000000000");
  EXPECT_EQ(sum.toDecimal().error().code, "decimal_out_of_range");
}

TEST(LedgerAmount, SignNegateCompareAndZero) {
  EXPECT_EQ(a("-3").sign(), -1);
  EXPECT_EQ(a("0").sign(), 0);
  EXPECT_EQ(a("0.0000000001").sign(), 1);
  EXPECT_TRUE(LedgerAmount().isZero());
  EXPECT_TRUE(a("-1").isNegative());
  EXPECT_TRUE(a("1").isPositive());
  EXPECT_EQ(a(kMax).negate().toString(), "-" + kMax);
  EXPECT_EQ(a("-2.5").negate(), a("2.5"));
  EXPECT_LT(a("0.9999999999"), a("1"));
  EXPECT_GT(a("-0.9999999999"), a("-1"));
  EXPECT_EQ(a("1.50"), a("1.5"));
}

TEST(LedgerAmount, ConvertsFromDecimalExactlyAndBackOnlyWhenItFits) {
  for (const char* s : {"9999999999.99999999", "-9999999999.99999999", "0.00000001", "0", "7524"}) {
    auto d = *Decimal::parse(s);
    auto l = LedgerAmount::fromDecimal(d);
    EXPECT_EQ(l.toString(8), d.toString()) << s;
    auto back = l.toDecimal();
    ASSERT_TRUE(back.ok()) << s;
    EXPECT_EQ(*back, d) << s;
  }
  EXPECT_EQ(a("0.000000001").toDecimal().error().code, "decimal_too_precise");
  EXPECT_EQ(a("10000000000").toDecimal().error().code, "decimal_out_of_range");
  EXPECT_EQ(a("-10000000000").toDecimal().error().code, "decimal_out_of_range");
}

TEST(LedgerAmount, TruncatesTowardZeroToTheTradeScale) {
  EXPECT_EQ(a("1.2345678999").truncatedToTradeScale(), a("1.23456789"));
  EXPECT_EQ(a("-1.2345678999").truncatedToTradeScale(), a("-1.23456789"));
  EXPECT_EQ(a("0.0000000099").truncatedToTradeScale(), a("0"));
  EXPECT_EQ(a("7524.5").truncatedToTradeScale(), a("7524.5"));
  EXPECT_EQ(LedgerAmount::max().truncatedToTradeScale().toString(),
            "9999999999999999999999999999.99999999");
}

TEST(LedgerAmount, FromUnitsChecksTheRange) {
  EXPECT_EQ(LedgerAmount::fromUnits(LedgerAmount::kMaxUnits)->toString(), kMax);
  EXPECT_EQ(LedgerAmount::fromUnits(-LedgerAmount::kMaxUnits)->toString(), "-" + kMax);
  EXPECT_EQ(LedgerAmount::fromUnits(LedgerAmount::kMaxUnits + 1).error().code,
            "amount_out_of_range");
  EXPECT_EQ(LedgerAmount::fromUnits(-LedgerAmount::kMaxUnits - 1).error().code,
            "amount_out_of_range");
  EXPECT_EQ(LedgerAmount::fromUnits(1)->toString(), "0.0000000001");
}

TEST(LedgerAmount, MulDivRoundsHalfEvenOnceToTheGivenScale) {
  // Default scale 8 (the trade's): 100 × 1 / 3.
  EXPECT_EQ(a("100").mulDiv(a("1"), a("3"))->toString(8), "33.33333333");
  EXPECT_EQ(a("100").mulDiv(a("1"), a("3"), 10)->toString(), "33.3333333333");
  EXPECT_EQ(a("100").mulDiv(a("2"), a("3"), 0)->toString(), "67");
  // Ties go to even: 0.00000001 × 1 / 2 = 0.000000005 → 0; 0.00000003 × 1 / 2 → 0.00000002.
  EXPECT_EQ(a("0.00000001").mulDiv(a("1"), a("2"))->toString(), "0");
  EXPECT_EQ(a("0.00000003").mulDiv(a("1"), a("2"))->toString(), "0.00000002");
  EXPECT_EQ(a("-0.00000003").mulDiv(a("1"), a("2"))->toString(), "-0.00000002");
  EXPECT_EQ(a("0.00000003").mulDiv(a("-1"), a("2"))->toString(), "-0.00000002");
  EXPECT_EQ(a("0.00000003").mulDiv(a("1"), a("-2"))->toString(), "-0.00000002");
  // The product needs ~253 bits; the result fits again.
  EXPECT_EQ(a(kMax).mulDiv(a(kMax), a(kMax), 10)->toString(), kMax);
  EXPECT_EQ(a(kMax).mulDiv(a("-" + kMax), a(kMax), 10)->toString(), "-" + kMax);
  EXPECT_EQ(a(kMax).mulDiv(a("2"), a("1")).error().code, "amount_out_of_range");
  // Rounded up to 8 decimals, the maximum no longer fits.
  EXPECT_EQ(a(kMax).mulDiv(a("1"), a("1")).error().code, "amount_out_of_range");
  EXPECT_EQ(a("1").mulDiv(a("1"), a("0")).error().code, "division_by_zero");
  EXPECT_EQ(a("1").mulDiv(a("1"), a("1"), 11).error().code, "invalid_scale");
  EXPECT_EQ(a("1").mulDiv(a("1"), a("1"), -1).error().code, "invalid_scale");
}

// Python's decimal/fractions arithmetic (tests/domain/data/make_oracle_tables.py): parse verdicts,
// renderings, conversion to Decimal, add, sub and mulDiv at every scale, boundaries included.
TEST(LedgerAmount, AgreesWithTheOracleTable) {
  int checked = 0;
  for (const auto& c : readOracleTable("ledger_amount.tsv")) {
    const auto& f = c.fields;
    const std::string where = "line " + std::to_string(c.line) + ": " + f[0] + " " + f[1];
    if (f[0] == "parse") {
      ASSERT_EQ(f.size(), 3u) << where;
      EXPECT_EQ(codeOf(LedgerAmount::parse(f[1])), f[2]) << where;
    } else if (f[0] == "format") {
      ASSERT_EQ(f.size(), 4u) << where;
      EXPECT_EQ(a(f[1]).toString(8), f[2]) << where;
      EXPECT_EQ(a(f[1]).toDamlString(), f[3]) << where;
    } else if (f[0] == "todecimal") {
      auto r = a(f[1]).toDecimal();
      EXPECT_EQ(r ? r->toString() : r.error().code, f[2]) << where;
    } else if (f[0] == "add") {
      EXPECT_EQ(codeOf(a(f[1]).add(a(f[2]))), f[3]) << where;
    } else if (f[0] == "sub") {
      EXPECT_EQ(codeOf(a(f[1]).sub(a(f[2]))), f[3]) << where;
    } else if (f[0] == "muldiv") {
      ASSERT_EQ(f.size(), 6u) << where;
      EXPECT_EQ(codeOf(a(f[1]).mulDiv(a(f[2]), a(f[3]), std::stoi(f[4]))), f[5]) << where;
    } else {
      FAIL() << where << ": unknown operation";
    }
    ++checked;
  }
  EXPECT_GE(checked, 9000);
}

cpp_int big(__int128 v) {
  cpp_int r = static_cast<int64_t>(v >> 64);
  r <<= 64;
  r += static_cast<uint64_t>(v);
  return r;
}

// Reference rounding on unbounded integers: n / d to the nearest, ties to even.
cpp_int roundHalfEven(cpp_int n, cpp_int d) {
  if (d < 0) {
    n = -n;
    d = -d;
  }
  cpp_int q = n / d, r = n % d;
  cpp_int twice = abs(r) * 2;
  if (twice > d || (twice == d && q % 2 != 0)) q += n < 0 ? -1 : 1;
  return q;
}

// Random operands of every magnitude, against boost::multiprecision::cpp_int.
TEST(LedgerAmount, RandomOperationsAgreeWithUnboundedIntegers) {
  std::mt19937_64 rng(15);
  const cpp_int max = big(LedgerAmount::kMaxUnits);
  auto randomUnits = [&] {
    __int128 v = (static_cast<__int128>(rng() >> 1) << 64) | rng();  // up to 2^127
    __int128 limit = 1;
    for (int digits = static_cast<int>(rng() % 39), k = 0; k < digits; ++k) limit *= 10;
    v %= limit;  // |v| < 10^digits <= 10^38
    return (rng() & 1) ? -v : v;
  };
  for (int i = 0; i < 20000; ++i) {
    const __int128 x = randomUnits(), y = randomUnits(), z = randomUnits();
    const LedgerAmount ax = *LedgerAmount::fromUnits(x), ay = *LedgerAmount::fromUnits(y),
                       az = *LedgerAmount::fromUnits(z);
    // Round trips through every rendering.
    EXPECT_EQ(*LedgerAmount::parse(ax.toString()), ax);
    EXPECT_EQ(*LedgerAmount::parse(ax.toString(8)), ax);
    EXPECT_EQ(*LedgerAmount::parse(ax.toDamlString()), ax);
    auto sum = ax.add(ay);
    cpp_int want = big(x) + big(y);
    if (abs(want) > max)
      EXPECT_FALSE(sum.ok());
    else
      EXPECT_EQ(big(sum->units()), want);
    auto diff = ax.sub(ay);
    want = big(x) - big(y);
    if (abs(want) > max)
      EXPECT_FALSE(diff.ok());
    else
      EXPECT_EQ(big(diff->units()), want);
    const int scale = static_cast<int>(rng() % 11);
    auto share = ax.mulDiv(ay, az, scale);
    if (z == 0) {
      EXPECT_EQ(share.error().code, "division_by_zero");
      continue;
    }
    cpp_int step = pow(cpp_int(10), 10 - scale);
    want = roundHalfEven(big(x) * big(y), big(z) * step) * step;
    if (abs(want) > max)
      EXPECT_EQ(share.error().code, "amount_out_of_range");
    else
      EXPECT_EQ(big(share->units()), want)
          << ax.toString() << " " << ay.toString() << " " << az.toString() << " scale " << scale;
    if (::testing::Test::HasFailure()) break;
  }
}

TEST(LedgerAmount, WidensADecimalImplicitlyAndNamesItsMaximum) {
  const LedgerAmount widened = *Decimal::parse("-9999999999.99999999");  // implicit: exact
  EXPECT_EQ(widened.units(), static_cast<__int128>(-999'999'999'999'999'999LL) * 100);
  EXPECT_EQ(widened, LedgerAmount::fromDecimal(*Decimal::parse("-9999999999.99999999")));
  EXPECT_EQ(LedgerAmount::max().toString(), kMax);
  EXPECT_EQ(LedgerAmount::max().units(), LedgerAmount::kMaxUnits);
}

// The engine's pro-rata rule (DESIGN §4) moved from Decimal::mulDiv to LedgerAmount::mulDiv at
// the trade's scale: on DECIMAL(18,8) operands both give the same 8-decimal half-even result,
// and both agree with unbounded integers.
TEST(LedgerAmount, ProRataAtTheTradeScaleAgreesWithDecimalOnTradeFigures) {
  std::mt19937_64 rng(4);
  auto tradeFigure = [&] {
    int64_t limit = 1;
    for (int digits = 1 + static_cast<int>(rng() % 18), k = 0; k < digits; ++k) limit *= 10;
    return Decimal::fromUnits(1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(limit)));
  };
  for (int i = 0; i < 20000; ++i) {
    const Decimal amount = tradeFigure(), whole = tradeFigure();
    const Decimal part = Decimal::fromUnits(
        1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(whole.units())));  // <= whole
    auto wide = LedgerAmount(amount).mulDiv(part, whole, Decimal::kScale);
    auto narrow = amount.mulDiv(part, whole);
    ASSERT_TRUE(wide.ok() && narrow.ok());
    EXPECT_EQ(*wide, LedgerAmount(*narrow))
        << amount.toString() << " x " << part.toString() << " / " << whole.toString();
    const cpp_int want =
        roundHalfEven(big(amount.units()) * big(part.units()), big(whole.units())) * 100;
    EXPECT_EQ(big(wide->units()), want);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace sc::test

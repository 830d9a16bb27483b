#include "domain/decimal.h"

#include <cstdlib>

#include "domain/fixed_point.h"
#include "domain/quote.h"

namespace sc {
namespace {

constexpr __int128 kUnit128 = Decimal::kUnit;

Error outOfRange(std::string_view what) {
  return Error::permanent("decimal_out_of_range",
                          std::string(what) + " exceeds DECIMAL(18,8): at most 10 integer digits");
}

Result<Decimal> checked(__int128 units, std::string_view what) {
  if (units > Decimal::kMaxUnits || units < -Decimal::kMaxUnits) return outOfRange(what);
  return Decimal::fromUnits(static_cast<int64_t>(units));
}

}  // namespace

__int128 divRoundHalfEven(__int128 n, __int128 d) {
  if (d < 0) {
    n = -n;
    d = -d;
  }
  __int128 q = n / d;
  __int128 r = n % d;  // same sign as n
  __int128 twice = (r < 0 ? -r : r) * 2;
  if (twice > d || (twice == d && (q % 2 != 0))) q += (n < 0) ? -1 : 1;
  return q;
}

Result<Decimal> Decimal::parse(std::string_view text, bool allow_exponent) {
  const std::string shown = quoteForMessage(text);
  auto p = fixed_point::parse(text, allow_exponent, kScale, kMaxIntegerDigits + kScale);
  switch (p.error) {
    case fixed_point::ParseError::kNone:
      return checked(p.units, shown);
    case fixed_point::ParseError::kSyntax:
      return Error::permanent("invalid_decimal", shown + " is not a decimal: " + p.why);
    case fixed_point::ParseError::kTooPrecise:
      return Error::permanent("decimal_too_precise", shown + " has more than 8 fractional digits");
    case fixed_point::ParseError::kOutOfRange:
      break;
  }
  return outOfRange(shown);
}

Result<Decimal> Decimal::fromInteger(int64_t whole) {
  return checked(static_cast<__int128>(whole) * kUnit128, std::to_string(whole));
}

std::string Decimal::toString() const { return fixed_point::format(units_, kScale, kScale); }

Result<Decimal> Decimal::add(Decimal o) const {
  return checked(static_cast<__int128>(units_) + o.units_, "sum");
}
Result<Decimal> Decimal::sub(Decimal o) const {
  return checked(static_cast<__int128>(units_) - o.units_, "difference");
}
Result<Decimal> Decimal::mul(Decimal o) const {
  return checked(divRoundHalfEven(static_cast<__int128>(units_) * o.units_, kUnit128), "product");
}
Result<Decimal> Decimal::div(Decimal o) const {
  if (o.units_ == 0) return Error::permanent("division_by_zero", "division by zero");
  return checked(divRoundHalfEven(static_cast<__int128>(units_) * kUnit128, o.units_), "quotient");
}
Result<Decimal> Decimal::mulDiv(Decimal num, Decimal den) const {
  if (den.units_ == 0) return Error::permanent("division_by_zero", "division by zero");
  // units_ * num.units_ fits in 127 bits (each < 10^18)
  return checked(divRoundHalfEven(static_cast<__int128>(units_) * num.units_, den.units_),
                 "pro-rata amount");
}

}  // namespace sc

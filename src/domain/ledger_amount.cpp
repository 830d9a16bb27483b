#include "domain/ledger_amount.h"

#include <boost/multiprecision/cpp_int.hpp>
#include <cstdint>

#include "domain/fixed_point.h"
#include "domain/quote.h"

namespace sc {
namespace {

using boost::multiprecision::int256_t;

Error outOfRange(const std::string& what) {
  return Error::permanent(
      std::string(amount_reason::kAmountOutOfRange),
      what + " exceeds the ledger's Numeric 10 range: at most 28 integer digits");
}

int256_t wide(__int128 v) {
  const unsigned __int128 mag = v < 0 ? -static_cast<unsigned __int128>(v) : v;
  int256_t w = int256_t(static_cast<uint64_t>(mag >> 64));
  w <<= 64;
  w += static_cast<uint64_t>(mag);
  return v < 0 ? int256_t(-w) : w;
}

// v must fit in 127 bits.
__int128 narrow(const int256_t& v) {
  const int256_t mag = v < 0 ? int256_t(-v) : v;
  const auto lo = static_cast<uint64_t>(mag & int256_t(UINT64_MAX));
  const auto hi = static_cast<uint64_t>(mag >> 64);
  const auto m = static_cast<__int128>((static_cast<unsigned __int128>(hi) << 64) | lo);
  return v < 0 ? -m : m;
}

// n / d rounded to the nearest integer, ties to even; d > 0.
int256_t divRoundHalfEven256(const int256_t& n, const int256_t& d) {
  int256_t q = n / d;  // truncates toward zero
  int256_t r = n % d;  // same sign as n
  int256_t twice = (r < 0 ? int256_t(-r) : r) * 2;
  if (twice > d || (twice == d && q % 2 != 0)) q += n < 0 ? -1 : 1;
  return q;
}

}  // namespace

Result<LedgerAmount> LedgerAmount::parse(std::string_view text) {
  const std::string shown = quoteForMessage(text);
  auto p = fixed_point::parse(text, /*allow_exponent=*/false, kScale, kMaxDigits);
  switch (p.error) {
    case fixed_point::ParseError::kNone:
      return LedgerAmount(p.units);  // at most 38 digits: in range
    case fixed_point::ParseError::kSyntax:
      return Error::permanent(std::string(amount_reason::kInvalidAmount),
                              shown + " is not a Numeric 10 amount: " + p.why);
    case fixed_point::ParseError::kTooPrecise:
      return Error::permanent(std::string(amount_reason::kAmountTooPrecise),
                              shown + " has more than 10 fractional digits");
    case fixed_point::ParseError::kOutOfRange:
      break;
  }
  return outOfRange(shown);
}

Result<LedgerAmount> LedgerAmount::fromUnits(__int128 units) {
  if (units > kMaxUnits || units < -kMaxUnits) {
    return outOfRange(fixed_point::format(units, kScale, 0) +
                      (units < 0 ? " (units -" : " (units ") + fixed_point::digitsOf(units) + ")");
  }
  return LedgerAmount(units);
}

Result<Decimal> LedgerAmount::toDecimal() const {
  if (units_ % 100 != 0) {
    return Error::permanent("decimal_too_precise",
                            toString() + " has more than 8 fractional digits for DECIMAL(18,8)");
  }
  const __int128 units = units_ / 100;
  if (units > Decimal::kMaxUnits || units < -Decimal::kMaxUnits) {
    return Error::permanent("decimal_out_of_range",
                            toString() + " exceeds DECIMAL(18,8): at most 10 integer digits");
  }
  return Decimal::fromUnits(static_cast<int64_t>(units));
}

std::string LedgerAmount::toString(int min_decimals) const {
  if (min_decimals < 0) min_decimals = 0;
  if (min_decimals > kScale) min_decimals = kScale;
  return fixed_point::format(units_, kScale, min_decimals);
}

Result<LedgerAmount> LedgerAmount::add(LedgerAmount o) const {
  // Two in-range values can sum to 2 × 10^38 > 2^127: the overflow check comes first.
  __int128 units = 0;
  if (__builtin_add_overflow(units_, o.units_, &units) || units > kMaxUnits || units < -kMaxUnits)
    return outOfRange("the sum " + toString() + " + " + o.toString());
  return LedgerAmount(units);
}

Result<LedgerAmount> LedgerAmount::sub(LedgerAmount o) const {
  __int128 units = 0;
  if (__builtin_sub_overflow(units_, o.units_, &units) || units > kMaxUnits || units < -kMaxUnits)
    return outOfRange("the difference " + toString() + " - " + o.toString());
  return LedgerAmount(units);
}

Result<LedgerAmount> LedgerAmount::mulDiv(LedgerAmount part, LedgerAmount whole, int scale) const {
  if (scale < 0 || scale > kScale) {
    return Error::permanent(std::string(amount_reason::kInvalidScale),
                            "mulDiv scale " + std::to_string(scale) + " is not in 0..10");
  }
  if (whole.units_ == 0) {
    return Error::permanent(std::string(amount_reason::kDivisionByZero),
                            "pro-rata share of " + toString() + " with a whole of zero");
  }
  // In units: this × part / whole; rounded to `scale` decimals, i.e. to a multiple of step.
  int256_t step = 1;
  for (int k = scale; k < kScale; ++k) step *= 10;
  int256_t n = wide(units_) * wide(part.units_);  // |n| < 10^76 < 2^253
  int256_t d = wide(whole.units_) * step;
  if (d < 0) {
    n = -n;
    d = -d;
  }
  const int256_t result = divRoundHalfEven256(n, d) * step;
  const int256_t max = wide(kMaxUnits);
  if (result > max || result < -max) {
    return outOfRange("the pro-rata share " + toString() + " × " + part.toString() + " / " +
                      whole.toString());
  }
  return LedgerAmount(narrow(result));
}

}  // namespace sc

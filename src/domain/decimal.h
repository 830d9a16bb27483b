#pragma once
// Exact fixed-point decimal matching SQL DECIMAL(18,8): at most 10 integer and 8 fractional digits.
// Stored as a signed count of 1e-8 units in 64 bits; products and quotients are computed in 128
// bits and rounded half-even to 8 places. Never floating point.
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "domain/result.h"

namespace sc {

class Decimal {
 public:
  static constexpr int kScale = 8;
  static constexpr int kMaxIntegerDigits = 10;
  static constexpr int64_t kUnit = 100'000'000;                    // 10^8
  static constexpr int64_t kMaxUnits = 999'999'999'999'999'999LL;  // 10^18 - 1 units

  constexpr Decimal() = default;

  // Parses "123", "-1.5", "0.00000001". With allow_exponent (JSON number literals) also "1e3",
  // "1.5E-2", decided exactly on the digits whatever the exponent ("1" + 1000 zeros + "e-1000" is
  // 1). Errors: invalid_decimal (syntax), decimal_too_precise (a non-zero digit below 10^-8;
  // checked first), decimal_out_of_range (more than 10 integer digits).
  static Result<Decimal> parse(std::string_view text, bool allow_exponent = false);
  static constexpr Decimal fromUnits(int64_t units) { return Decimal(units); }
  static Result<Decimal> fromInteger(int64_t whole);

  // Always 8 fractional digits: "7524.00000000".
  std::string toString() const;

  constexpr int64_t units() const { return units_; }
  constexpr bool isPositive() const { return units_ > 0; }
  constexpr bool isZero() const { return units_ == 0; }
  constexpr bool isNegative() const { return units_ < 0; }

  Result<Decimal> add(Decimal other) const;
  Result<Decimal> sub(Decimal other) const;
  Result<Decimal> mul(Decimal other) const;  // rounded half-even to 8 dp
  Result<Decimal> div(Decimal other) const;  // rounded half-even to 8 dp; division_by_zero
  // this * num / den computed exactly then rounded half-even once (pro-rata without double
  // rounding).
  Result<Decimal> mulDiv(Decimal num, Decimal den) const;

  constexpr auto operator<=>(const Decimal&) const = default;

 private:
  constexpr explicit Decimal(int64_t units) : units_(units) {}
  int64_t units_ = 0;
};

// Rounds n / d (d != 0) to the nearest integer, ties to even.
__int128 divRoundHalfEven(__int128 n, __int128 d);

}  // namespace sc

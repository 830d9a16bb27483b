#pragma once
// A ledger-side amount (holdings, locks, splits, settle results, per-asset totals) in Daml's
// Decimal range, Numeric 10: at most 38 significant digits, 10 of them after the point, i.e.
// |value| < 10^28. Stored as a signed 128-bit count of 10^-10 units; exact, every operation checks
// the range, and the one rounding operation (mulDiv) rounds half-even. A trade's DECIMAL(18,8)
// field converts into it exactly (fromDecimal); back only when it fits (toDecimal).
#include <compare>
#include <string>
#include <string_view>

#include "domain/decimal.h"
#include "domain/result.h"

namespace sc {

// Error codes of LedgerAmount (toDecimal reports Decimal's decimal_too_precise/_out_of_range).
namespace amount_reason {
inline constexpr std::string_view kInvalidAmount = "invalid_amount";
inline constexpr std::string_view kAmountTooPrecise = "amount_too_precise";
inline constexpr std::string_view kAmountOutOfRange = "amount_out_of_range";
inline constexpr std::string_view kDivisionByZero = "division_by_zero";
inline constexpr std::string_view kInvalidScale = "invalid_scale";
}  // namespace amount_reason

class LedgerAmount {
 public:
  static constexpr int kScale = 10;
  static constexpr int kMaxDigits = 38;
  static constexpr int kMaxIntegerDigits = kMaxDigits - kScale;  // 28
  static constexpr __int128 kUnit = 10'000'000'000LL;            // 10^10 units = 1
  static constexpr __int128 kMaxUnits =                          // 10^38 - 1 units
      static_cast<__int128>(10'000'000'000'000'000'000ULL) * 10'000'000'000'000'000'000ULL - 1;

  constexpr LedgerAmount() = default;
  // Implicit on purpose: every DECIMAL(18,8) value is a Numeric 10 value (the widening is exact),
  // so a trade figure can be passed wherever a ledger amount is expected.
  constexpr LedgerAmount(Decimal d)  // NOLINT(google-explicit-constructor)
      : units_(static_cast<__int128>(d.units()) * 100) {}

  // Parses a Daml-LF Numeric string: [+-]<digits>[.<digits>], e.g. "123.4500000000", "-5", "0.5".
  // No exponent. Decided on the value: trailing fractional zeros and leading zeros do not count.
  // Errors: invalid_amount (syntax), amount_too_precise (a non-zero digit after the 10th
  // decimal; checked first), amount_out_of_range (more than 28 integer digits).
  static Result<LedgerAmount> parse(std::string_view text);
  // units = value × 10^10; amount_out_of_range when |units| > kMaxUnits.
  static Result<LedgerAmount> fromUnits(__int128 units);
  // Always exact: DECIMAL(18,8) is inside Numeric 10.
  static constexpr LedgerAmount fromDecimal(Decimal d) { return LedgerAmount(d); }
  // The largest value, 9999999999999999999999999999.9999999999 (10^28 - 10^-10).
  static constexpr LedgerAmount max() { return LedgerAmount(kMaxUnits); }
  // Exact, or decimal_too_precise (a non-zero 9th or 10th decimal), or decimal_out_of_range
  // (|value| >= 10^10: more than 10 integer digits); precision is checked first.
  Result<Decimal> toDecimal() const;

  // Exact text with as many decimals as the value needs and at least min_decimals (0..10):
  // toString() = "1234.5", toString(8) = "1234.50000000" (the API's figures: 8 dp like the
  // trade fields, more only where the ledger holds them), "0.0000000001" either way.
  std::string toString(int min_decimals = 0) const;
  // Daml-LF JSON rendering of Numeric 10: always 10 decimals, "1234.5000000000".
  std::string toDamlString() const { return toString(kScale); }

  constexpr __int128 units() const { return units_; }
  constexpr bool isZero() const { return units_ == 0; }
  constexpr bool isPositive() const { return units_ > 0; }
  constexpr bool isNegative() const { return units_ < 0; }
  constexpr int sign() const { return units_ > 0 ? 1 : (units_ < 0 ? -1 : 0); }
  // Never overflows: the range is symmetric.
  constexpr LedgerAmount negate() const { return LedgerAmount(-units_); }

  Result<LedgerAmount> add(LedgerAmount other) const;  // amount_out_of_range on overflow
  Result<LedgerAmount> sub(LedgerAmount other) const;  // amount_out_of_range on overflow
  // Cut toward zero to a trade's 8 decimals (Decimal::kScale): 1.2345678999 → 1.23456789. Exact,
  // never out of range. What a partial lock may take of a holding that carries 10 decimals.
  constexpr LedgerAmount truncatedToTradeScale() const {
    constexpr __int128 kStep = kUnit / Decimal::kUnit;  // 10^(10-8)
    return LedgerAmount(units_ - units_ % kStep);
  }
  // this × part / whole, computed exactly (256-bit intermediate) and rounded half-even once to
  // `scale` decimals (0..10; default 8, the trade's scale: DESIGN §4's pro-rata rule). Errors:
  // division_by_zero, amount_out_of_range (the rounded result), invalid_scale.
  Result<LedgerAmount> mulDiv(LedgerAmount part, LedgerAmount whole,
                              int scale = Decimal::kScale) const;

  constexpr auto operator<=>(const LedgerAmount&) const = default;

 private:
  constexpr explicit LedgerAmount(__int128 units) : units_(units) {}
  __int128 units_ = 0;
};

}  // namespace sc

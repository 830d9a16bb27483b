#pragma once
// Exact decimal literals and renderings shared by the fixed-point types (Decimal, LedgerAmount):
// a value is a signed count of 10^-scale units in 128 bits. Decided on the digit string, never via
// a double; the exponent of a literal is read with saturation, so no literal can overflow it.
#include <string>
#include <string_view>

namespace sc::fixed_point {

enum class ParseError { kNone, kSyntax, kTooPrecise, kOutOfRange };

struct Parsed {
  ParseError error = ParseError::kNone;
  std::string why;     // for kSyntax: what is wrong with the text
  __int128 units = 0;  // value × 10^scale, when error == kNone
};

// Parses [+-]<digits>[.<digits>][(e|E)[+-]<digits>] (the exponent only with allow_exponent) and
// returns value × 10^scale when that is an integer of at most max_digits digits. kTooPrecise when
// the value has a non-zero digit below 10^-scale (checked first), kOutOfRange when it has too many
// integer digits. Trailing fractional zeros and leading zeros do not count. max_digits <= 38.
Parsed parse(std::string_view text, bool allow_exponent, int scale, int max_digits);

// Renders units / 10^scale with at least min_decimals and at most scale fractional digits: as many
// as the value needs, so the text is exact ("-0.0000000001", "7524.00000000" with min 8).
std::string format(__int128 units, int scale, int min_decimals);

// The decimal digits of |v| (no sign).
std::string digitsOf(__int128 v);

}  // namespace sc::fixed_point

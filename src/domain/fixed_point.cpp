#include "domain/fixed_point.h"

#include "domain/quote.h"

namespace sc::fixed_point {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

Parsed syntax(std::string why) { return Parsed{ParseError::kSyntax, std::move(why), 0}; }

}  // namespace

Parsed parse(std::string_view text, bool allow_exponent, int scale, int max_digits) {
  if (text.empty()) return syntax("empty");
  size_t i = 0;
  bool negative = false;
  if (text[i] == '-' || text[i] == '+') {
    negative = text[i] == '-';
    ++i;
  }
  // value = mantissa × 10^(exponent - fraction digits), mantissa = the digits without the point.
  const size_t int_begin = i;
  while (i < text.size() && isDigit(text[i])) ++i;
  const size_t int_end = i;
  size_t frac_begin = i, frac_end = i;
  if (i < text.size() && text[i] == '.') {
    frac_begin = ++i;
    while (i < text.size() && isDigit(text[i])) ++i;
    frac_end = i;
    if (int_end == int_begin) return syntax("no digits before the decimal point");
    if (frac_end == frac_begin) return syntax("no digits after the decimal point");
  }
  if (int_end == int_begin) return syntax("no digits");
  // The exponent saturates at kExponentCap: a literal that fits in memory has far fewer digits, so
  // any larger exponent is decided exactly as the cap is (out of range, or too precise).
  constexpr __int128 kExponentCap = static_cast<__int128>(1) << 100;
  __int128 exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    if (!allow_exponent) return syntax("exponent notation is not allowed in a decimal string");
    ++i;
    bool eneg = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) eneg = text[i++] == '-';
    const size_t start = i;
    for (; i < text.size() && isDigit(text[i]); ++i) {
      if (exponent < kExponentCap) exponent = exponent * 10 + (text[i] - '0');
    }
    if (i == start) return syntax("empty exponent");
    if (eneg) exponent = -exponent;
  }
  if (i != text.size()) return syntax("unexpected character " + quoteForMessage(text.substr(i, 1)));

  // The significant digits: the mantissa without its leading and trailing zeros.
  std::string digits;
  digits.reserve((int_end - int_begin) + (frac_end - frac_begin));
  digits.append(text.substr(int_begin, int_end - int_begin));
  digits.append(text.substr(frac_begin, frac_end - frac_begin));
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return Parsed{};  // zero, whatever the exponent
  const size_t last = digits.find_last_not_of('0');
  const auto trailing_zeros = static_cast<__int128>(digits.size() - 1 - last);
  const auto significant = static_cast<__int128>(last + 1 - first);
  // units = (significant digits as an integer) × 10^shift
  const __int128 shift =
      exponent - static_cast<__int128>(frac_end - frac_begin) + trailing_zeros + scale;
  if (shift < 0) return Parsed{ParseError::kTooPrecise, {}, 0};  // a digit below 10^-scale
  if (significant + shift > max_digits) return Parsed{ParseError::kOutOfRange, {}, 0};
  __int128 units = 0;
  for (size_t k = first; k <= last; ++k) units = units * 10 + (digits[k] - '0');
  for (__int128 k = 0; k < shift; ++k) units *= 10;
  return Parsed{ParseError::kNone, {}, negative ? -units : units};
}

std::string digitsOf(__int128 v) {
  unsigned __int128 u =
      v < 0 ? -static_cast<unsigned __int128>(v) : static_cast<unsigned __int128>(v);
  std::string out;
  do {
    out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  } while (u != 0);
  return out;
}

std::string format(__int128 units, int scale, int min_decimals) {
  std::string digits = digitsOf(units);
  if (digits.size() <= static_cast<size_t>(scale)) digits.insert(0, scale + 1 - digits.size(), '0');
  std::string whole = digits.substr(0, digits.size() - scale);
  std::string frac = digits.substr(digits.size() - scale);
  size_t keep = frac.find_last_not_of('0');
  keep = keep == std::string::npos ? 0 : keep + 1;
  if (keep < static_cast<size_t>(min_decimals)) keep = min_decimals;
  frac.resize(keep);
  std::string out = units < 0 ? "-" : "";
  out += whole;
  if (!frac.empty()) out += '.' + frac;
  return out;
}

}  // namespace sc::fixed_point

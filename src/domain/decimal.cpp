#include "domain/decimal.h"

#include <cstdlib>

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
  auto bad = [&](std::string why) {
    return Error::permanent("invalid_decimal",
                            "'" + std::string(text.substr(0, 40)) + "' is not a decimal: " + why);
  };
  if (text.empty()) return bad("empty");
  size_t i = 0;
  bool negative = false;
  if (text[i] == '-' || text[i] == '+') {
    negative = text[i] == '-';
    ++i;
  }
  std::string digits;  // all significant digits, integer then fraction
  int frac_digits = 0;
  int int_digits = 0;
  bool seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
      (seen_point ? frac_digits : int_digits)++;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (int_digits == 0 && frac_digits == 0) return bad("no digits");
  if (seen_point && frac_digits == 0) return bad("no digits after the decimal point");
  if (seen_point && int_digits == 0) return bad("no digits before the decimal point");
  long exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    if (!allow_exponent) return bad("exponent notation is not allowed in a decimal string");
    ++i;
    bool eneg = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) eneg = text[i++] == '-';
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (exponent < 1000) exponent = exponent * 10 + (text[i] - '0');
      ++i;
    }
    if (i == start) return bad("empty exponent");
    if (eneg) exponent = -exponent;
  }
  if (i != text.size()) return bad("unexpected character '" + std::string(1, text[i]) + "'");

  // value = digits * 10^(exponent - frac_digits); we need units = value * 10^8.
  long shift = exponent - frac_digits + kScale;  // units = digits * 10^shift
  // strip leading zeros
  size_t lead = digits.find_first_not_of('0');
  if (lead == std::string::npos) return Decimal(0);
  digits.erase(0, lead);
  if (shift < 0) {
    // the trailing -shift digits must be zeros, otherwise the value has more than 8 dp
    size_t cut = static_cast<size_t>(-shift);
    if (cut >= digits.size()) {
      return Error::permanent("decimal_too_precise",
                              "'" + std::string(text.substr(0, 40)) +
                                  "' has more than 8 fractional digits");
    }
    for (size_t k = digits.size() - cut; k < digits.size(); ++k) {
      if (digits[k] != '0') {
        return Error::permanent("decimal_too_precise",
                                "'" + std::string(text.substr(0, 40)) +
                                    "' has more than 8 fractional digits");
      }
    }
    digits.resize(digits.size() - cut);
    shift = 0;
  }
  if (static_cast<long>(digits.size()) + shift > kMaxIntegerDigits + kScale) {
    return outOfRange("'" + std::string(text.substr(0, 40)) + "'");
  }
  __int128 units = 0;
  for (char c : digits) units = units * 10 + (c - '0');
  for (long k = 0; k < shift; ++k) units *= 10;
  return checked(negative ? -units : units, "'" + std::string(text.substr(0, 40)) + "'");
}

Result<Decimal> Decimal::fromInteger(int64_t whole) {
  return checked(static_cast<__int128>(whole) * kUnit128, std::to_string(whole));
}

std::string Decimal::toString() const {
  __int128 v = units_;
  bool neg = v < 0;
  if (neg) v = -v;
  auto whole = static_cast<unsigned long long>(v / kUnit128);
  auto frac = static_cast<unsigned long long>(v % kUnit128);
  std::string f = std::to_string(frac);
  std::string out = neg ? "-" : "";
  out += std::to_string(whole);
  out += '.';
  out.append(kScale - f.size(), '0');
  out += f;
  return out;
}

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

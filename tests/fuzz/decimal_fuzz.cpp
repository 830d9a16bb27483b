// libFuzzer target: Decimal::parse on arbitrary bytes (JSON number literals and decimal strings).
// Properties: no crash or UB; an accepted value prints and re-parses to itself; a decimal string is
// accepted as a JSON number literal too, with the same value; error messages are printable ASCII;
// and every verdict agrees with a slow reference written independently (std::regex for the syntax,
// boost::multiprecision::cpp_int for the value).
#include <boost/multiprecision/cpp_int.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

#include "domain/decimal.h"

namespace {

using boost::multiprecision::cpp_int;

void check(bool ok, const char* what, const std::string& input) {
  if (ok) return;
  std::fprintf(stderr, "property failed: %s for input '%s'\n", what, input.c_str());
  std::abort();
}

bool printableAscii(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f) return false;
  return true;
}

// The verdict DESIGN §3 asks for: the value as 8-dp text, or the error code.
std::string reference(const std::string& text, bool allow_exponent) {
  static const std::regex kLiteral(R"(([+-]?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?)");
  std::smatch m;
  if (!std::regex_match(text, m, kLiteral) || (m[4].matched && !allow_exponent))
    return "invalid_decimal";
  const std::string whole = m[2], frac = m[3], exp_text = m[4];
  std::string mantissa_digits = whole + frac;  // without leading zeros: cpp_int reads 0… as octal
  mantissa_digits.erase(0,
                        std::min(mantissa_digits.find_first_not_of('0'), mantissa_digits.size()));
  cpp_int mantissa(mantissa_digits.empty() ? "0" : mantissa_digits);
  if (mantissa == 0) return "0.00000000";
  // Inputs are at most a few thousand bytes, so an exponent beyond ±10^6 decides by its sign.
  std::string e = exp_text;
  bool eneg = !e.empty() && e[0] == '-';
  if (!e.empty() && (e[0] == '-' || e[0] == '+')) e.erase(0, 1);
  e.erase(0, std::min(e.find_first_not_of('0'), e.size()));
  if (e.size() > 7) return eneg ? "decimal_too_precise" : "decimal_out_of_range";
  long exponent = e.empty() ? 0 : std::stol(e);
  if (eneg) exponent = -exponent;
  long shift = exponent - static_cast<long>(frac.size()) + 8;  // units = mantissa × 10^shift
  cpp_int units = mantissa;
  // A non-zero mantissa below 10^n is never a multiple of 10^-shift when -shift > n.
  if (-shift > static_cast<long>(mantissa_digits.size())) return "decimal_too_precise";
  if (shift < 0) {
    cpp_int divisor = boost::multiprecision::pow(cpp_int(10), static_cast<unsigned>(-shift));
    if (units % divisor != 0) return "decimal_too_precise";
    units /= divisor;
  } else {
    if (shift > 40) return "decimal_out_of_range";
    units *= boost::multiprecision::pow(cpp_int(10), static_cast<unsigned>(shift));
  }
  if (units >= cpp_int("1000000000000000000")) return "decimal_out_of_range";
  std::string digits = units.str();
  if (digits.size() < 9) digits.insert(0, 9 - digits.size(), '0');
  return (m[1] == "-" ? "-" : "") + digits.substr(0, digits.size() - 8) + "." +
         digits.substr(digits.size() - 8);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 2048) return 0;  // std::regex recurses per character; the reference assumes short text
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (bool allow_exponent : {false, true}) {
    auto r = sc::Decimal::parse(text, allow_exponent);
    const std::string got = r ? r->toString() : r.error().code;
    const std::string want = reference(text, allow_exponent);
    check(got == want, ("agrees with the reference (got " + got + ", want " + want + ")").c_str(),
          text);
    if (r) {
      auto again = sc::Decimal::parse(r->toString());
      check(again.ok() && *again == *r, "parse(toString(x)) == x", text);
      auto as_number = sc::Decimal::parse(text, true);
      check(as_number.ok() && *as_number == *r, "a string literal parses as a number too", text);
    } else {
      check(printableAscii(r.error().message), "error message is printable ASCII", text);
    }
  }
  return 0;
}

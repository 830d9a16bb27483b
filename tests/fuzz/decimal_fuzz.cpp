// libFuzzer target: Decimal::parse (JSON number literals and decimal strings) and
// LedgerAmount::parse (Daml-LF Numeric strings) on arbitrary bytes.
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
#include "domain/ledger_amount.h"

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

struct Kind {
  int scale;          // fractional digits
  int max_digits;     // in total
  const char* codes;  // error code prefix
};
constexpr Kind kDecimal{8, 18, "decimal"};
constexpr Kind kLedger{10, 38, "amount"};

// The verdict DESIGN §3 asks for: the units (value × 10^scale) as an integer, or the error code.
std::string reference(const std::string& text, bool allow_exponent, const Kind& kind) {
  static const std::regex kLiteral(R"(([+-]?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?)");
  std::smatch m;
  if (!std::regex_match(text, m, kLiteral) || (m[4].matched && !allow_exponent))
    return kind.scale == 8 ? "invalid_decimal" : "invalid_amount";
  const std::string too_precise = std::string(kind.codes) + "_too_precise";
  const std::string out_of_range = std::string(kind.codes) + "_out_of_range";
  const std::string whole = m[2], frac = m[3], exp_text = m[4];
  std::string mantissa_digits = whole + frac;  // without leading zeros: cpp_int reads 0… as octal
  mantissa_digits.erase(0,
                        std::min(mantissa_digits.find_first_not_of('0'), mantissa_digits.size()));
  cpp_int mantissa(mantissa_digits.empty() ? "0" : mantissa_digits);
  if (mantissa == 0) return "0";
  // Inputs are at most a few thousand bytes, so an exponent beyond ±10^6 decides by its sign.
  std::string e = exp_text;
  bool eneg = !e.empty() && e[0] == '-';
  if (!e.empty() && (e[0] == '-' || e[0] == '+')) e.erase(0, 1);
  e.erase(0, std::min(e.find_first_not_of('0'), e.size()));
  if (e.size() > 7) return eneg ? too_precise : out_of_range;
  long exponent = e.empty() ? 0 : std::stol(e);
  if (eneg) exponent = -exponent;
  long shift =
      exponent - static_cast<long>(frac.size()) + kind.scale;  // units = mantissa × 10^shift
  cpp_int units = mantissa;
  // A non-zero mantissa below 10^n is never a multiple of 10^-shift when -shift > n.
  if (-shift > static_cast<long>(mantissa_digits.size())) return too_precise;
  if (shift < 0) {
    cpp_int divisor = boost::multiprecision::pow(cpp_int(10), static_cast<unsigned>(-shift));
    if (units % divisor != 0) return too_precise;
    units /= divisor;
  } else {
    if (shift > 60) return out_of_range;
    units *= boost::multiprecision::pow(cpp_int(10), static_cast<unsigned>(shift));
  }
  if (units >= boost::multiprecision::pow(cpp_int(10), kind.max_digits)) return out_of_range;
  return (m[1] == "-" ? "-" : "") + units.str();
}

}  // namespace

std::string unitsText(__int128 units) {
  if (units == 0) return "0";
  std::string digits;
  for (unsigned __int128 u = units < 0 ? -static_cast<unsigned __int128>(units) : units; u != 0;
       u /= 10)
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
  return (units < 0 ? "-" : "") + digits;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 2048) return 0;  // std::regex recurses per character; the reference assumes short text
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (bool allow_exponent : {false, true}) {
    auto r = sc::Decimal::parse(text, allow_exponent);
    const std::string got = r ? unitsText(r->units()) : r.error().code;
    const std::string want = reference(text, allow_exponent, kDecimal);
    check(got == want,
          ("Decimal agrees with the reference (got " + got + ", want " + want + ")").c_str(), text);
    if (r) {
      auto again = sc::Decimal::parse(r->toString());
      check(again.ok() && *again == *r, "parse(toString(x)) == x", text);
      auto as_number = sc::Decimal::parse(text, true);
      check(as_number.ok() && *as_number == *r, "a string literal parses as a number too", text);
      auto wide = sc::LedgerAmount::fromDecimal(*r).toDecimal();
      check(wide.ok() && *wide == *r, "Decimal -> LedgerAmount -> Decimal is exact", text);
    } else {
      check(printableAscii(r.error().message), "error message is printable ASCII", text);
    }
  }
  auto l = sc::LedgerAmount::parse(text);
  const std::string got = l ? unitsText(l->units()) : l.error().code;
  const std::string want = reference(text, false, kLedger);
  check(got == want,
        ("LedgerAmount agrees with the reference (got " + got + ", want " + want + ")").c_str(),
        text);
  if (l) {
    for (int min_decimals : {0, 8, 10}) {
      auto again = sc::LedgerAmount::parse(l->toString(min_decimals));
      check(again.ok() && *again == *l, "LedgerAmount parse(toString(x)) == x", text);
    }
  } else {
    check(printableAscii(l.error().message), "LedgerAmount error message is printable ASCII", text);
  }
  return 0;
}

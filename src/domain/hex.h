#pragma once
// Hexadecimal digits, for the parsers of ids (ids.cpp) and of percent-encoded URLs
// (api/router.cpp), and the percent-encoding of URL components (the Canton adapter's URLs and
// forms, the router's fuzz target).
#include <cctype>
#include <string>
#include <string_view>

namespace sc {

// The value of a hexadecimal digit (either case), or -1 when `c` is not one.
inline int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-encoding of a URL component: every byte but the unreserved A-Z a-z 0-9 - _ . ~
inline std::string percentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace sc

#pragma once
// Hexadecimal digits, for the parsers of ids (ids.cpp) and of percent-encoded URLs
// (api/router.cpp).

namespace sc {

// The value of a hexadecimal digit (either case), or -1 when `c` is not one.
inline int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace sc

#include "domain/ids.h"

#include <chrono>
#include <cstring>
#include <mutex>
#include <random>

#include "domain/hex.h"

namespace sc {

Uuid Uuid::generateV7() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  thread_local uint64_t last_ms = 0;
  thread_local uint16_t seq = 0;
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  uint64_t r1 = rng(), r2 = rng();
  // 12-bit counter in rand_a keeps ids from one thread strictly increasing; when it overflows
  // within a millisecond, the timestamp field is advanced (RFC 9562 §6.2, method 1).
  if (ms <= last_ms) {
    ms = last_ms;
    if (++seq > 0x0fff) {
      ms = ++last_ms;
      seq = 0;
    }
  } else {
    last_ms = ms;
    seq = static_cast<uint16_t>(r1 & 0x07ff);
  }
  Uuid u;
  for (int i = 0; i < 6; ++i) u.b_[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  u.b_[6] = static_cast<uint8_t>(0x70 | ((seq >> 8) & 0x0f));
  u.b_[7] = static_cast<uint8_t>(seq & 0xff);
  for (int i = 8; i < 16; ++i) u.b_[i] = static_cast<uint8_t>(r2 >> (8 * (i - 8)));
  u.b_[8] = static_cast<uint8_t>((u.b_[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return u;
}

std::optional<Uuid> Uuid::parseHex32(std::string_view s) {
  if (s.size() != 32) return std::nullopt;
  Uuid u;
  for (size_t i = 0; i < 16; ++i) {
    int hi = hexValue(s[2 * i]), lo = hexValue(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    u.b_[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return u;
}

std::optional<Uuid> Uuid::parseCanonical(std::string_view s) {
  if (s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
    return std::nullopt;
  std::string hex;
  hex.reserve(32);
  for (char c : s)
    if (c != '-') hex.push_back(c);
  return parseHex32(hex);
}

std::optional<Uuid> Uuid::parsePrefixed(std::string_view s, std::string_view prefix) {
  if (s.size() == prefix.size() + 32 && s.substr(0, prefix.size()) == prefix)
    return parseHex32(s.substr(prefix.size()));
  return parseCanonical(s);
}

std::string Uuid::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t i = 0; i < 16; ++i) {
    out[2 * i] = kDigits[b_[i] >> 4];
    out[2 * i + 1] = kDigits[b_[i] & 0x0f];
  }
  return out;
}

std::string Uuid::canonical() const {
  std::string h = hex();
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

bool Uuid::isNil() const {
  for (auto x : b_)
    if (x) return false;
  return true;
}

size_t UuidHash::operator()(const Uuid& u) const noexcept {
  uint64_t a, b;
  std::memcpy(&a, u.bytes().data(), 8);
  std::memcpy(&b, u.bytes().data() + 8, 8);
  return std::hash<uint64_t>{}(a ^ (b * 0x9e3779b97f4a7c15ULL));
}

bool isValidExternalId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace sc

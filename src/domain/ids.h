#pragma once
// Identifiers. Ids this service creates are UUIDs (version 7: time-ordered, so B-tree inserts stay
// local) rendered "set_<32 hex>" / "evt_<32 hex>"; the canonical 8-4-4-4-12 form is accepted too.
// External ids (trade, account) are opaque strings of 1-64 characters from [A-Za-z0-9_.:-].
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sc {

class Uuid {
 public:
  Uuid() = default;
  static Uuid generateV7();                                       // thread-safe
  static std::optional<Uuid> parseCanonical(std::string_view s);  // 8-4-4-4-12
  static std::optional<Uuid> parseHex32(std::string_view s);
  // "set_<hex>", "evt_<hex>" (any prefix given) or canonical form.
  static std::optional<Uuid> parsePrefixed(std::string_view s, std::string_view prefix);
  std::string canonical() const;
  std::string hex() const;
  std::string prefixed(std::string_view prefix) const { return std::string(prefix) + hex(); }
  const std::array<uint8_t, 16>& bytes() const { return b_; }
  bool isNil() const;
  auto operator<=>(const Uuid&) const = default;

 private:
  std::array<uint8_t, 16> b_{};
};

inline constexpr std::string_view kSettlementPrefix = "set_";
inline constexpr std::string_view kEventPrefix = "evt_";

bool isValidExternalId(std::string_view s);

struct UuidHash {
  size_t operator()(const Uuid& u) const noexcept;
};

}  // namespace sc

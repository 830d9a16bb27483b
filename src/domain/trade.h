#pragma once
// The trade event of DESIGN §3 and its stateless validation. Stateful rules (unknown/inactive
// account, trade_conflict) are applied by the intake against the store.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/decimal.h"
#include "domain/result.h"
#include "domain/time.h"

namespace sc {

struct Trade {
  std::string event_id;  // upstream's id of the event; not part of the trade's content
  std::string trade_id;
  std::string buyer_account_id;
  std::string seller_account_id;
  std::string symbol;  // "<SECURITY>/<CASH ASSET>"
  Decimal quantity;
  std::optional<Decimal> price;
  Decimal amount;
  Date settlement_date;
  Timestamp executed_at;
  bool allow_partial = false;

  std::string securityAsset() const { return symbol.substr(0, symbol.find('/')); }
  std::string cashAsset() const { return symbol.substr(symbol.find('/') + 1); }
  // Same economic content (everything but event_id): a resubmission, not a conflict.
  bool sameContent(const Trade& o) const;
};

// Reason codes (one per rule). Stable: they appear in HTTP errors and on the dead-letter topic.
namespace reason {
inline constexpr std::string_view kInvalidJson = "invalid_json";
inline constexpr std::string_view kMissingField = "missing_field";
inline constexpr std::string_view kInvalidFieldType = "invalid_field_type";
inline constexpr std::string_view kInvalidEventType = "invalid_event_type";
inline constexpr std::string_view kInvalidId = "invalid_id";
inline constexpr std::string_view kInvalidDecimal = "invalid_decimal";
inline constexpr std::string_view kDecimalTooPrecise = "decimal_too_precise";
inline constexpr std::string_view kDecimalOutOfRange = "decimal_out_of_range";
inline constexpr std::string_view kNonPositiveQuantity = "non_positive_quantity";
inline constexpr std::string_view kNonPositiveAmount = "non_positive_amount";
inline constexpr std::string_view kNonPositivePrice = "non_positive_price";
inline constexpr std::string_view kAmountMismatch = "amount_mismatch";
inline constexpr std::string_view kSelfTrade = "self_trade";
inline constexpr std::string_view kInvalidSymbol = "invalid_symbol";
inline constexpr std::string_view kUnknownSymbol = "unknown_symbol";
inline constexpr std::string_view kInvalidDate = "invalid_date";
inline constexpr std::string_view kInvalidTimestamp = "invalid_timestamp";
inline constexpr std::string_view kSettlementDateBeforeTradeDate =
    "settlement_date_before_trade_date";
inline constexpr std::string_view kUnknownAccount = "unknown_account";
inline constexpr std::string_view kInactiveAccount = "inactive_account";
inline constexpr std::string_view kTradeConflict = "trade_conflict";
// Every code above: what a rejected trade can carry (GET /rejections?reason= accepts these).
inline constexpr std::array<std::string_view, 21> kAll = {
    kInvalidJson,       kMissingField,      kInvalidFieldType,
    kInvalidEventType,  kInvalidId,         kInvalidDecimal,
    kDecimalTooPrecise, kDecimalOutOfRange, kNonPositiveQuantity,
    kNonPositiveAmount, kNonPositivePrice,  kAmountMismatch,
    kSelfTrade,         kInvalidSymbol,     kUnknownSymbol,
    kInvalidDate,       kInvalidTimestamp,  kSettlementDateBeforeTradeDate,
    kUnknownAccount,    kInactiveAccount,   kTradeConflict};
}  // namespace reason

struct TradeRules {
  // When non-empty, only these symbols are known; otherwise any well-formed symbol is.
  std::vector<std::string> allowed_symbols;
};

// Parses and validates one trade event (JSON text). Decimal fields must be strings, or JSON numbers
// whose literal is exactly representable in DECIMAL(18,8) (the literal text is used, never a
// double). Returns the first rule broken, with its reason code and the field.
Result<Trade> decodeTrade(std::string_view json, const TradeRules& rules = {});

// Canonical JSON of a trade (decimals as 8-dp strings), as stored and echoed back.
std::string encodeTrade(const Trade& t);

// The trade_id of an event that decodeTrade rejected, when it can still be read: a JSON object
// whose "trade_id" member is a valid external id. Empty otherwise (malformed JSON, absent, not a
// string, not an id). Rejections name the trade by it (dead letters, GET /rejections).
std::string readableTradeId(std::string_view json);

}  // namespace sc

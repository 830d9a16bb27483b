#include "domain/trade.h"

#include <map>
#include <nlohmann/json.hpp>

#include "domain/ids.h"
#include "domain/quote.h"

namespace sc {
namespace {

// One JSON value of a flat object, numbers kept as their literal text.
struct Value {
  enum Kind { kNull, kBool, kNumber, kString, kComposite } kind = kNull;
  std::string text;
  bool boolean = false;
};

// SAX handler for a flat JSON object: records each member; nested objects/arrays are recorded
// as kComposite (a type error if the member is one we read). Never builds a DOM of doubles.
class FlatObjectSax {
 public:
  using json = nlohmann::json;
  std::map<std::string, Value, std::less<>> members;
  std::string error;
  bool top_is_object = false;

  bool null() { return put(Value{Value::kNull, {}, false}); }
  bool boolean(bool b) { return put(Value{Value::kBool, {}, b}); }
  bool number_integer(json::number_integer_t v) {
    return put(Value{Value::kNumber, std::to_string(v), false});
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return put(Value{Value::kNumber, std::to_string(v), false});
  }
  bool number_float(json::number_float_t, const json::string_t& s) {
    return put(Value{Value::kNumber, s, false});
  }
  bool string(json::string_t& s) { return put(Value{Value::kString, s, false}); }
  bool binary(json::binary_t&) { return put(Value{Value::kComposite, {}, false}); }
  bool start_object(std::size_t) {
    if (depth_ == 0)
      top_is_object = true;
    else if (depth_ == 1)
      put(Value{Value::kComposite, {}, false});
    ++depth_;
    return true;
  }
  bool end_object() {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ == 1) put(Value{Value::kComposite, {}, false});
    ++depth_;
    return true;
  }
  bool end_array() {
    --depth_;
    return true;
  }
  bool key(json::string_t& k) {
    if (depth_ == 1) {
      if (members.count(k)) {
        error = "duplicate member " + quoteForMessage(k, 64);
        return false;
      }
      key_ = k;
    }
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) {
    error = "malformed JSON near byte " + std::to_string(pos);
    return false;
  }

 private:
  bool put(Value v) {
    if (depth_ == 1) members[key_] = std::move(v);
    return true;
  }
  int depth_ = 0;
  std::string key_;
};

Error reject(std::string_view code, std::string message, std::string field = {}) {
  return Error::permanent(std::string(code), std::move(message), std::move(field));
}

bool validAssetCode(std::string_view s) {
  if (s.empty() || s.size() > 12) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

class Reader {
 public:
  explicit Reader(const FlatObjectSax& sax) : m_(sax.members) {}

  const Value* find(std::string_view name) const {
    auto it = m_.find(name);
    return it == m_.end() ? nullptr : &it->second;
  }

  Result<std::string> requiredString(const char* name) const {
    const Value* v = find(name);
    if (!v || v->kind == Value::kNull)
      return reject(reason::kMissingField, std::string(name) + " is required", name);
    if (v->kind != Value::kString)
      return reject(reason::kInvalidFieldType, std::string(name) + " must be a string", name);
    return v->text;
  }

  Result<std::string> requiredId(const char* name) const {
    auto s = requiredString(name);
    if (!s) return s;
    if (!isValidExternalId(*s))
      return reject(reason::kInvalidId,
                    std::string(name) + " must be 1-64 characters of [A-Za-z0-9_.:-]", name);
    return s;
  }

  // Decimal from a string, or a JSON number whose literal is exact.
  Result<Decimal> decimal(const char* name) const {
    const Value* v = find(name);
    if (!v || v->kind == Value::kNull)
      return reject(reason::kMissingField, std::string(name) + " is required", name);
    if (v->kind != Value::kString && v->kind != Value::kNumber)
      return reject(reason::kInvalidFieldType, std::string(name) + " must be a decimal string",
                    name);
    auto d = Decimal::parse(v->text, v->kind == Value::kNumber);
    if (!d) {
      Error e = d.error();
      e.field = name;
      e.message = std::string(name) + ": " + e.message;
      return e;
    }
    return d;
  }

 private:
  const std::map<std::string, Value, std::less<>>& m_;
};

}  // namespace

bool Trade::sameContent(const Trade& o) const {
  return trade_id == o.trade_id && buyer_account_id == o.buyer_account_id &&
         seller_account_id == o.seller_account_id && symbol == o.symbol && quantity == o.quantity &&
         price == o.price && amount == o.amount && settlement_date == o.settlement_date &&
         executed_at == o.executed_at && allow_partial == o.allow_partial;
}

Result<Trade> decodeTrade(std::string_view json, const TradeRules& rules) {
  FlatObjectSax sax;
  bool parsed = nlohmann::json::sax_parse(json.begin(), json.end(), &sax,
                                          nlohmann::json::input_format_t::json, true);
  if (!parsed)
    return reject(reason::kInvalidJson, sax.error.empty() ? "malformed JSON" : sax.error);
  if (!sax.top_is_object)
    return reject(reason::kInvalidJson, "a trade event must be a JSON object");
  Reader r(sax);
  Trade t;

  if (const Value* v = r.find("event_id"); v && v->kind != Value::kNull) {
    if (v->kind != Value::kString)
      return reject(reason::kInvalidFieldType, "event_id must be a string", "event_id");
    if (!isValidExternalId(v->text))
      return reject(reason::kInvalidId, "event_id must be 1-64 characters of [A-Za-z0-9_.:-]",
                    "event_id");
    t.event_id = v->text;
  }
  if (const Value* v = r.find("event_type"); v && v->kind != Value::kNull) {
    if (v->kind != Value::kString)
      return reject(reason::kInvalidFieldType, "event_type must be a string", "event_type");
    if (v->text != "trade_executed")
      return reject(reason::kInvalidEventType, "event_type must be \"trade_executed\"",
                    "event_type");
  }
  auto trade_id = r.requiredId("trade_id");
  if (!trade_id) return trade_id.error();
  t.trade_id = std::move(*trade_id);
  auto buyer = r.requiredId("buyer_account_id");
  if (!buyer) return buyer.error();
  t.buyer_account_id = std::move(*buyer);
  auto seller = r.requiredId("seller_account_id");
  if (!seller) return seller.error();
  t.seller_account_id = std::move(*seller);

  auto symbol = r.requiredString("symbol");
  if (!symbol) return symbol.error();
  auto slash = symbol->find('/');
  if (slash == std::string::npos || symbol->find('/', slash + 1) != std::string::npos ||
      !validAssetCode(std::string_view(*symbol).substr(0, slash)) ||
      !validAssetCode(std::string_view(*symbol).substr(slash + 1)) ||
      symbol->substr(0, slash) == symbol->substr(slash + 1)) {
    return reject(reason::kInvalidSymbol,
                  "symbol must be <SECURITY>/<CASH ASSET>, two different codes of 1-12 of "
                  "[A-Z0-9._-]",
                  "symbol");
  }
  if (!rules.allowed_symbols.empty()) {
    bool known = false;
    for (const auto& s : rules.allowed_symbols) known = known || s == *symbol;
    if (!known)
      return reject(reason::kUnknownSymbol, "symbol " + *symbol + " is not traded here", "symbol");
  }
  t.symbol = std::move(*symbol);

  auto quantity = r.decimal("quantity");
  if (!quantity) return quantity.error();
  if (!quantity->isPositive())
    return reject(reason::kNonPositiveQuantity, "quantity must be > 0", "quantity");
  t.quantity = *quantity;

  auto amount = r.decimal("amount");
  if (!amount) return amount.error();
  if (!amount->isPositive())
    return reject(reason::kNonPositiveAmount, "amount must be > 0", "amount");
  t.amount = *amount;

  if (const Value* v = r.find("price"); v && v->kind != Value::kNull) {
    auto price = r.decimal("price");
    if (!price) return price.error();
    if (!price->isPositive())
      return reject(reason::kNonPositivePrice, "price must be > 0", "price");
    t.price = *price;
    auto expected = t.quantity.mul(*price);
    if (!expected) {
      return reject(reason::kAmountMismatch,
                    "quantity × price exceeds DECIMAL(18,8), so amount cannot match it", "amount");
    }
    if (*expected != t.amount) {
      return reject(reason::kAmountMismatch,
                    "amount " + t.amount.toString() + " != quantity × price = " +
                        expected->toString() + " (rounded half-even to 8 dp)",
                    "amount");
    }
  }

  auto date_text = r.requiredString("settlement_date");
  if (!date_text) return date_text.error();
  auto date = parseDate(*date_text);
  if (!date)
    return reject(reason::kInvalidDate, "settlement_date must be a calendar date YYYY-MM-DD",
                  "settlement_date");
  t.settlement_date = *date;

  auto exec_text = r.requiredString("executed_at");
  if (!exec_text) return exec_text.error();
  auto exec = parseTimestamp(*exec_text);
  if (!exec)
    return reject(reason::kInvalidTimestamp, "executed_at must be an RFC 3339 timestamp",
                  "executed_at");
  t.executed_at = *exec;

  if (const Value* v = r.find("allow_partial"); v && v->kind != Value::kNull) {
    if (v->kind != Value::kBool)
      return reject(reason::kInvalidFieldType, "allow_partial must be true or false",
                    "allow_partial");
    t.allow_partial = v->boolean;
  }

  if (t.buyer_account_id == t.seller_account_id)
    return reject(reason::kSelfTrade, "buyer and seller are the same account", "seller_account_id");
  if (t.settlement_date < dateOf(t.executed_at)) {
    return reject(reason::kSettlementDateBeforeTradeDate,
                  "settlement_date " + formatDate(t.settlement_date) +
                      " is before the trade date " + formatDate(dateOf(t.executed_at)),
                  "settlement_date");
  }
  return t;
}

std::string encodeTrade(const Trade& t) {
  nlohmann::json j = {
      {"event_type", "trade_executed"},
      {"trade_id", t.trade_id},
      {"buyer_account_id", t.buyer_account_id},
      {"seller_account_id", t.seller_account_id},
      {"symbol", t.symbol},
      {"quantity", t.quantity.toString()},
      {"amount", t.amount.toString()},
      {"settlement_date", formatDate(t.settlement_date)},
      {"executed_at", formatTimestamp(t.executed_at)},
      {"allow_partial", t.allow_partial},
  };
  if (!t.event_id.empty()) j["event_id"] = t.event_id;
  if (t.price) j["price"] = t.price->toString();
  return j.dump();
}

std::string readableTradeId(std::string_view json) {
  FlatObjectSax sax;
  bool parsed = nlohmann::json::sax_parse(json.begin(), json.end(), &sax,
                                          nlohmann::json::input_format_t::json, true);
  if (!parsed || !sax.top_is_object) return {};
  const Value* v = Reader(sax).find("trade_id");
  if (!v || v->kind != Value::kString || !isValidExternalId(v->text)) return {};
  return v->text;
}

}  // namespace sc

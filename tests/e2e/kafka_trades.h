#pragma once
// Kafka end-to-end tests (kafka_e2e_test.cpp): the trades they produce to trade.events, and what
// the service must do with each.
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/time.h"
#include "e2e/kafka_test_client.h"

namespace sc::test {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr int kPartitions = 3;
constexpr int kTraders = 16;
constexpr int kRelayBatch =
    1000;  // messaging::KafkaOptions::relay_batch: the most one crash can re-send

// --- trades -------------------------------------------------------------------------------------

// One message produced to trade.events, and what the service must do with it.
struct Produced {
  KafkaRecord record;          // key, value (the exact bytes), headers
  std::string trade_id;        // the valid trade it is (or repeats / conflicts with)
  std::string reject_code;     // expected dlq.reason_code; empty for accepted messages
  bool expect_failed = false;  // a valid trade the ledger must refuse (seller holds nothing)
};

// The content of a valid trade, as the settlement_initiated payload must echo it (8-dp decimals).
struct TradeFacts {
  std::string buyer, seller, symbol, quantity, amount, settlement_date;
  bool expect_failed = false;
};

inline std::string yesterday() {
  auto now = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  return sc::formatDate(now - std::chrono::days(1));
}

inline std::string cents(int64_t c) {
  std::ostringstream o;
  o << c / 100 << '.' << (c % 100 < 10 ? "0" : "") << c % 100;
  return o.str();
}

class TradeFactory {
 public:
  // Trades between `traders` accounts (trader(0) .. trader(traders - 1)).
  explicit TradeFactory(uint32_t seed, int traders = kTraders)
      : rng_(seed), date_(yesterday()), traders_(traders) {}

  // A valid trade between two distinct funded traders (or, when `poor_seller`, a seller without
  // securities, which the ledger refuses: the settlement must end FAILED).
  Produced valid(const std::string& trade_id, bool poor_seller = false) {
    int b = pick(traders_), s = pick(traders_ - 1);
    if (s >= b) ++s;
    int64_t qty = 1 + pick(100);
    int64_t price_cents = 100 + pick(50000);
    Json j = base(trade_id);
    j["buyer_account_id"] = trader(b);
    j["seller_account_id"] = poor_seller ? std::string("acc-poor") : trader(s);
    j["symbol"] = pick(2) ? "AAPL/USDC" : "MSFT/USDC";
    // Mostly decimal strings; some JSON integers (exactly representable, so accepted).
    if (pick(7) == 0)
      j["quantity"] = qty;
    else
      j["quantity"] = std::to_string(qty);
    j["price"] = cents(price_cents);
    j["amount"] = cents(qty * price_cents);
    TradeFacts f{j["buyer_account_id"],
                 j["seller_account_id"],
                 j["symbol"],
                 std::to_string(qty) + ".00000000",
                 cents(qty * price_cents) + "000000",
                 date_ + "T00:00:00Z",
                 poor_seller};
    facts_[trade_id] = f;
    Produced p;
    p.record = record(trade_id, j.dump());
    p.trade_id = trade_id;
    p.expect_failed = poor_seller;
    return p;
  }

  // Same trade_id as `original`, different content: trade_conflict.
  Produced conflicting(const Produced& original) {
    Json j = Json::parse(original.record.value);
    j["event_id"] = std::string(j["event_id"]) + "-conflict";
    j.erase("price");
    j["quantity"] = "100000";
    j["amount"] = "1.00";
    Produced p;
    p.record = record(original.trade_id, j.dump());
    p.trade_id = original.trade_id;
    p.reject_code = "trade_conflict";
    return p;
  }

  // Malformed or invalid message number n (kinds cycle), with the reason code it must get.
  Produced bad(int n) {
    std::string id = "trd-bad-" + std::to_string(n);
    Json j = base(id);
    j["buyer_account_id"] = trader(0);
    j["seller_account_id"] = trader(1);
    j["symbol"] = "AAPL/USDC";
    j["quantity"] = "10";
    j["price"] = "2.50";
    j["amount"] = "25.00";
    std::string code, raw;
    switch (n % 18) {
      case 0:
        raw = R"({"trade_id":")" + id + R"(","quantity":"1)";
        code = "invalid_json";
        break;
      case 1:
        raw = std::string("\x00\xff\xfe not json", 13);
        code = "invalid_json";
        break;
      case 2:
        j.erase("quantity");
        code = "missing_field";
        break;
      case 3:
        j["quantity"] = true;
        code = "invalid_field_type";
        break;
      case 4:
        j["quantity"] = "1.123456789";
        j.erase("price");
        code = "decimal_too_precise";
        break;
      case 5:
        j["quantity"] = "0";
        code = "non_positive_quantity";
        break;
      case 6:
        j["amount"] = "0.00";
        j.erase("price");
        code = "non_positive_amount";
        break;
      case 7:
        j["amount"] = "25.01";
        code = "amount_mismatch";
        break;
      case 8:
        j["seller_account_id"] = trader(0);
        code = "self_trade";
        break;
      case 9:
        j["symbol"] = "AAPLUSDC";
        code = "invalid_symbol";
        break;
      case 10:
        j["symbol"] = "TSLA/USDC";
        code = "unknown_symbol";
        break;
      case 11:
        j["executed_at"] = date_ + "T10:00:00Z";
        j["settlement_date"] = "2001-01-01";
        code = "settlement_date_before_trade_date";
        break;
      case 12:
        j["buyer_account_id"] = "acc-ghost";
        code = "unknown_account";
        break;
      case 13:
        j["seller_account_id"] = "acc-inactive";
        code = "inactive_account";
        break;
      case 14:
        j["event_type"] = "trade_cancelled";
        code = "invalid_event_type";
        break;
      case 15:
        j["trade_id"] = "trd bad with spaces";
        code = "invalid_id";
        break;
      case 16:
        j["settlement_date"] = "2024-13-45";
        code = "invalid_date";
        break;
      case 17:
        raw = "{}";
        code = "missing_field";
        break;
    }
    Produced p;
    p.record = record(id, raw.empty() ? j.dump() : raw);
    p.reject_code = code;
    return p;
  }

  const std::unordered_map<std::string, TradeFacts>& facts() const { return facts_; }
  static std::string trader(int i) { return "acc-trader-" + std::to_string(i); }
  int traders() const { return traders_; }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  Json base(const std::string& trade_id) {
    return Json{{"event_id", "evt-up-" + trade_id},
                {"event_type", "trade_executed"},
                {"trade_id", trade_id},
                {"settlement_date", date_},
                {"executed_at", date_ + "T16:30:00Z"},
                {"allow_partial", false}};
  }
  KafkaRecord record(const std::string& key, std::string value) {
    KafkaRecord r;
    r.key = key;
    r.value = std::move(value);
    r.headers = {{"x-test-seq", std::to_string(seq_++)}};
    return r;
  }

  std::mt19937 rng_;
  std::string date_;
  int traders_;
  uint64_t seq_ = 0;
  std::unordered_map<std::string, TradeFacts> facts_;
};

}  // namespace sc::test

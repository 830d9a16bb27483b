#pragma once
// The trade event of DESIGN §3 as test input: every field valid by default (50 AAPL at 150.48 =
// 7524.00 USDC between acc_buyer and acc_seller, executed 2024-11-17, settling 2024-11-19);
// a test changes the fields it is about. Header-only.
#include <nlohmann/json.hpp>
#include <string>

namespace sc::test {

struct TradeEvent {
  std::string trade_id = "trd_1";
  std::string event_id;  // empty: "evt_" + trade_id
  std::string buyer = "acc_buyer";
  std::string seller = "acc_seller";
  std::string symbol = "AAPL/USDC";
  std::string quantity = "50";
  std::string price = "150.48";  // empty: no price field
  std::string amount = "7524.00";
  std::string settlement_date = "2024-11-19";
  std::string executed_at = "2024-11-17T16:30:00Z";
  bool allow_partial = false;

  // The fields in the order of DESIGN §3.
  nlohmann::ordered_json json() const {
    nlohmann::ordered_json j;
    j["event_id"] = event_id.empty() ? "evt_" + trade_id : event_id;
    j["event_type"] = "trade_executed";
    j["trade_id"] = trade_id;
    j["buyer_account_id"] = buyer;
    j["seller_account_id"] = seller;
    j["symbol"] = symbol;
    j["quantity"] = quantity;
    if (!price.empty()) j["price"] = price;
    j["amount"] = amount;
    j["settlement_date"] = settlement_date;
    j["executed_at"] = executed_at;
    j["allow_partial"] = allow_partial;
    return j;
  }
  std::string text() const { return json().dump(); }
};

}  // namespace sc::test

#pragma once
// Kafka end-to-end tests (kafka_e2e_test.cpp): what a consumer of settlement.events must see,
// checked independently of the service's own code.
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "e2e/kafka_test_client.h"
#include "e2e/kafka_trades.h"

namespace sc::test {

// --- what a consumer of settlement.events sees --------------------------------------------------

inline const std::vector<std::string> kLifecycle = {"settlement_pending",
                                                    "settlement_initiated",
                                                    "settlement_seller_securities_locked",
                                                    "settlement_buyer_cash_locked",
                                                    "settlement_executing",
                                                    "settlement_confirmed",
                                                    "settlement_settled"};

// DESIGN §4, written out here independently of the service's own transition table.
inline bool legalStep(const std::string& from, const std::string& to) {
  static const std::map<std::string, std::set<std::string>> next = {
      {"settlement_pending", {"settlement_initiated", "settlement_failed"}},
      {"settlement_initiated", {"settlement_seller_securities_locked", "settlement_failed"}},
      {"settlement_seller_securities_locked",
       {"settlement_buyer_cash_locked", "settlement_failed"}},
      {"settlement_buyer_cash_locked", {"settlement_executing", "settlement_failed"}},
      {"settlement_executing",
       {"settlement_confirmed", "settlement_failed", "settlement_partially_settled"}},
      {"settlement_confirmed", {"settlement_settled"}},
      {"settlement_partially_settled", {"settlement_initiated", "settlement_failed"}},
  };
  auto it = next.find(from);
  return it != next.end() && it->second.count(to) > 0;
}

inline const std::regex kEventId("^evt_[0-9a-f]{32}$");
inline const std::regex kSettlementId("^set_[0-9a-f]{32}$");
inline const std::regex kTimestamp(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$)");
inline const std::regex kDecimal8(R"(^\d{1,10}\.\d{8}$)");

inline bool isNonEmptyString(const Json& j, const char* field) {
  return j.contains(field) && j[field].is_string() && !j[field].get<std::string>().empty();
}

// Checks one settlement.events payload against the spec; returns the problems found.
inline std::vector<std::string> checkPayload(
    const KafkaRecord& m, const Json& p, const std::unordered_map<std::string, TradeFacts>& facts) {
  std::vector<std::string> bad;
  auto str = [&](const char* f) {
    return p.contains(f) && p[f].is_string() ? p[f].get<std::string>() : std::string();
  };
  if (!std::regex_match(str("event_id"), kEventId)) bad.push_back("event_id");
  if (!std::regex_match(str("settlement_id"), kSettlementId) || str("settlement_id") != m.key)
    bad.push_back("settlement_id (key " + m.key + ")");
  if (!std::regex_match(str("timestamp"), kTimestamp)) bad.push_back("timestamp");
  const std::string type = str("event_type");
  const std::string* header = m.header("event_type");
  if (!header || *header != type) bad.push_back("event_type header");
  for (const char* f : {"quantity", "amount"})
    if (p.contains(f) &&
        !(p[f].is_string() && std::regex_match(p[f].get<std::string>(), kDecimal8)))
      bad.push_back(std::string(f) + " not an 8-dp decimal string");

  if (type == "settlement_initiated") {
    for (const char* f : {"trade_id", "buyer_account_id", "seller_account_id", "symbol", "quantity",
                          "amount", "settlement_date"})
      if (!isNonEmptyString(p, f)) bad.push_back(std::string("initiated.") + f);
    auto it = facts.find(str("trade_id"));
    if (it == facts.end()) {
      bad.push_back("initiated.trade_id unknown: " + str("trade_id"));
    } else {
      const TradeFacts& f = it->second;
      if (str("buyer_account_id") != f.buyer) bad.push_back("initiated.buyer_account_id");
      if (str("seller_account_id") != f.seller) bad.push_back("initiated.seller_account_id");
      if (str("symbol") != f.symbol) bad.push_back("initiated.symbol");
      if (str("quantity") != f.quantity)
        bad.push_back("initiated.quantity " + str("quantity") + " != " + f.quantity);
      if (str("amount") != f.amount)
        bad.push_back("initiated.amount " + str("amount") + " != " + f.amount);
      if (str("settlement_date") != f.settlement_date)
        bad.push_back("initiated.settlement_date " + str("settlement_date"));
    }
  } else if (type == "settlement_confirmed") {
    for (const char* f :
         {"dvp_atomic_transaction_id", "buyer_securities_ledger_ref", "seller_cash_ledger_ref"})
      if (!isNonEmptyString(p, f)) bad.push_back(std::string("confirmed.") + f);
  } else if (type == "settlement_failed") {
    if (!isNonEmptyString(p, "failure_reason")) bad.push_back("failed.failure_reason");
    if (!p.contains("retry_count") || !p["retry_count"].is_number_integer() ||
        p["retry_count"].get<int64_t>() < 0)
      bad.push_back("failed.retry_count");
  } else if (std::find(kLifecycle.begin(), kLifecycle.end(), type) == kLifecycle.end() &&
             type != "settlement_partially_settled") {
    bad.push_back("unknown event_type " + type);
  }
  return bad;
}

}  // namespace sc::test

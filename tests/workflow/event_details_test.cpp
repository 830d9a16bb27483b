// The `details` of settlement.events (DESIGN §6) are a public contract: these tests pin every key
// and value of each transition's details, so a rename or a dropped key fails here first.
#include "workflow/event_details.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sc::test {
namespace {

using nlohmann::json;

Decimal dec(std::string_view text) { return *Decimal::parse(text); }

Settlement settlement() {
  Settlement s;
  s.trade.trade_id = "T-1";
  s.trade.buyer_account_id = "ACC-B";
  s.trade.seller_account_id = "ACC-S";
  s.trade.symbol = "AAPL/USD";
  s.trade.quantity = dec("100");
  s.trade.amount = dec("15000.50");
  s.trade.settlement_date = *parseDate("2026-03-05");
  s.dvp_contract_id = "dvp-1";
  return s;
}

ledger::Outcome outcome() {
  ledger::Outcome o;
  o.update_id = "upd-1";
  o.offset = 42;
  o.contract_id = "contract-1";
  o.synchronizer = "securities";
  return o;
}

TEST(EventDetails, InitiatedCarriesTheTradeAndTheCreatedDvp) {
  ledger::Outcome o = outcome();
  o.contract_id = "dvp-9";
  EXPECT_EQ(json::parse(workflow::initiatedDetails(settlement(), o)),
            (json{{"trade_id", "T-1"},
                  {"buyer_account_id", "ACC-B"},
                  {"seller_account_id", "ACC-S"},
                  {"symbol", "AAPL/USD"},
                  {"quantity", "100.00000000"},
                  {"amount", "15000.50000000"},
                  {"settlement_date", "2026-03-05T00:00:00Z"},
                  {"dvp_contract_id", "dvp-9"},
                  {"synchronizer", "securities"},
                  {"update_id", "upd-1"}}));
}

TEST(EventDetails, SecuritiesLockedNamesTheLockAndItsQuantity) {
  ledger::Outcome o = outcome();
  o.quantity = dec("60");
  EXPECT_EQ(json::parse(workflow::securitiesLockedDetails(o)),
            (json{{"seller_securities_ledger_ref", "contract-1"},
                  {"locked_quantity", "60.00000000"},
                  {"synchronizer", "securities"},
                  {"update_id", "upd-1"}}));
}

TEST(EventDetails, CashLockedNamesTheLockAndItsAmount) {
  ledger::Outcome o = outcome();
  o.synchronizer = "cash";
  o.amount = dec("9000.3");
  EXPECT_EQ(json::parse(workflow::cashLockedDetails(o)),
            (json{{"buyer_cash_ledger_ref", "contract-1"},
                  {"locked_amount", "9000.30000000"},
                  {"synchronizer", "cash"},
                  {"update_id", "upd-1"}}));
}

TEST(EventDetails, ExecutingCarriesWhatIsLockedAndWhereTheDvpSits) {
  Settlement s = settlement();
  s.locked_quantity = dec("60");
  s.locked_amount = dec("9000.3");
  ledger::Outcome o = outcome();
  o.synchronizer = "settlement";
  EXPECT_EQ(json::parse(workflow::executingDetails(s, o)), (json{{"synchronizer", "settlement"},
                                                                 {"dvp_contract_id", "dvp-1"},
                                                                 {"quantity", "60.00000000"},
                                                                 {"amount", "9000.30000000"}}));
}

TEST(EventDetails, AFullSettleHasNoRemainderKeys) {
  Settlement s = settlement();
  s.settled_quantity = dec("100");
  s.settled_amount = dec("15000.50");
  ledger::Outcome o = outcome();
  o.quantity = dec("100");
  o.amount = dec("15000.50");
  o.buyer_securities_contract_id = "hold-b";
  o.seller_cash_contract_id = "hold-s";
  EXPECT_EQ(json::parse(workflow::settleDetails(s, o)),
            (json{{"dvp_atomic_transaction_id", "upd-1"},
                  {"buyer_securities_ledger_ref", "hold-b"},
                  {"seller_cash_ledger_ref", "hold-s"},
                  {"ledger_offset", 42},
                  {"quantity", "100.00000000"},
                  {"amount", "15000.50000000"},
                  {"settled_quantity", "100.00000000"},
                  {"settled_amount", "15000.50000000"}}));
}

TEST(EventDetails, APartialSettleAddsWhatRemainsAndTheRemainderDvp) {
  Settlement s = settlement();
  s.settled_quantity = dec("60");
  s.settled_amount = dec("9000.3");
  ledger::Outcome o = outcome();
  o.quantity = dec("60");
  o.amount = dec("9000.3");
  o.buyer_securities_contract_id = "hold-b";
  o.seller_cash_contract_id = "hold-s";
  o.remainder_dvp_contract_id = "dvp-2";
  json d = json::parse(workflow::settleDetails(s, o));
  EXPECT_EQ(d["remaining_quantity"], "40.00000000");
  EXPECT_EQ(d["remaining_amount"], "6000.20000000");
  EXPECT_EQ(d["remainder_dvp_contract_id"], "dvp-2");
  EXPECT_EQ(d["settled_quantity"], "60.00000000");
  EXPECT_EQ(d["quantity"], "60.00000000");
  EXPECT_EQ(d.size(), 11u);
}

TEST(EventDetails, SettledNamesTheVerifiedUpdateAndTheDate) {
  Settlement s = settlement();
  s.dvp_atomic_transaction_id = "upd-7";
  EXPECT_EQ(json::parse(workflow::settledDetails(s, 77)),
            (json{{"dvp_atomic_transaction_id", "upd-7"},
                  {"ledger_offset", 77},
                  {"settlement_date", "2026-03-05"}}));
}

TEST(EventDetails, RecycledCountsTheRetryAndWhatRemains) {
  Settlement s = settlement();
  s.settled_quantity = dec("60");
  s.retry_count = 2;
  s.dvp_contract_id = "dvp-2";
  EXPECT_EQ(json::parse(workflow::recycledDetails(s)), (json{{"recycled", true},
                                                             {"remaining_quantity", "40.00000000"},
                                                             {"retry_count", 2},
                                                             {"dvp_contract_id", "dvp-2"}}));
}

TEST(EventDetails, FailedCarriesTheFailureWhatSettledAndWhatFencedTheRound) {
  Settlement s = settlement();
  s.failure_code = "settlement_timeout";
  s.failure_reason = "deadline passed";
  s.failed_step = "initiated";
  s.retry_count = 1;
  s.settled_quantity = dec("60");
  s.settled_amount = dec("9000.3");
  EXPECT_EQ(json::parse(workflow::failedDetails(s, "locks_released_update_id", "upd-9")),
            (json{{"failure_code", "settlement_timeout"},
                  {"failure_reason", "deadline passed"},
                  {"failed_step", "initiated"},
                  {"retry_count", 1},
                  {"settled_quantity", "60.00000000"},
                  {"settled_amount", "9000.30000000"},
                  {"locks_released_update_id", "upd-9"}}));
  EXPECT_EQ(json::parse(workflow::failedDetails(s, "fenced_command_id",
                                                "x:initiate:0"))["fenced_command_id"],
            "x:initiate:0");
}

TEST(EventDetails, RetriedNamesTheReasonAndWhereItResumes) {
  Settlement s = settlement();
  s.retry_count = 3;
  EXPECT_EQ(json::parse(workflow::retriedDetails(s, "operator", Status::kInitiated)),
            (json{{"retry", true},
                  {"reason", "operator"},
                  {"retry_count", 3},
                  {"resumed_at", "initiated"}}));
}

}  // namespace
}  // namespace sc::test

// The reported reproduction of issue 8's first defect, against the built service: with
// SETTLEMENT_RETRY_ATTEMPTS=0, a partial trade whose seller holds half of it must end FAILED with
// exact settled figures, other trades must keep settling, and SIGTERM must stop the service
// (exit 0). Before the fix a worker spun at PARTIALLY_SETTLED forever.
#include <gtest/gtest.h>

#include "e2e_fixture.h"
#include "support/trade_json.h"

namespace sc::test {
namespace {

class PartialFailureE2e : public E2eTest {
 protected:
  std::map<std::string, std::string> serviceEnv() const override {
    return {{"SETTLEMENT_RETRY_ATTEMPTS", "0"},
            {"SETTLEMENT_RETRY_DELAY_SECONDS", "1"},
            {"SETTLEMENT_WORKERS", "1"}};
  }
  std::string submit(const std::string& trade_id, const std::string& quantity,
                     const std::string& amount, bool allow_partial) {
    TradeEvent t;
    t.trade_id = trade_id;
    t.quantity = quantity;
    t.price = "";
    t.amount = amount;
    t.allow_partial = allow_partial;
    auto r = postTrade(t.text());
    EXPECT_EQ(r.status, 201u) << r.body;
    return r.json().value("settlement_id", "");
  }
};

TEST_F(PartialFailureE2e, PartialTradeWithNoRetriesFailsWithExactFiguresAndOthersSettle) {
  createAccount("acc_buyer");
  createAccount("acc_seller");
  credit("acc_seller", "AAPL", "5");
  credit("acc_buyer", "USDC", "10000");
  std::string half = submit("trd_half", "10", "1500", true);
  Json failed = waitForStatus(half, "failed", std::chrono::seconds(30));
  EXPECT_EQ(failed.value("settled_quantity", ""), "5.00000000") << failed.dump();
  EXPECT_EQ(failed.value("settled_amount", ""), "750.00000000") << failed.dump();
  EXPECT_EQ(failed.value("failure_code", ""), "partial_settlement_incomplete") << failed.dump();

  // The worker is free: a later trade settles.
  credit("acc_seller", "AAPL", "2");
  std::string other = submit("trd_other", "2", "300", false);
  waitForStatus(other, "settled", std::chrono::seconds(30));
  // TearDown checks that SIGTERM stops the service with exit status 0.
  EXPECT_EQ(service().terminate(), 0) << service().logTail();
}

}  // namespace
}  // namespace sc::test

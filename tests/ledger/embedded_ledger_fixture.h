#pragma once
// The fixture of the command-by-command tests of the embedded ledger: a fresh ledger in a temporary
// directory with a buyer and a seller party, and one-line helpers for the commands.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "ledger/engine/embedded_ledger.h"
#include "ledger_test_util.h"

namespace sc::test {

using namespace sc::ledger;

class EmbeddedLedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger = openLedger(dir.path());
    buyer = ledger->allocateParty("buyer").value();
    seller = ledger->allocateParty("seller").value();
  }

  std::string createDvp(const char* qty = "50", const char* amount = "7524") {
    auto r =
        ledger->submitOne("dvp:" + std::to_string(++n), dvpCommand(buyer, seller, qty, amount));
    EXPECT_TRUE(r) << r.error().message;
    return r->contract_id;
  }
  Result<Outcome> lockSec(const std::string& dvp, const char* qty, bool partial = false) {
    return ledger->submitOne("ls:" + std::to_string(++n), LockSecurities{dvp, D(qty), partial});
  }
  Result<Outcome> lockCash(const std::string& dvp, const char* amount) {
    return ledger->submitOne("lc:" + std::to_string(++n), LockCash{dvp, D(amount)});
  }
  // The seller holds 50 AAPL (securities) and the buyer 7524 USDC on `cash_synchronizer`; a DvP of
  // 50 for 7524 between them with both locks taken, not yet reassigned. Returns the DvP.
  std::string lockedDvp(const char* cash_synchronizer) {
    EXPECT_TRUE(ledger->credit(seller, "AAPL", D("50"), "securities"));
    EXPECT_TRUE(ledger->credit(buyer, "USDC", D("7524"), cash_synchronizer));
    std::string dvp = createDvp();
    EXPECT_TRUE(lockSec(dvp, "50"));
    EXPECT_TRUE(lockCash(dvp, "7524"));
    return dvp;
  }
  Result<Outcome> cmd(Command c) {
    return ledger->submitOne("c:" + std::to_string(++n), std::move(c));
  }

  TempDir dir;
  std::unique_ptr<EmbeddedLedger> ledger;
  std::string buyer, seller;
  int n = 0;
};

}  // namespace sc::test

// Operator retry of FAILED and PARTIALLY_SETTLED settlements (POST /settlements/{id}/retry).
// (The workflow on the real store and the real embedded ledger, driven by a fake clock; every test
// ends by checking that the ledger conserved every asset and that its indexes agree with its
// contracts: workflow_fixture.h.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "workflow_fixture.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using S = Status;

class WorkflowRetry : public WorkflowTest {};

TEST_F(WorkflowRetry, RetryOfAFailedSettlementResumesAtPendingWithAFreshDvpAndSettles) {
  credit("acc_seller", "AAPL", "10", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  Settlement s = submit("trd_retry", "50", "7524.00");
  drain();
  Settlement failed = load(s);
  ASSERT_EQ(failed.status, S::kFailed);

  credit("acc_seller", "AAPL", "40", "securities");
  clock_.advance(1h);
  auto r = wf().retry(s.id, "holdings credited");
  ASSERT_TRUE(r.ok()) << r.error().message;
  // Failing archived the DvP with the release (the fence against late commands), so the
  // earliest step whose effect is not in place is creating a DvP.
  EXPECT_EQ(r->status, S::kPending);
  EXPECT_EQ(r->retry_count, failed.retry_count + 1);
  auto old_dvp = ledger_->dvp(failed.dvp_contract_id);
  ASSERT_TRUE(old_dvp.ok() && old_dvp.value().has_value());
  EXPECT_FALSE(old_dvp.value()->active);
  Settlement stored = load(s);
  EXPECT_EQ(stored.status, S::kPending);
  EXPECT_EQ(stored.round, failed.round + 1);
  EXPECT_TRUE(stored.failure_code.empty());
  EXPECT_EQ(stored.deadline_at, clock_.now() + options_.timeout);
  EXPECT_TRUE(stored.dvp_contract_id.empty());

  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kSettled) << now.failure_code << ": " << now.failure_reason;
  auto path = eventStatuses(s);
  expectLegalPath(path);
  EXPECT_EQ(path,
            (std::vector<Status>{S::kPending, S::kInitiated, S::kFailed, S::kPending, S::kInitiated,
                                 S::kSellerSecuritiesLocked, S::kBuyerCashLocked, S::kExecuting,
                                 S::kConfirmed, S::kSettled}));
  EXPECT_NE(load(s).dvp_contract_id, failed.dvp_contract_id);
  auto retried = nlohmann::json::parse(events(s)[3].details);
  EXPECT_EQ(retried["retry"], true);
  EXPECT_EQ(retried["reason"], "holdings credited");
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524"));
  expectLedgerConserved();
}

// A lock that was taken and released in round 0 must not be mistaken for a lock of round 1:
// the retried round's command ids differ, so the ledger does not answer from round 0.
TEST_F(WorkflowRetry, RetryAfterCashFailureLocksAfreshAndSettles) {
  credit("acc_seller", "AAPL", "50", "securities");
  credit("acc_buyer", "USDC", "100", "cash");
  Settlement s = submit("trd_retry_cash", "50", "7524.00");
  drain();
  ASSERT_EQ(load(s).status, S::kFailed);
  ASSERT_EQ(load(s).failure_code, "insufficient_cash");

  credit("acc_buyer", "USDC", "7424", "cash");
  ASSERT_TRUE(wf().retry(s.id, "cash credited").ok());
  drain();
  Settlement now = load(s);
  EXPECT_EQ(now.status, S::kSettled) << now.failure_code << ": " << now.failure_reason;
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("7524"));
  expectLedgerConserved();
}

TEST_F(WorkflowRetry, RetryOfAFailedSettlementWithoutDvpResumesAtPending) {
  creditTheStandardTrade();
  ledger_->setOutage("settlement", true);  // the DvP cannot even be created
  Settlement s = submit("trd_retry_pending", "50", "7524.00");
  Settlement now = load(s);
  for (int i = 0; i < 10 && now.status != S::kFailed; ++i) {
    clock_.set(std::max(clock_.now(), now.next_attempt_at));
    drain();
    now = load(s);
  }
  ASSERT_EQ(now.status, S::kFailed);
  EXPECT_EQ(now.failed_step, "pending");
  EXPECT_TRUE(now.dvp_contract_id.empty());

  ledger_->setOutage("settlement", false);
  auto r = wf().retry(s.id, "synchronizer back");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, S::kPending);
  drain();
  EXPECT_EQ(load(s).status, S::kSettled);
  expectLedgerConserved();
}

TEST_F(WorkflowRetry, RetryOfASettlementThatIsNotFailedIsInvalidState) {
  creditTheStandardTrade();
  Settlement pending = submit("trd_not_failed_1", "10", "1000");
  auto r = wf().retry(pending.id, "why not");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_state");
  EXPECT_NE(r.error().message.find("pending"), std::string::npos) << r.error().message;

  drain();
  ASSERT_EQ(load(pending).status, S::kSettled);
  r = wf().retry(pending.id, "again");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_state");
  EXPECT_NE(r.error().message.find("settled"), std::string::npos) << r.error().message;
  EXPECT_EQ(load(pending).retry_count, 0);
  EXPECT_EQ(eventStatuses(pending), kHappyPath);

  auto missing = wf().retry(Uuid::generateV7(), "ghost");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "settlement_not_found");
  expectLedgerConserved();
}

}  // namespace
}  // namespace sc::test

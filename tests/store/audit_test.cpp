// Migration 0005 against PostgreSQL: the audit log (filters, keyset pages), credit idempotency
// claims, and one account per canton_party (a clear error, not a raw unique violation).
#include <gtest/gtest.h>

#include "store/errors.h"
#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

class AuditStore : public StoreTest {
 protected:
  AuditEntry entry(const std::string& actor, const std::string& action, int s) {
    AuditEntry e;
    e.at = at(s);
    e.actor = actor;
    e.role = "operator";
    e.action = action;
    e.target = "acc_" + std::to_string(s);
    e.request_id = "req-" + std::to_string(s);
    e.remote_address = "10.0.0.1";
    e.outcome = "succeeded";
    e.status = 201;
    return e;
  }
};

TEST_F(AuditStore, ListsNewestFirstWithFiltersAndAKeysetCursor) {
  auto& audit = database_->audit();
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(
        audit.record(entry(i % 2 ? "bob" : "ann", i < 3 ? "account.create" : "ledger.credit", i)));
  auto all = audit.list({});
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].target, "acc_4");
  EXPECT_EQ((*all)[0].at, at(4));
  EXPECT_EQ((*all)[0].remote_address, "10.0.0.1");
  AuditQuery q;
  q.actor = "ann";
  q.limit = 2;
  auto page1 = audit.list(q);
  ASSERT_EQ(page1->size(), 2u);
  EXPECT_EQ((*page1)[0].target, "acc_4");
  EXPECT_EQ((*page1)[1].target, "acc_2");
  q.before_id = page1->back().id;
  auto page2 = audit.list(q);
  ASSERT_EQ(page2->size(), 1u);
  EXPECT_EQ((*page2)[0].target, "acc_0");
  AuditQuery window;
  window.action = "account.create";
  window.since = at(1);
  window.until = at(2);
  auto w = audit.list(window);
  ASSERT_EQ(w->size(), 1u);
  EXPECT_EQ((*w)[0].target, "acc_1");
}

TEST_F(AuditStore, AnIdempotencyKeyIsClaimedOnceAndRemembersItsAnswer) {
  auto& credits = database_->creditRequests();
  EXPECT_EQ(credits.claim("k1", "sha-a")->kind, CreditClaim::Kind::kClaimed);
  EXPECT_EQ(credits.claim("k1", "sha-a")->kind, CreditClaim::Kind::kPending);
  EXPECT_EQ(credits.claim("k1", "sha-b")->kind, CreditClaim::Kind::kOtherBody);
  ASSERT_TRUE(credits.complete("k1", 201, "{\"ok\":1}"));
  auto done = credits.claim("k1", "sha-a");
  EXPECT_EQ(done->kind, CreditClaim::Kind::kDone);
  EXPECT_EQ(done->status, 201);
  EXPECT_EQ(done->response, "{\"ok\":1}");
  EXPECT_EQ(credits.claim("k2", "sha-a")->kind, CreditClaim::Kind::kClaimed);
  ASSERT_TRUE(credits.release("k2"));
  EXPECT_EQ(credits.claim("k2", "sha-c")->kind, CreditClaim::Kind::kClaimed);
  ASSERT_TRUE(credits.release("k1"));  // a finished key is never released
  EXPECT_EQ(credits.claim("k1", "sha-a")->kind, CreditClaim::Kind::kDone);
}

TEST_F(AuditStore, TwoAccountsCannotShareACantonParty) {
  auto& accounts = database_->accounts();
  ASSERT_TRUE(accounts.create(Account{"acc_a", "party::1", AccountStatus::kActive, {}}));
  auto alias = accounts.create(Account{"acc_b", "party::1", AccountStatus::kActive, {}});
  ASSERT_FALSE(alias);
  EXPECT_EQ(alias.error().code, kPartyTaken);
  EXPECT_EQ(alias.error().field, "canton_party");
  auto dup = accounts.create(Account{"acc_a", "party::2", AccountStatus::kActive, {}});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, kAccountExists);
}

// An account holder's scope is a WHERE clause: total counts only the visible settlements.
TEST_F(AuditStore, AScopedListCountsOnlyTheVisibleAccounts) {
  addAccount("acc_x");
  addAccount("acc_y");
  create(trade("trd_1"), at(0));
  create(trade("trd_2", "acc_x", "acc_y"), at(1));
  create(trade("trd_3", "acc_y", "acc_x"), at(2));
  store::ListQuery q;
  q.visible_accounts = std::vector<std::string>{"acc_x"};
  q.limit = 1;
  auto page = repo().list(q);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->total, 2);
  ASSERT_EQ(page->settlements.size(), 1u);
  EXPECT_EQ(page->settlements[0].trade.trade_id, "trd_3");
  q.visible_accounts = std::vector<std::string>{};
  EXPECT_EQ(repo().list(q)->total, 0);
  q.visible_accounts.reset();
  EXPECT_EQ(repo().list(q)->total, 3);
}

}  // namespace
}  // namespace sc::test

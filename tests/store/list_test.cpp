// list(): filters (account as buyer or seller, statuses, inclusive dates), order, total, pages.
#include <gtest/gtest.h>

#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

class List : public StoreTest {
 protected:
  // 12 settlements, created one second apart (trd_00 oldest). Accounts rotate A/B/C as
  // buyer/seller, settlement dates 2024-11-19 + (i % 4) days, and every third one is INITIATED.
  void SetUp() override {
    StoreTest::SetUp();
    if (HasFatalFailure()) return;
    for (auto id : {"acc_a", "acc_b", "acc_c"}) addAccount(id);
    const char* accounts[] = {"acc_a", "acc_b", "acc_c"};
    for (int i = 0; i < 12; ++i) {
      Trade t = trade("trd_" + std::string(i < 10 ? "0" : "") + std::to_string(i), accounts[i % 3],
                      accounts[(i + 1) % 3], i);
      t.settlement_date = Date{std::chrono::year{2024} / 11 / 19} + std::chrono::days(i % 4);
      Settlement s = create(t, at(i));
      if (i % 3 == 0) {
        Settlement n = s;
        n.status = Status::kInitiated;
        n.updated_at = at(100);
        store::StateWrite w{n, Status::kPending, "{}"};
        ASSERT_TRUE(repo().write(std::span<const store::StateWrite>(&w, 1)).ok());
      }
      all_.push_back(s);
    }
  }
  std::vector<std::string> tradeIds(const store::SettlementPage& p) {
    std::vector<std::string> out;
    for (auto& s : p.settlements) out.push_back(s.trade.trade_id);
    return out;
  }
  store::SettlementPage list(const store::ListQuery& q) {
    auto r = repo().list(q);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : store::SettlementPage{};
  }
  std::vector<Settlement> all_;
};

TEST_F(List, NoFilterListsEverythingNewestFirst) {
  auto p = list({});
  EXPECT_EQ(p.total, 12);
  ASSERT_EQ(p.settlements.size(), 12u);
  EXPECT_EQ(p.settlements.front().trade.trade_id, "trd_11");
  EXPECT_EQ(p.settlements.back().trade.trade_id, "trd_00");
}

TEST_F(List, AccountMatchesBuyerOrSeller) {
  store::ListQuery q;
  q.account_id = "acc_a";  // buyer at i%3==0, seller at i%3==2
  auto p = list(q);
  EXPECT_EQ(p.total, 8);
  EXPECT_EQ(tradeIds(p), (std::vector<std::string>{"trd_11", "trd_09", "trd_08", "trd_06", "trd_05",
                                                   "trd_03", "trd_02", "trd_00"}));
}

TEST_F(List, StatusesAreAnyOf) {
  store::ListQuery q;
  q.statuses = {Status::kInitiated};
  auto p = list(q);
  EXPECT_EQ(tradeIds(p), (std::vector<std::string>{"trd_09", "trd_06", "trd_03", "trd_00"}));
  q.statuses = {Status::kInitiated, Status::kPending};
  EXPECT_EQ(list(q).total, 12);
  q.statuses = {Status::kSettled};
  EXPECT_EQ(list(q).total, 0);
}

TEST_F(List, DateRangeIsInclusive) {
  store::ListQuery q;
  q.start_date = Date{std::chrono::year{2024} / 11 / 20};
  q.end_date = Date{std::chrono::year{2024} / 11 / 21};  // i % 4 in {1, 2}
  auto p = list(q);
  EXPECT_EQ(tradeIds(p),
            (std::vector<std::string>{"trd_10", "trd_09", "trd_06", "trd_05", "trd_02", "trd_01"}));
  store::ListQuery only_start;
  only_start.start_date = Date{std::chrono::year{2024} / 11 / 22};
  EXPECT_EQ(list(only_start).total, 3);
}

TEST_F(List, FiltersCombineAndPagesKeepTheTotal) {
  store::ListQuery q;
  q.account_id = "acc_b";           // buyer at i%3==1, seller at i%3==0
  q.statuses = {Status::kPending};  // drops i%3==0
  q.limit = 2;
  auto p1 = list(q);
  EXPECT_EQ(p1.total, 4);
  EXPECT_EQ(tradeIds(p1), (std::vector<std::string>{"trd_10", "trd_07"}));
  q.offset = 2;
  EXPECT_EQ(tradeIds(list(q)), (std::vector<std::string>{"trd_04", "trd_01"}));
  q.offset = 4;
  auto empty = list(q);
  EXPECT_EQ(empty.total, 4);
  EXPECT_TRUE(empty.settlements.empty());
}

TEST_F(List, ACursorContinuesAfterTheLastRowOfThePreviousPage) {
  store::ListQuery q;
  q.limit = 5;
  auto p1 = list(q);
  EXPECT_TRUE(p1.more);
  EXPECT_EQ(p1.total, 12);
  ASSERT_EQ(p1.settlements.size(), 5u);
  q.after = store::ListQuery::After{p1.settlements.back().created_at, p1.settlements.back().id};
  auto p2 = list(q);
  EXPECT_EQ(p2.total, 12);  // the filters' matches, not what is left
  EXPECT_EQ(tradeIds(p2),
            (std::vector<std::string>{"trd_06", "trd_05", "trd_04", "trd_03", "trd_02"}));
  EXPECT_TRUE(p2.more);
  q.after = store::ListQuery::After{p2.settlements.back().created_at, p2.settlements.back().id};
  auto p3 = list(q);
  EXPECT_EQ(tradeIds(p3), (std::vector<std::string>{"trd_01", "trd_00"}));
  EXPECT_FALSE(p3.more);
  // With filters: the cursor applies within them.
  store::ListQuery b;
  b.account_id = "acc_b";
  b.limit = 3;
  auto b1 = list(b);
  b.after = store::ListQuery::After{b1.settlements.back().created_at, b1.settlements.back().id};
  auto b2 = list(b);
  EXPECT_EQ(b1.total, 8);
  EXPECT_EQ(tradeIds(b1), (std::vector<std::string>{"trd_10", "trd_09", "trd_07"}));
  EXPECT_EQ(tradeIds(b2), (std::vector<std::string>{"trd_06", "trd_04", "trd_03"}));
}

TEST_F(List, ACursorBetweenRowsWithTheSameCreatedAtUsesTheId) {
  Settlement a = create(trade("trd_same_1"), at(500));
  Settlement b = create(trade("trd_same_2"), at(500));
  store::ListQuery q;
  q.limit = 1;
  auto p1 = list(q);
  ASSERT_EQ(p1.settlements.size(), 1u);
  q.after = store::ListQuery::After{p1.settlements[0].created_at, p1.settlements[0].id};
  auto p2 = list(q);
  ASSERT_EQ(p2.settlements.size(), 1u);
  EXPECT_NE(p2.settlements[0].id, p1.settlements[0].id);
  EXPECT_EQ(p2.settlements[0].created_at, at(500));
  EXPECT_LT(p2.settlements[0].id, p1.settlements[0].id);
}

TEST_F(List, TheTotalStopsCountingAtTheCap) {
  store::ListQuery q;
  q.limit = 1;
  EXPECT_FALSE(list(q).total_capped);
  // kListCountCap more copies of trd_00 (new ids and trade ids), in one statement.
  auto c = pg::Connection::connect(db_.conninfo());
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto r = (*c)->exec(
      "INSERT INTO settlements SELECT (jsonb_populate_record(NULL::settlements, to_jsonb(s) || "
      "jsonb_build_object('id', gen_random_uuid(), 'trade_id', 'bulk_' || g))).* "
      "FROM settlements s, generate_series(1, $1::int) g WHERE s.trade_id = 'trd_00'",
      {std::to_string(store::kListCountCap)});
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto capped = list(q);
  EXPECT_TRUE(capped.total_capped);
  EXPECT_EQ(capped.total, store::kListCountCap);
  EXPECT_TRUE(capped.more);
  q.account_id = "acc_c";  // a filter below the cap counts exactly
  EXPECT_FALSE(list(q).total_capped);
}

TEST_F(List, SameCreatedAtIsOrderedByIdDescending) {
  Settlement a = create(trade("trd_same_1"), at(500));
  Settlement b = create(trade("trd_same_2"), at(500));
  store::ListQuery q;
  q.limit = 2;
  auto p = list(q);
  ASSERT_EQ(p.settlements.size(), 2u);
  EXPECT_EQ(p.settlements[0].id, std::max(a.id, b.id));
  EXPECT_EQ(p.settlements[1].id, std::min(a.id, b.id));
}

// The dashboard's stuck list: active settlements past their deadline (CONFIRMED excepted), waiting
// for a retry, or with many attempts at their step; never settled or failed ones.
TEST_F(List, StuckMatchesPastDeadlineRetryingOrManyStepAttempts) {
  auto current = [&](int i) {
    auto s = repo().find(all_[static_cast<size_t>(i)].id);
    EXPECT_TRUE(s.ok() && s->has_value());
    return **s;
  };
  auto write = [&](std::vector<store::StateWrite> w) {
    auto r = repo().write(w);
    ASSERT_TRUE(r.ok()) << r.error().message;
    for (bool held : *r) ASSERT_TRUE(held);
  };
  Settlement retrying = current(1);  // pending, its first retry due at 120 s
  retrying.step_attempt = 1;
  retrying.next_attempt_at = at(120);
  retrying.last_error = "ledger unavailable";
  write({{retrying, Status::kPending}});
  Settlement attempted = current(2);  // pending, three attempts made, due now
  attempted.step_attempt = 3;
  attempted.next_attempt_at = at(10);
  write({{attempted, Status::kPending}});
  Settlement failed = current(4);
  failed.status = Status::kFailed;
  failed.failure_code = "insufficient_securities";
  failed.failed_at = at(50);
  write({{failed, Status::kPending}});
  // trd_07 confirmed (in one chained write), waiting for a later settlement date.
  std::vector<store::StateWrite> chain;
  Settlement c = current(7);
  for (Status to : {Status::kInitiated, Status::kSellerSecuritiesLocked, Status::kBuyerCashLocked,
                    Status::kExecuting, Status::kConfirmed}) {
    Status from = c.status;
    c.status = to;
    chain.push_back({c, from});
  }
  write(chain);

  store::ListQuery q;
  q.stuck = store::ListQuery::Stuck{at(60)};
  EXPECT_EQ(tradeIds(list(q)), (std::vector<std::string>{"trd_02", "trd_01"}));
  q.stuck = store::ListQuery::Stuck{at(200)};  // trd_01's retry is due: no longer waiting
  EXPECT_EQ(tradeIds(list(q)), (std::vector<std::string>{"trd_02"}));
  q.stuck->min_step_attempts = 1;
  EXPECT_EQ(tradeIds(list(q)), (std::vector<std::string>{"trd_02", "trd_01"}));
  // Past every deadline (5 minutes after creation): every active one but the confirmed trd_07;
  // the failed trd_04 is not stuck, it rests.
  q.stuck = store::ListQuery::Stuck{at(400)};
  auto p = list(q);
  EXPECT_EQ(p.total, 10);
  auto ids = tradeIds(p);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "trd_07"), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "trd_04"), 0);
  // It combines with the other filters and the account scope like any filter.
  q.statuses = {Status::kInitiated};
  EXPECT_EQ(tradeIds(list(q)), (std::vector<std::string>{"trd_09", "trd_06", "trd_03", "trd_00"}));
  q.statuses = {Status::kPending};
  q.visible_accounts = std::vector<std::string>{"acc_b"};  // acc_b buys in trd_01 and trd_10
  EXPECT_EQ(tradeIds(list(q)), (std::vector<std::string>{"trd_10", "trd_01"}));
}

}  // namespace
}  // namespace sc::test

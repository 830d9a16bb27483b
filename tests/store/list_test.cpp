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

}  // namespace
}  // namespace sc::test

// countPending(): the Kafka consumer's back-pressure probe, polled every 500 ms, counts only the
// PENDING rows through an index instead of grouping every settlement.
#include <gtest/gtest.h>

#include "store/pool.h"
#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

class CountPending : public StoreTest {
 protected:
  int64_t pendingByStatus() {
    auto counts = repo().countByStatus();
    EXPECT_TRUE(counts.ok());
    for (auto& [s, n] : *counts)
      if (s == Status::kPending) return n;
    return 0;
  }
  void moveTo(Settlement s, Status to) {
    Status from = s.status;
    s.status = to;
    store::StateWrite w{s, from, "{}"};
    ASSERT_EQ(*repo().write(std::span<const store::StateWrite>(&w, 1)), std::vector<bool>{true});
  }
};

TEST_F(CountPending, CountsOnlyPendingSettlements) {
  EXPECT_EQ(*repo().countPending(), 0);
  std::vector<Trade> trades;
  for (int i = 0; i < 6; ++i) trades.push_back(trade("trd_" + std::to_string(i)));
  auto created = *repo().intake(trades, kT0, kDeadline);
  EXPECT_EQ(*repo().countPending(), 6);
  moveTo(created[0].settlement, Status::kInitiated);
  moveTo(created[1].settlement, Status::kFailed);
  ASSERT_EQ(repo().leaseDue(at(1), 1, std::chrono::seconds(30), 0)->size(), 1u);  // still pending
  EXPECT_EQ(*repo().countPending(), 4);
  EXPECT_EQ(*repo().countPending(), pendingByStatus());
}

TEST_F(CountPending, IsServedByAnIndex) {
  auto c = database_->pool().lease();
  ASSERT_TRUE(c.ok());
  // Tiny tables make a sequential scan cheapest; forbid it to see whether an index can serve.
  ASSERT_TRUE((*c)->script("SET enable_seqscan = off").ok());
  auto plan = (*c)->exec("EXPLAIN SELECT count(*) FROM settlements WHERE status = 'pending'");
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  std::string text;
  for (int i = 0; i < plan->size(); ++i) text += std::string(plan->text(i, 0)) + "\n";
  EXPECT_NE(text.find("settlements_status_idx"), std::string::npos) << text;
  EXPECT_EQ(text.find("Seq Scan"), std::string::npos) << text;
  ASSERT_TRUE((*c)->script("RESET enable_seqscan").ok());
}

// Implementations that do not override countPending() (fakes) get it from countByStatus().
class CountsOnly final : public store::SettlementRepository {
 public:
  Result<std::vector<store::IntakeOutcome>> intake(std::span<const Trade>, Timestamp,
                                                   Duration) override {
    return std::vector<store::IntakeOutcome>{};
  }
  Result<std::optional<Settlement>> find(const Uuid&) override {
    return std::optional<Settlement>{};
  }
  Result<std::optional<Settlement>> findByTradeId(const std::string&) override {
    return std::optional<Settlement>{};
  }
  Result<store::SettlementPage> list(const store::ListQuery&) override {
    return store::SettlementPage{};
  }
  Result<std::vector<SettlementEvent>> events(const Uuid&) override {
    return std::vector<SettlementEvent>{};
  }
  Result<std::vector<Settlement>> leaseDue(Timestamp, int, Duration, int64_t) override {
    return std::vector<Settlement>{};
  }
  Result<std::optional<int64_t>> leastActiveLedgerFloor() override {
    return std::optional<int64_t>{};
  }
  Result<std::vector<bool>> write(std::span<const store::StateWrite>) override {
    return std::vector<bool>{};
  }
  Result<std::vector<std::pair<Status, int64_t>>> countByStatus() override {
    if (fail) return Error::transient("database_unavailable", "down");
    return std::vector<std::pair<Status, int64_t>>{{Status::kInitiated, 3}, {Status::kPending, 7}};
  }
  bool fail = false;
};

TEST(CountPendingDefault, ComesFromCountByStatus) {
  CountsOnly repo;
  EXPECT_EQ(*repo.countPending(), 7);
  repo.fail = true;
  auto r = repo.countPending();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "database_unavailable");
}

}  // namespace
}  // namespace sc::test

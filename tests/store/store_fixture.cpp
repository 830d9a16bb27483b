#include "store_fixture.h"

namespace sc::test {

using namespace sc::store;

void StoreTest::SetUp() {
  PgDbTest::SetUp();
  if (HasFatalFailure()) return;
  auto d = Database::open(db_.conninfo(), 8);
  ASSERT_TRUE(d.ok()) << d.error().message;
  database_ = std::move(d).value();
  addAccount("acc_buyer");
  addAccount("acc_seller");
}

void StoreTest::addAccount(const std::string& id, bool active) {
  Account a{id, "party::" + id, active ? AccountStatus::kActive : AccountStatus::kInactive, {}};
  auto r = database_->accounts().create(a);
  ASSERT_TRUE(r.ok()) << r.error().message;
}

Trade StoreTest::trade(const std::string& trade_id, const std::string& buyer,
                       const std::string& seller, int n) {
  Trade t;
  t.event_id = "evt_" + trade_id;
  t.trade_id = trade_id;
  t.buyer_account_id = buyer;
  t.seller_account_id = seller;
  t.symbol = "AAPL/USDC";
  t.quantity = Decimal::parse(std::to_string(50 + n) + ".12345678").value();
  t.price = Decimal::parse("150.48").value();
  t.amount = t.quantity.mul(*t.price).value();
  t.settlement_date = Date{std::chrono::year{2024} / 11 / 19};
  t.executed_at = kT0 - std::chrono::seconds(30) + std::chrono::microseconds(7);
  t.allow_partial = (n % 2) == 0;
  return t;
}

Settlement StoreTest::create(const Trade& t, Timestamp now) {
  auto r = repo().intake(std::span<const Trade>(&t, 1), now, kDeadline);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  if (!r.ok()) return {};
  EXPECT_EQ(r->at(0).kind, store::IntakeKind::kCreated)
      << (r->at(0).rejection ? r->at(0).rejection->message : "");
  return r->at(0).settlement;
}

std::vector<Settlement> StoreTest::seed(int n) {
  std::vector<Trade> trades;
  for (int i = 0; i < n; ++i) trades.push_back(trade("trd_" + std::to_string(i)));
  std::vector<Settlement> out;
  auto created = repo().intake(trades, kT0, kDeadline);
  EXPECT_TRUE(created.ok());
  if (!created.ok()) return out;
  for (auto& o : *created) out.push_back(o.settlement);
  return out;
}

void StoreTest::expireLeases(const std::vector<Uuid>& tokens) {
  auto c = pg::Connection::connect(db_.conninfo());
  ASSERT_TRUE(c.ok()) << c.error().message;
  std::vector<std::string> t;
  for (const auto& u : tokens) t.push_back(u.canonical());
  auto r = (*c)->exec(
      "UPDATE settlements SET lease_until = clock_timestamp() - interval '1 microsecond'"
      " WHERE lease_until IS NOT NULL AND ($1::uuid[] = '{}' OR lease_token = ANY($1::uuid[]))",
      {pg::arrayLiteral(t)});
  ASSERT_TRUE(r.ok()) << r.error().message;
}

}  // namespace sc::test

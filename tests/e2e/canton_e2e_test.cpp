// The service in canton mode against the built sc-ledger-sandbox, over HTTP, for what only that
// mode has: the ledger's token and the participant going away (the shared suites run in both
// modes; see e2e_fixture.h).
#include <atomic>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include "domain/decimal.h"
#include "e2e/e2e_fixture.h"

namespace sc::test {
namespace {

class CantonE2e : public E2eTest {
 protected:
  bool useSandbox() const override { return true; }
  std::map<std::string, std::string> serviceEnv() const override {
    return {{"SETTLEMENT_RETRY_DELAY_SECONDS", "1"}, {"SETTLEMENT_RETRY_ATTEMPTS", "100"}};
  }

  HttpResult ready() { return get("/ready"); }
  Decimal balance(const std::string& account, const std::string& asset, const char* which) {
    auto r = get("/accounts/" + account + "/holdings");
    EXPECT_EQ(r.status, 200u) << r.body;
    const auto body = r.json();  // kept: a range over a temporary's member would dangle
    for (const auto& b : body["balances"]) {
      if (b["asset"] == asset) return Decimal::parse(b[which].get<std::string>()).value();
    }
    return Decimal();
  }
  int64_t countWithStatus(const std::string& statuses) {
    auto r =
        get("/settlements?limit=1" + (statuses.empty() ? std::string() : "&status=" + statuses));
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.status == 200 ? r.json()["total"].get<int64_t>() : -1;
  }
  std::string tokenFile() const { return ledger_dir_ + "/token"; }
};

TEST_F(CantonE2e, AWrongTokenShowsInReadyUntilTheFileIsFixed) {
  ASSERT_EQ(ready().status, 200u) << ready().body;
  std::string good;
  {
    std::ifstream in(tokenFile());
    std::getline(in, good);
  }
  std::ofstream(tokenFile(), std::ios::trunc) << "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl\n";
  auto r = ready();
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_NE(r.body.find("UNAUTHENTICATED"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("CANTON_AUTH_TOKEN_FILE"), std::string::npos) << r.body;
  std::ofstream(tokenFile(), std::ios::trunc) << good << "\n";  // re-read on change
  EXPECT_EQ(ready().status, 200u) << ready().body;
}

TEST_F(CantonE2e, ATradeWaitsWhileTheParticipantIsDownAndSettlesWhenItIsBack) {
  createAccount("acc_buyer");
  createAccount("acc_seller");
  credit("acc_seller", "AAPL", "50");
  credit("acc_buyer", "USDC", "7524");
  const uint16_t port = sandbox_->port();
  ASSERT_EQ(sandbox_->terminate(), 0) << sandbox_->logTail();
  auto down = ready();
  EXPECT_EQ(down.status, 503u) << down.body;
  auto r = postTrade(validTrade("trd_canton_down"));
  ASSERT_EQ(r.status, 201u) << r.body;
  const std::string id = r.json()["settlement_id"];
  // Back on the same port (the service was configured with it), with the same data.
  sandbox_->env()["SANDBOX_PORT"] = std::to_string(port);
  ASSERT_TRUE(sandbox_->start()) << sandbox_->error();
  auto settled = waitForStatus(id, "settled", std::chrono::seconds(60));
  EXPECT_EQ(settled.value("settled_quantity", ""), "50.00000000") << settled.dump();
  EXPECT_EQ(ready().status, 200u);
}

// kill -9 of the service mid-load in canton mode: every trade settles exactly once through the
// adapter (the same command ids resubmitted after each restart; the sandbox deduplicates them).
// Each party is funded with exactly what its trades need, so a leg moved twice would fail for
// want of holdings and a trade left out would leave its holdings where they were.
TEST_F(CantonE2e, KilledMidLoadEveryTradeSettlesExactlyOnce) {
  constexpr int kTrades = 150, kBuyers = 25, kSellers = 25, kKills = 4;
  struct Spec {
    std::string id, buyer, seller;
    int qty = 0;
    int64_t cents = 0;  // amount = qty × 101.12
  };
  std::vector<Spec> trades(kTrades);
  std::map<std::string, int64_t> buyer_qty, buyer_cents, seller_qty, seller_cents;
  for (int i = 0; i < kTrades; ++i) {
    Spec& t = trades[i];
    t.id = "trd_kill_" + std::to_string(i);
    t.buyer = "kb_" + std::to_string(i % kBuyers);
    t.seller = "ks_" + std::to_string((i / kBuyers + i * 7) % kSellers);
    t.qty = 1 + i % 5;
    t.cents = t.qty * 10112;
    buyer_qty[t.buyer] += t.qty;
    buyer_cents[t.buyer] += t.cents;
    seller_qty[t.seller] += t.qty;
    seller_cents[t.seller] += t.cents;
  }
  auto cash = [](int64_t cents) {
    return std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") +
           std::to_string(cents % 100);
  };
  for (const auto& [b, cents] : buyer_cents) {
    createAccount(b);
    credit(b, "USDC", cash(cents));
  }
  for (const auto& [s, qty] : seller_qty) {
    createAccount(s);
    credit(s, "AAPL", std::to_string(qty));
  }
  ASSERT_FALSE(HasFailure());

  std::atomic<uint16_t> port{service_->port()};
  std::atomic<int> submitted{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::thread submitter([&] {
    std::unique_ptr<HttpClient> c;
    uint16_t c_port = 0;
    for (const Spec& t : trades) {
      TradeEvent e;
      e.trade_id = t.id;
      e.buyer = t.buyer;
      e.seller = t.seller;
      e.quantity = std::to_string(t.qty);
      e.price = "101.12";
      e.amount = cash(t.cents);
      const std::string body = e.text();
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      for (;;) {
        if (std::chrono::steady_clock::now() > deadline) {
          error = "trade " + t.id + " could not be submitted in 60 s";
          failed = true;
          return;
        }
        try {
          if (!c || c_port != port.load()) {
            c_port = port.load();
            c = std::make_unique<HttpClient>(c_port, "127.0.0.1", std::chrono::seconds(5));
          }
          auto r = c->post("/trades", body, {{"Content-Type", "application/json"}});
          if (r.status == 201 || r.status == 200) break;
          if (r.status < 500) {
            error = "trade " + t.id + ": " + std::to_string(r.status) + " " + r.body;
            failed = true;
            return;
          }
        } catch (const std::exception&) {
          c.reset();  // the service is down: reconnect, perhaps on its new port
        }
        // Paces retries while the service restarts.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ++submitted;
    }
  });
  std::mt19937 rng(std::random_device{}());
  int mid_load = 0;
  for (int k = 0; k < kKills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
    if (submitted < kTrades || countWithStatus("pending,initiated,seller_securities_locked,"
                                               "buyer_cash_locked,executing") > 0)
      ++mid_load;
    service_->kill9();
    ASSERT_TRUE(service_->start()) << service_->error();
    port = service_->port();
    client_ = std::make_unique<HttpClient>(service_->port());
  }
  submitter.join();
  ASSERT_FALSE(failed) << error;
  EXPECT_GE(mid_load, 2) << "the kills landed when nothing ran";

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
  while (countWithStatus("settled") < kTrades && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(countWithStatus("settled"), kTrades) << "in flight: " << countWithStatus("");
  EXPECT_EQ(countWithStatus(""), kTrades);  // one settlement per trade
  EXPECT_EQ(countWithStatus("failed"), 0);
  auto D = [](const std::string& s) { return Decimal::parse(s).value(); };
  for (const auto& [b, qty] : buyer_qty) {
    EXPECT_EQ(balance(b, "AAPL", "free"), D(std::to_string(qty))) << b;
    EXPECT_TRUE(balance(b, "USDC", "free").isZero()) << b;
    EXPECT_TRUE(balance(b, "USDC", "locked").isZero()) << b;
  }
  for (const auto& [s, cents] : seller_cents) {
    EXPECT_EQ(balance(s, "USDC", "free"), D(cash(cents))) << s;
    EXPECT_TRUE(balance(s, "AAPL", "free").isZero()) << s;
    EXPECT_TRUE(balance(s, "AAPL", "locked").isZero()) << s;
  }
}

}  // namespace
}  // namespace sc::test

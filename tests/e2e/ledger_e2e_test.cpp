// End-to-end settlement on the BUILT binary (DESIGN §7): a thousand trades of every kind over
// HTTP, with a synchronizer outage (setSynchronizerDown); and two thousand trades settling while
// the service is killed with SIGKILL again and again. Checked through the API: every settlement's
// state and audit trail, every account's holdings, the ledger's totals. In both modes
// (e2e_fixture.h); in canton mode with a fifth of the trades.
//
// Needs DB_HOST, DB_PORT, DB_USER (./scripts/test, or `./scripts/pg start`): FAILS without them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "domain/decimal.h"
#include "domain/status.h"
#include "domain/time.h"
#include "e2e/e2e_fixture.h"
#include "support/http_client.h"
#include "support/pg_test_db.h"
#include "support/service_process.h"
#include "support/trade_json.h"

namespace sc::test {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

Decimal D(const std::string& s) { return Decimal::parse(s).value(); }

// Polls `done` until it holds or `timeout` passes (the pause between polls only paces them).
bool waitUntil(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

struct TradeSpec {
  std::string trade_id, buyer, seller;
  Decimal quantity, amount;
  Date settlement_date;
  bool allow_partial = false;
  std::string settlement_id;  // once accepted

  Json json(Timestamp executed_at) const {
    TradeEvent t;
    t.trade_id = trade_id;
    t.buyer = buyer;
    t.seller = seller;
    t.quantity = quantity.toString();
    t.price.clear();
    t.amount = amount.toString();
    t.settlement_date = formatDate(settlement_date);
    t.executed_at = formatTimestamp(executed_at);
    t.allow_partial = allow_partial;
    return Json::parse(t.text());
  }
};

// On the embedded ledger, or in canton mode over the sandbox (e2e_fixture.h); each test starts
// the service itself with its own settings.
class LedgerE2e : public E2eTest {
 protected:
  bool startsInSetUp() const override { return false; }
  std::map<std::string, std::string> serviceEnv() const override {
    // The last one is the settlement synchronizer (where DvPs live); "cash2" holds only the cash
    // of the outage trades' buyers.
    return {{"LEDGER_SYNCHRONIZERS", "securities,cash,cash2,settlement"},
            {"SETTLEMENT_RETRY_DELAY_SECONDS", "1"},
            {"SETTLEMENT_LEASE_SECONDS", "1"},
            {"DB_POOL_SIZE", "8"}};
  }

  void SetUp() override {
    E2eTest::SetUp();
    executed_at_ = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()) - 1min;
    today_ = dateOf(executed_at_);
  }

  void credit(const std::string& account, const std::string& asset, Decimal amount,
              const std::string& sync) {
    if (amount.isPositive()) E2eTest::credit(account, asset, amount.toString(), sync);
  }

  // asset → {total, locked}
  std::map<std::string, std::pair<Decimal, Decimal>> totals() {
    auto r = client_->get("/ledger/totals");
    EXPECT_EQ(r.status, 200u) << r.body;
    std::map<std::string, std::pair<Decimal, Decimal>> out;
    const Json body = r.json();  // (a temporary's member would dangle in the loop)
    for (const auto& t : body["totals"]) out[t["asset"]] = {D(t["total"]), D(t["locked"])};
    return out;
  }

  struct Balance {
    Decimal free, locked;
  };
  // asset → balance of one account
  std::map<std::string, Balance> balances(const std::string& account) {
    auto r = client_->get("/accounts/" + account + "/holdings");
    EXPECT_EQ(r.status, 200u) << r.body;
    std::map<std::string, Balance> out;
    const Json body = r.json();
    for (const auto& b : body["balances"]) out[b["asset"]] = {D(b["free"]), D(b["locked"])};
    return out;
  }

  // Settlements still being driven (everything but settled, failed, confirmed-awaiting-date).
  int64_t inFlight() {
    auto r = client_->get(
        "/settlements?limit=1&status=pending,initiated,seller_securities_locked,"
        "buyer_cash_locked,executing,partially_settled");
    if (r.status != 200) return -1;
    return r.json()["total"].get<int64_t>();
  }
  int64_t countWithStatus(const std::string& statuses) {
    auto r = client_->get("/settlements?limit=1" +
                          (statuses.empty() ? std::string() : "&status=" + statuses));
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json()["total"].get<int64_t>();
  }

  // The audit trail is a legal path through the lifecycle, starting with pending.
  std::vector<Status> expectLegalTrail(const std::string& settlement_id) {
    auto r = client_->get("/settlements/" + settlement_id + "/events");
    EXPECT_EQ(r.status, 200u) << r.body;
    std::vector<Status> path;
    const Json body = r.json();
    for (const auto& e : body["events"]) {
      auto st = parseStatus(e["status"].get<std::string>());
      EXPECT_TRUE(st.has_value()) << e.dump();
      if (st) path.push_back(*st);
    }
    EXPECT_FALSE(path.empty()) << settlement_id;
    if (path.empty()) return path;
    EXPECT_EQ(path.front(), Status::kPending) << settlement_id;
    for (size_t i = 1; i < path.size(); ++i)
      EXPECT_TRUE(isAllowedTransition(path[i - 1], path[i]))
          << settlement_id << ": " << toString(path[i - 1]) << " -> " << toString(path[i]);
    return path;
  }

  Timestamp executed_at_{};
  Date today_{};
};

const std::vector<Status> kHappyPath = {
    Status::kPending,         Status::kInitiated, Status::kSellerSecuritiesLocked,
    Status::kBuyerCashLocked, Status::kExecuting, Status::kConfirmed,
    Status::kSettled};

// --- a thousand trades of every kind ------------------------------------------------------------

enum class Kind { kEnough, kNoSecurities, kNoCash, kPartial, kFuture, kOutage };

struct Case {
  TradeSpec t;
  Kind kind;
  Decimal seller_securities, buyer_cash;  // credited
  std::string cash_sync = "cash";
};

TEST_F(LedgerE2e, ThousandTradesOfEveryKindEachReachTheirExpectedState) {
  start({{"SETTLEMENT_RETRY_ATTEMPTS", "6"}, {"SETTLEMENT_TIMEOUT_SECONDS", "900"}});
  if (HasFatalFailure()) return;
  auto t0 = SteadyClock::now();

  const Decimal price = D("1.33333333");
  std::vector<Case> cases;
  auto add = [&](Kind kind, int n, const char* tag) {
    for (int i = 0; i < n; ++i) {
      Case c;
      c.kind = kind;
      std::string id = std::string(tag) + "_" + std::to_string(i);
      c.t.trade_id = "trd_" + id;
      c.t.buyer = "b_" + id;
      c.t.seller = "s_" + id;
      c.t.quantity = Decimal::fromInteger(10 + i % 7).value();
      c.t.amount = c.t.quantity.mul(price).value();
      c.t.settlement_date = today_;
      c.seller_securities = c.t.quantity;
      c.buyer_cash = c.t.amount.add(D("1")).value();
      switch (kind) {
        case Kind::kEnough:
          break;
        case Kind::kNoSecurities:
          c.seller_securities = c.t.quantity.sub(D("1")).value();
          break;
        case Kind::kNoCash:
          c.buyer_cash = c.t.amount.sub(D("1")).value();
          break;
        case Kind::kPartial:
          c.t.allow_partial = true;
          c.seller_securities = c.t.quantity.sub(D("4")).value();
          break;
        case Kind::kFuture:
          c.t.settlement_date = today_ + std::chrono::days(2);
          break;
        case Kind::kOutage:
          c.cash_sync = "cash2";
          break;
      }
      cases.push_back(c);
    }
  };
  // A thousand on the embedded ledger; a fifth of each kind in canton mode (loadCount).
  const int n_enough = loadCount(600), n_nosec = loadCount(100), n_nocash = loadCount(100),
            n_partial = loadCount(50), n_future = loadCount(100), n_outage = loadCount(50);
  const int n_total = n_enough + n_nosec + n_nocash + n_partial + n_future + n_outage;
  add(Kind::kEnough, n_enough, "ok");
  add(Kind::kNoSecurities, n_nosec, "nosec");
  add(Kind::kNoCash, n_nocash, "nocash");
  add(Kind::kPartial, n_partial, "partial");
  add(Kind::kFuture, n_future, "future");
  add(Kind::kOutage, n_outage, "outage");
  ASSERT_EQ(cases.size(), static_cast<size_t>(loadCount(1000)));

  for (const auto& c : cases) {
    createAccount(c.t.buyer);
    createAccount(c.t.seller);
    credit(c.t.seller, "AAPL", c.seller_securities, "securities");
    credit(c.t.buyer, "USDC", c.buyer_cash, c.cash_sync);
    if (HasFailure()) return;
  }
  const auto seeded = totals();
  auto t_seeded = SteadyClock::now();

  auto submit = [&](Case& c) {
    auto r = post("/trades", c.t.json(executed_at_));
    ASSERT_EQ(r.status, 201u) << r.body;
    c.t.settlement_id = r.json()["settlement_id"].get<std::string>();
  };
  for (auto& c : cases) {
    if (c.kind == Kind::kOutage) continue;
    submit(c);
    if (HasFatalFailure()) return;
  }
  // The outage: "cash2", where the outage trades' buyers hold their cash, goes down; their cash
  // cannot be locked, so they retry with backoff until it is back.
  auto down = setSynchronizerDown("cash2", true);
  ASSERT_EQ(down.status, 200u) << down.body;
  for (auto& c : cases) {
    if (c.kind != Kind::kOutage) continue;
    submit(c);
    if (HasFatalFailure()) return;
  }
  bool all_retrying = waitUntil(60s, [&] {
    for (const auto& c : cases) {
      if (c.kind != Kind::kOutage) continue;
      auto s = client_->get("/settlements/" + c.t.settlement_id).json();
      if (s["status"] != "seller_securities_locked" || s["retry_count"].get<int>() < 1)
        return false;
    }
    return true;
  });
  ASSERT_TRUE(all_retrying) << "outage trades did not all start retrying";
  auto up = setSynchronizerDown("cash2", false);
  ASSERT_EQ(up.status, 200u) << up.body;

  ASSERT_TRUE(waitUntil(150s, [&] { return inFlight() == 0; }))
      << inFlight() << " settlements still in flight";
  auto t_done = SteadyClock::now();

  // Each reached exactly its expected state; each account's holdings moved exactly as expected.
  std::map<Kind, int> seen;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.t.trade_id);
    auto s = client_->get("/settlements/" + c.t.settlement_id).json();
    const std::string status = s["status"];
    auto buyer = balances(c.t.buyer);
    auto seller = balances(c.t.seller);
    for (auto* b : {&buyer, &seller})
      for (auto& [asset, bal] : *b) EXPECT_TRUE(bal.locked.isZero()) << asset << " still locked";
    Decimal paid, delivered;
    switch (c.kind) {
      case Kind::kEnough:
      case Kind::kOutage:
        EXPECT_EQ(status, "settled");
        delivered = c.t.quantity;
        paid = c.t.amount;
        break;
      case Kind::kFuture:
        EXPECT_EQ(status, "confirmed");  // settles at the start of its settlement date
        delivered = c.t.quantity;
        paid = c.t.amount;
        break;
      case Kind::kNoSecurities:
        EXPECT_EQ(status, "failed");
        EXPECT_EQ(s["failure_code"], "insufficient_securities");
        break;
      case Kind::kNoCash:
        EXPECT_EQ(status, "failed");
        EXPECT_EQ(s["failure_code"], "insufficient_cash");
        EXPECT_EQ(s["failed_step"], "seller_securities_locked");
        break;
      case Kind::kPartial:
        // The part the seller had settled (pro rata, half-even); the recycled remainder found
        // nothing more to deliver and failed.
        EXPECT_EQ(status, "failed");
        EXPECT_EQ(s["failure_code"], "insufficient_securities");
        delivered = c.seller_securities;
        paid = c.t.amount.mulDiv(delivered, c.t.quantity).value();
        break;
    }
    EXPECT_EQ(D(s["settled_quantity"]), delivered);
    EXPECT_EQ(D(s["settled_amount"]), paid);
    EXPECT_EQ(buyer["AAPL"].free, delivered);
    EXPECT_EQ(seller["AAPL"].free, c.seller_securities.sub(delivered).value());
    EXPECT_EQ(seller["USDC"].free, paid);
    EXPECT_EQ(buyer["USDC"].free, c.buyer_cash.sub(paid).value());
    auto trail = expectLegalTrail(c.t.settlement_id);
    if (!trail.empty()) {
      EXPECT_EQ(toString(trail.back()), status);
    }
    if (c.kind == Kind::kEnough || c.kind == Kind::kOutage) {
      EXPECT_EQ(trail, kHappyPath);  // retries reschedule; they add no audit rows
    }
    if (c.kind == Kind::kOutage) {
      EXPECT_GE(s["retry_count"].get<int>(), 1);
    }
    ++seen[c.kind];
    if (HasFailure()) break;  // one broken case is enough to read
  }
  EXPECT_EQ(countWithStatus(""), n_total);
  EXPECT_EQ(countWithStatus("settled"), n_enough + n_outage);
  EXPECT_EQ(countWithStatus("confirmed"), n_future);
  EXPECT_EQ(countWithStatus("failed"), n_nosec + n_nocash + n_partial);

  // Nothing created or destroyed, nothing left locked.
  auto end = totals();
  EXPECT_EQ(end.size(), seeded.size());
  for (const auto& [asset, tl] : seeded) {
    EXPECT_EQ(end[asset].first, tl.first) << asset;
    EXPECT_TRUE(end[asset].second.isZero()) << asset << " locked " << end[asset].second.toString();
  }
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::cout << "[ timing ] seed " << ms(t_seeded - t0) << " ms, settle " << ms(t_done - t_seeded)
            << " ms, verify " << ms(SteadyClock::now() - t_done) << " ms\n";
}

// --- kill -9 while settling
// ------------------------------------------------------------------------

TEST_F(LedgerE2e, KilledRepeatedlyWhileSettlingEveryTradeSettlesExactlyOnce) {
  start({});
  if (HasFatalFailure()) return;
  // 2,000 on the embedded ledger; a fifth in canton mode (loadCount), still enough to be in
  // flight at every kill there.
  const int kTrades = loadCount(2000), kBuyers = loadCount(200), kSellers = loadCount(200);
  constexpr int kKills = 6;

  std::vector<TradeSpec> trades(kTrades);
  std::map<std::string, Decimal> buyer_qty, buyer_cash, seller_qty, seller_cash;
  for (int i = 0; i < kTrades; ++i) {
    TradeSpec& t = trades[i];
    t.trade_id = "trd_crash_" + std::to_string(i);
    t.buyer = "cb_" + std::to_string(i % kBuyers);
    t.seller = "cs_" + std::to_string((i / kBuyers + i * 7) % kSellers);
    t.quantity = Decimal::fromInteger(1 + i % 9).value();
    t.amount = t.quantity.mul(D("101.12345678")).value();
    t.settlement_date = today_;
    buyer_qty[t.buyer] = buyer_qty[t.buyer].add(t.quantity).value();
    buyer_cash[t.buyer] = buyer_cash[t.buyer].add(t.amount).value();
    seller_qty[t.seller] = seller_qty[t.seller].add(t.quantity).value();
    seller_cash[t.seller] = seller_cash[t.seller].add(t.amount).value();
  }
  // Exactly enough: a trade settled twice (or a leg moved twice) would need holdings that
  // do not exist, and any trade left unsettled leaves them where they were.
  for (auto& [b, cash] : buyer_cash) {
    createAccount(b);
    credit(b, "USDC", cash, "cash");
  }
  for (auto& [s, qty] : seller_qty) {
    createAccount(s);
    credit(s, "AAPL", qty, "securities");
  }
  ASSERT_FALSE(HasFailure());
  const auto seeded = totals();
  auto t0 = SteadyClock::now();

  // Submitter: every trade over HTTP, in order; a failed POST is retried (after a restart the
  // intake answers a trade it already has as a duplicate: 200 with the same settlement).
  std::atomic<uint16_t> port{service_->port()};
  std::atomic<int> submitted{0}, resubmissions{0};
  std::atomic<bool> submit_failed{false};
  std::string submit_error;
  std::thread submitter([&] {
    std::unique_ptr<HttpClient> c;
    uint16_t c_port = 0;
    for (int i = 0; i < kTrades; ++i) {
      std::string body = trades[i].json(executed_at_).dump();
      auto deadline = SteadyClock::now() + 60s;
      for (int attempt = 0;; ++attempt) {
        if (SteadyClock::now() > deadline) {
          submit_error = "trade " + trades[i].trade_id + " could not be submitted in 60 s";
          submit_failed = true;
          return;
        }
        try {
          if (!c || c_port != port.load()) {
            c_port = port.load();
            c = std::make_unique<HttpClient>(c_port, "127.0.0.1", 5s);
          }
          auto r = c->post("/trades", body, {{"Content-Type", "application/json"}});
          if (r.status == 201 || r.status == 200) {
            trades[i].settlement_id = r.json()["settlement_id"].get<std::string>();
            if (attempt > 0) ++resubmissions;
            break;
          }
          if (r.status < 500) {
            submit_error =
                "trade " + trades[i].trade_id + ": " + std::to_string(r.status) + " " + r.body;
            submit_failed = true;
            return;
          }
        } catch (const std::exception&) {
          c.reset();  // the service is down: reconnect (perhaps on its new port)
        }
        std::this_thread::sleep_for(20ms);  // paces retries while the service restarts
      }
      ++submitted;
    }
  });

  // Killer: SIGKILL at random moments while trades are submitted and settled, restart on the
  // same database and ledger folder each time.
  std::mt19937 rng(std::random_device{}());
  int kills = 0, kills_mid_submission = 0, kills_mid_settlement = 0;
  for (; kills < kKills; ++kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 600));
    if (submitted < kTrades) ++kills_mid_submission;
    service_->kill9();
    ASSERT_TRUE(service_->start()) << service_->error();
    port = service_->port();
    client_ = std::make_unique<HttpClient>(service_->port());
    if (inFlight() > 0) ++kills_mid_settlement;
  }
  submitter.join();
  ASSERT_FALSE(submit_failed) << submit_error;
  auto t_submitted = SteadyClock::now();

  ASSERT_TRUE(waitUntil(150s, [&] { return countWithStatus("settled") == kTrades; }))
      << countWithStatus("settled") << " of " << kTrades << " settled; in flight " << inFlight();
  auto t_settled = SteadyClock::now();
  EXPECT_EQ(countWithStatus(""), kTrades);  // one settlement per trade
  EXPECT_EQ(countWithStatus("failed"), 0);

  // Settled exactly once: each buyer holds exactly the securities of its trades and has paid
  // exactly their amounts; each seller the reverse; no lock anywhere.
  for (auto& [b, qty] : buyer_qty) {
    auto bal = balances(b);
    EXPECT_EQ(bal["AAPL"].free, qty) << b;
    EXPECT_TRUE(bal["USDC"].free.isZero()) << b << " kept " << bal["USDC"].free.toString();
    EXPECT_TRUE(bal["AAPL"].locked.isZero() && bal["USDC"].locked.isZero()) << b;
  }
  for (auto& [s, cash] : seller_cash) {
    auto bal = balances(s);
    EXPECT_EQ(bal["USDC"].free, cash) << s;
    EXPECT_TRUE(bal["AAPL"].free.isZero()) << s;
    EXPECT_TRUE(bal["AAPL"].locked.isZero() && bal["USDC"].locked.isZero()) << s;
  }
  auto end = totals();
  for (const auto& [asset, tl] : seeded) {
    EXPECT_EQ(end[asset].first, tl.first) << asset;
    EXPECT_TRUE(end[asset].second.isZero()) << asset;
  }
  // One audit row per state, in order, however often the service died in between.
  int checked = 0;
  for (const auto& t : trades) {
    auto trail = expectLegalTrail(t.settlement_id);
    EXPECT_EQ(trail, kHappyPath) << t.trade_id;
    if (HasFailure()) break;
    ++checked;
  }
  EXPECT_EQ(checked, kTrades);
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::cout << "[ crash  ] " << kills << " kills (" << kills_mid_submission
            << " during submission, " << kills_mid_settlement << " with work in flight), "
            << resubmissions << " resubmitted trades; submit " << ms(t_submitted - t0)
            << " ms, settle " << ms(t_settled - t_submitted) << " ms, verify "
            << ms(SteadyClock::now() - t_settled) << " ms\n";
  EXPECT_GE(kills, 5);
  EXPECT_GE(kills_mid_submission + kills_mid_settlement, 5) << "kills landed when nothing ran";
}

}  // namespace
}  // namespace sc::test

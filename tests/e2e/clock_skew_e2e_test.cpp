// Two instances on one database and one participant (the sandbox), the second one's clock minutes
// off (libfaketime, the Debian package faketime, shifts that process's wall clock only). DESIGN §8:
// settlement times follow the database's clock, so the skewed instance neither fails the other's
// settlements as past their deadline (its clock ahead) nor leaves them undue for minutes (behind),
// and leases still exclude: while the first instance is frozen holding leases, the second takes
// its settlements over only when those leases end, and every trade settles exactly once (checked
// per party on the ledger's holdings, not by totals).
#include <signal.h>

#include <fstream>
#include <regex>

#include "domain/decimal.h"
#include "domain/time.h"
#include "e2e/e2e_fixture.h"

namespace sc::test {
namespace {

constexpr const char* kLibFaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
constexpr int kTrades = 30;

class ClockSkewE2e : public E2eTest, public ::testing::WithParamInterface<int> {
 protected:
  bool useSandbox() const override { return true; }
  std::map<std::string, std::string> serviceEnv() const override {
    return {{"SETTLEMENT_TIMEOUT_SECONDS", "120"},
            {"SETTLEMENT_LEASE_SECONDS", "2"},
            {"SETTLEMENT_RETRY_DELAY_SECONDS", "1"},
            {"LOG_LEVEL", "INFO"}};
  }
  void TearDown() override {
    if (frozen_) ::kill(service().pid(), SIGCONT);
    if (sandbox_ && sandbox_->running()) ::kill(sandbox_->pid(), SIGCONT);
    if (skewed_ && skewed_->running()) {
      EXPECT_EQ(skewed_->terminate(), 0) << skewed_->logTail();
      if (HasFailure()) std::cerr << "skewed instance log:\n" << skewed_->logTail(8000) << "\n";
    }
    E2eTest::TearDown();
  }
  // The first instance's whole environment, the second one's clock shifted by `minutes`.
  void startSkewed(int minutes) {
    ASSERT_EQ(::access(kLibFaketime, R_OK), 0)
        << kLibFaketime << " is missing: scripts/setup installs the Debian package faketime";
    auto env = service().env();
    env["PORT"] = "0";
    env["LD_PRELOAD"] = kLibFaketime;
    env["FAKETIME"] = (minutes >= 0 ? "+" : "") + std::to_string(minutes * 60) + "s";
    env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1";  // only the wall clock is wrong
    env["FAKETIME_NO_CACHE"] = "1";
    skewed_ = std::make_unique<ServiceProcess>(env);
    ASSERT_TRUE(skewed_->start()) << skewed_->error();
  }
  // The first timestamp the skewed instance wrote in its log, minus the real time now.
  std::chrono::seconds skewedLogClockShift() {
    std::ifstream in(skewed_->logPath());
    std::string line;
    std::regex stamp(R"((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z))");
    while (std::getline(in, line)) {
      std::smatch m;
      if (!std::regex_search(line, m, stamp)) continue;
      auto t = parseTimestamp(m[1].str());
      if (!t) continue;
      return std::chrono::duration_cast<std::chrono::seconds>(*t - SystemClock().now());
    }
    return std::chrono::seconds(0);
  }

  std::unique_ptr<ServiceProcess> skewed_;
  bool frozen_ = false;
};

TEST_P(ClockSkewE2e, ASkewedInstanceSettlesTheOthersTradesOnTimeAndLeasesHold) {
  const int minutes = GetParam();
  createAccount("acc_buyer");
  createAccount("acc_seller");
  credit("acc_seller", "AAPL", std::to_string(50 * kTrades), "securities");
  credit("acc_buyer", "USDC", std::to_string(7524 * kTrades), "cash");
  // Trades go in through the first instance while the participant is frozen (SIGSTOP): its
  // workers lease them and wait on the ledger. Then the first instance is frozen with those
  // leases, the participant resumes (and may still execute the commands already sent), and the
  // skewed instance starts: it must wait for the leases' end, then settle every trade, each once.
  ASSERT_EQ(::kill(sandbox_->pid(), SIGSTOP), 0);
  std::vector<std::string> ids;
  for (int i = 0; i < kTrades; ++i) {
    auto r = postTrade(validTrade("trd_skew_" + std::to_string(i)));
    ASSERT_EQ(r.status, 201u) << r.body;
    ids.push_back(r.json()["settlement_id"]);
  }
  ASSERT_EQ(::kill(service().pid(), SIGSTOP), 0);
  frozen_ = true;
  ASSERT_EQ(::kill(sandbox_->pid(), SIGCONT), 0);
  ASSERT_NO_FATAL_FAILURE(startSkewed(minutes));
  // The shift reached the process: its log lines carry its (wrong) wall clock.
  auto shift = skewedLogClockShift();
  EXPECT_NEAR(shift.count(), minutes * 60, 30) << "libfaketime did not shift the instance";
  HttpClient skewed(skewed_->port());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int64_t settled = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = skewed.get("/settlements?status=settled&limit=1");
    settled = r.status == 200 ? r.json().value("total", int64_t{0}) : 0;
    if (settled == kTrades) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling an observable state
  }
  ASSERT_EQ(::kill(service().pid(), SIGCONT), 0);
  frozen_ = false;
  EXPECT_EQ(settled, kTrades) << "failed: "
                              << skewed.get("/settlements?status=failed&limit=3").body;

  // Every settlement's times are on one timeline: settled within the deadline of its creation,
  // and the skewed instance's stamps are not minutes away from the first one's.
  for (const auto& id : ids) {
    auto s = skewed.get("/settlements/" + id).json();
    auto created = parseTimestamp(s.value("created_at", ""));
    auto done = parseTimestamp(s.value("settled_at", ""));
    ASSERT_TRUE(created && done) << s.dump();
    EXPECT_GE(*done, *created) << s.dump();
    EXPECT_LT(*done - *created, Duration(std::chrono::seconds(60))) << s.dump();
  }
  // Exactly once, per party: each trade moved 50 AAPL to the buyer and 7,524 USDC to the seller,
  // and nothing stays locked.
  auto holdings = [&](const std::string& account) {
    std::map<std::string, std::pair<std::string, std::string>> out;  // asset → free, locked
    auto r = skewed.get("/accounts/" + account + "/holdings");
    EXPECT_EQ(r.status, 200u) << r.body;
    const auto body = r.json();  // (a temporary's member would dangle in the loop)
    for (const auto& b : body["balances"])
      out[b["asset"]] = {b["free"].get<std::string>(), b["locked"].get<std::string>()};
    return out;
  };
  auto same = [](const std::string& a, const std::string& b) {
    auto x = Decimal::parse(a), y = Decimal::parse(b);
    return x.ok() && y.ok() && *x == *y;
  };
  auto buyer = holdings("acc_buyer");
  auto seller = holdings("acc_seller");
  EXPECT_TRUE(same(buyer["AAPL"].first, std::to_string(50 * kTrades))) << buyer["AAPL"].first;
  EXPECT_TRUE(same(seller["USDC"].first, std::to_string(7524 * kTrades))) << seller["USDC"].first;
  for (auto* h : {&buyer, &seller})
    for (auto& [asset, b] : *h) {
      EXPECT_TRUE(same(b.second, "0")) << asset << " still locked: " << b.second;
      if ((h == &buyer && asset == "USDC") || (h == &seller && asset == "AAPL"))
        EXPECT_TRUE(same(b.first, "0")) << asset << " left: " << b.first;
    }
  EXPECT_NE(skewed_->logTail(1 << 20).find("the database's: settlement times follow"),
            std::string::npos)
      << "the skewed instance did not notice its clock";
}

INSTANTIATE_TEST_SUITE_P(MinutesOff, ClockSkewE2e, ::testing::Values(10, -10),
                         [](const auto& info) {
                           return info.param > 0 ? std::string("Ahead") : std::string("Behind");
                         });

}  // namespace
}  // namespace sc::test

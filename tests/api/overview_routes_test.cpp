// GET /overview over the in-memory store: counts by status and of stuck settlements, this
// instance's throughput and latency, Kafka lag, relay backlog and role, dependency health — and
// what it says when a source is missing or failing. (The account holder's scoped view and the
// roles are in auth_routes_test.cpp.)
#include <gtest/gtest.h>

#include "api/test_server.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class OverviewApiTest : public ApiServerTest {
 protected:
  // Rewrites the stored settlement `id` with `change` applied (same guard as a manual write).
  void change(const std::string& id, const std::function<void(Settlement&)>& f) {
    auto uuid = Uuid::parsePrefixed(id, kSettlementPrefix);
    ASSERT_TRUE(uuid.has_value());
    auto s = repo.find(*uuid);
    ASSERT_TRUE(s.ok() && s->has_value());
    Settlement next = **s;
    const Status from = next.status;
    f(next);
    store::StateWrite w{next, from, "{}"};
    auto r = repo.write(std::span<const store::StateWrite>(&w, 1));
    ASSERT_TRUE(r.ok() && r->at(0));
  }
  json overviewJson() {
    auto r = http().get("/overview");
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
  }
};

TEST_F(OverviewApiTest, CountsEveryStatusAndTheStuckOnes) {
  std::string a = createSettlement("trd_a");
  std::string b = createSettlement("trd_b");
  createSettlement("trd_c");
  change(a, [&](Settlement& s) {
    s.status = Status::kFailed;
    s.failure_code = "insufficient_cash";
  });
  change(b, [&](Settlement& s) {  // waiting for its second attempt
    s.step_attempt = 1;
    s.next_attempt_at = clock.now() + 30s;
  });
  json o = overviewJson();
  EXPECT_EQ(o["scope"], "all");
  EXPECT_EQ(o["counts"].size(), static_cast<size_t>(kStatusCount));
  EXPECT_EQ(o["counts"]["pending"], 2);
  EXPECT_EQ(o["counts"]["failed"], 1);
  EXPECT_EQ(o["counts"]["settled"], 0);
  EXPECT_EQ(o["counts_capped"], json::array());
  EXPECT_EQ(o["active"], 2);
  EXPECT_EQ(o["stuck"], 1);
  EXPECT_EQ(o["stuck_min_step_attempts"], 3);
  EXPECT_EQ(o["generated_at"], formatTimestamp(clock.now()));
  // The stuck list is GET /settlements?stuck=true: the same one.
  auto list = http().get("/settlements?stuck=true").json();
  ASSERT_EQ(list["settlements"].size(), 1u);
  EXPECT_EQ(list["settlements"][0]["settlement_id"], b);
  EXPECT_EQ(list["settlements"][0]["step_attempt"], 1);
  EXPECT_EQ(list["settlements"][0]["next_attempt_at"], formatTimestamp(clock.now() + 30s));
  // Past its deadline (300 s), the third one is stuck too; the failed one never is.
  clock.advance(301s);
  EXPECT_EQ(overviewJson()["stuck"], 2);
}

TEST_F(OverviewApiTest, ReportsRatesLatencyLagBacklogRoleAndHealthFromItsSources) {
  workflow::Throughput t;
  t.accepted(clock.now() - 2s, 6);
  t.confirmed(clock.now() - 2s, 40ms);
  t.settled(clock.now() - 2s, 3);
  overview.throughput = &t;
  overview.consumer_lag = [] { return std::optional<int64_t>(42); };
  overview.relay_backlog = []() -> Result<int64_t> { return int64_t{7}; };
  overview.health = {{"database", []() -> Result<void> { return {}; }},
                     {"ledger",
                      []() -> Result<void> {
                        return Error::transient("ledger_unavailable", "synchronizer cash is down");
                      }},
                     {"kafka", {}}};
  ready_details = [] { return std::map<std::string, std::string>{{"relay", "leader"}}; };
  json o = overviewJson();
  EXPECT_EQ(o["throughput"]["window_seconds"], 60);
  EXPECT_EQ(o["throughput"]["trades_accepted"], 6);
  EXPECT_DOUBLE_EQ(o["throughput"]["trades_accepted_per_second"].get<double>(), 0.1);
  EXPECT_EQ(o["throughput"]["settlements_confirmed"], 1);
  EXPECT_EQ(o["throughput"]["settlements_settled"], 3);
  ASSERT_EQ(o["throughput"]["series"].size(), 60u);
  EXPECT_EQ(o["throughput"]["series"][58]["accepted"], 6);  // two seconds ago
  EXPECT_EQ(o["confirmation_latency"]["window_seconds"], 300);
  EXPECT_EQ(o["confirmation_latency"]["count"], 1);
  EXPECT_GE(o["confirmation_latency"]["p50_ms"].get<double>(), 40.0);
  EXPECT_LE(o["confirmation_latency"]["p50_ms"].get<double>(), 45.0);
  EXPECT_DOUBLE_EQ(o["confirmation_latency"]["max_ms"].get<double>(), 40.0);
  EXPECT_EQ(o["kafka"]["consumer_lag"], 42);
  EXPECT_EQ(o["relay"]["role"], "leader");
  EXPECT_EQ(o["relay"]["backlog"], 7);
  ASSERT_EQ(o["health"].size(), 3u);
  EXPECT_EQ(o["health"][0], (json{{"name", "database"}, {"status", "ok"}}));
  EXPECT_EQ(o["health"][1]["status"], "unavailable");
  EXPECT_EQ(o["health"][1]["code"], "ledger_unavailable");
  EXPECT_EQ(o["health"][1]["message"], "synchronizer cash is down");
  EXPECT_EQ(o["health"][2], (json{{"name", "kafka"}, {"status", "off"}}));
}

TEST_F(OverviewApiTest, WithoutSourcesTheLiveFiguresAreNullAndTheRelayOff) {
  json o = overviewJson();
  EXPECT_TRUE(o["throughput"].is_null());
  EXPECT_TRUE(o["confirmation_latency"].is_null());
  EXPECT_TRUE(o["kafka"]["consumer_lag"].is_null());
  EXPECT_EQ(o["relay"]["role"], "off");
  EXPECT_TRUE(o["relay"]["backlog"].is_null());
  EXPECT_EQ(o["health"], json::array());
  // A lag not known yet (no partition assigned) is null too, and a failing backlog says why.
  overview.consumer_lag = [] { return std::optional<int64_t>(); };
  overview.relay_backlog = []() -> Result<int64_t> {
    return Error::transient("database_unavailable", "connection refused");
  };
  server->stop();
  server.reset();
  api.reset();
  start();
  o = overviewJson();
  EXPECT_TRUE(o["kafka"]["consumer_lag"].is_null());
  EXPECT_TRUE(o["relay"]["backlog"].is_null());
  EXPECT_EQ(o["relay"]["backlog_error"], "connection refused");
}

TEST_F(OverviewApiTest, AStoreFailureIsA503NamingIt) {
  repo.fail_with = Error::transient("database_unavailable", "connection refused");
  auto r = http().get("/overview");
  EXPECT_EQ(r.status, 503u) << r.body;
  EXPECT_EQ(r.json()["error"]["code"], "database_unavailable");
}

TEST_F(OverviewApiTest, TheStuckFilterOfTheListValidatesItsParameters) {
  for (const char* bad :
       {"/settlements?stuck=yes", "/settlements?stuck=true&min_step_attempts=0",
        "/settlements?stuck=true&min_step_attempts=1001", "/settlements?min_step_attempts=2"}) {
    auto r = http().get(bad);
    EXPECT_EQ(r.status, 400u) << bad;
    EXPECT_EQ(r.json()["error"]["code"], "invalid_parameter") << bad;
  }
  EXPECT_EQ(http().get("/settlements?stuck=1").json()["error"]["field"], "stuck");
  EXPECT_EQ(http().get("/settlements?min_step_attempts=2").json()["error"]["field"],
            "min_step_attempts");
  EXPECT_EQ(http().get("/settlements?stuck=false&min_step_attempts=2").status, 400u);
  std::string id = createSettlement("trd_many");
  change(id, [](Settlement& s) { s.step_attempt = 2; });
  EXPECT_EQ(http().get("/settlements?stuck=true").json()["total"], 0);
  EXPECT_EQ(http().get("/settlements?stuck=true&min_step_attempts=2").json()["total"], 1);
  EXPECT_EQ(http().get("/settlements?stuck=false").json()["total"], 1);  // no filter
}

}  // namespace
}  // namespace sc::test

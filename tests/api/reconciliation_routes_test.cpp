// GET /reconciliation, POST /reconciliation/run and POST /reconciliation/findings/{id}/acknowledge
// over the in-memory stores: the shape the dashboard reads, bad parameters named, operator actions
// audited. (The comparisons themselves: tests/reconciliation.)
#include <gtest/gtest.h>

#include "api/test_server.h"

namespace sc::test {
namespace {

class ReconciliationRoutesTest : public ApiServerTest {
 protected:
  // A settlement marked SETTLED behind the service's back: the ledger has no settle for it.
  std::string tamperedSettlement() {
    std::string id = createSettlement("trd_tampered");
    auto uuid = Uuid::parsePrefixed(id, kSettlementPrefix);
    EXPECT_TRUE(uuid);
    auto row = repo.row(*uuid);
    EXPECT_TRUE(row);
    row->status = Status::kSettled;
    row->settled_quantity = row->trade.quantity;
    row->settled_amount = row->trade.amount;
    repo.put(*row);
    return id;
  }
};

TEST_F(ReconciliationRoutesTest, CleanBeforeAnyPassWithEveryKindCounted) {
  auto r = http().get("/reconciliation");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["status"], "clean");
  EXPECT_TRUE(j["last_pass_at"].is_null());
  EXPECT_EQ(j["passes"], 0);
  EXPECT_EQ(j["checked_settlements"], 0);
  EXPECT_EQ(j["watermark"], 0);
  EXPECT_EQ(j["open_by_kind"].size(), 11u);
  EXPECT_EQ(j["open_by_kind"]["ledger_settle_missing"], 0);
  EXPECT_EQ(j["open_by_kind"]["ledger_range_pruned"], 0);
  EXPECT_EQ(j["open_by_kind"]["event_forged"], 0);
  EXPECT_TRUE(j["findings"].empty());
}

TEST_F(ReconciliationRoutesTest, RunReportsTheDriftAndGetShowsTheFinding) {
  std::string id = tamperedSettlement();
  auto run = http().post("/reconciliation/run", "");
  ASSERT_EQ(run.status, 200u) << run.body;
  EXPECT_EQ(run.json()["raised"], 1);
  EXPECT_EQ(run.json()["checked"], 1);
  EXPECT_TRUE(run.json()["blocked"].is_null());

  auto j = http().get("/reconciliation").json();
  EXPECT_EQ(j["status"], "drift");
  EXPECT_EQ(j["passes"], 1);
  EXPECT_EQ(j["open_by_kind"]["ledger_settle_missing"], 1);
  ASSERT_EQ(j["findings"].size(), 1u);
  const auto& f = j["findings"][0];
  EXPECT_EQ(f["kind"], "ledger_settle_missing");
  EXPECT_EQ(f["settlement_id"], id);
  EXPECT_EQ(f["trade_id"], "trd_tampered");
  EXPECT_EQ(f["status"], "open");
  EXPECT_EQ(f["evidence"]["database"]["status"], "settled");
  EXPECT_TRUE(f["acknowledged_by"].is_null());
  EXPECT_TRUE(f["acknowledged_at"].is_null());
  EXPECT_TRUE(f["found_at"].is_string());

  EXPECT_EQ(http().get("/reconciliation?status=open").json()["findings"].size(), 1u);
  EXPECT_EQ(http().get("/reconciliation?status=resolved").json()["findings"].size(), 0u);
  EXPECT_EQ(http().get("/reconciliation?kind=event_missing").json()["findings"].size(), 0u);
}

TEST_F(ReconciliationRoutesTest, AcknowledgeClosesAnOpenFindingOnceAndIsAudited) {
  tamperedSettlement();
  ASSERT_EQ(http().post("/reconciliation/run", "").status, 200u);
  auto id = http().get("/reconciliation").json()["findings"][0]["id"].get<int64_t>();
  const std::string path = "/reconciliation/findings/" + std::to_string(id) + "/acknowledge";

  auto ack = http().post(path, R"({"note":"corrected by hand"})");
  ASSERT_EQ(ack.status, 200u) << ack.body;
  EXPECT_EQ(ack.json()["status"], "acknowledged");
  EXPECT_EQ(ack.json()["acknowledged_by"], "anonymous");
  EXPECT_EQ(ack.json()["note"], "corrected by hand");
  EXPECT_TRUE(ack.json()["acknowledged_at"].is_string());
  EXPECT_EQ(http().get("/reconciliation").json()["status"], "clean");

  auto again = http().post(path, "");
  EXPECT_EQ(again.status, 409u);
  EXPECT_EQ(again.json()["error"]["code"], "finding_not_open");
  auto missing = http().post("/reconciliation/findings/999/acknowledge", "");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.json()["error"]["code"], "finding_not_found");

  auto entries = audit.entries();
  int acks = 0, runs = 0;
  for (const auto& e : entries) {
    if (e.action == "reconciliation.acknowledge") {
      ++acks;
      EXPECT_EQ(e.target, e.status == 404 ? "finding:999" : "finding:" + std::to_string(id));
    }
    if (e.action == "reconciliation.run") ++runs;
  }
  EXPECT_EQ(acks, 3);
  EXPECT_EQ(runs, 1);
}

TEST_F(ReconciliationRoutesTest, BadParametersAreNamed) {
  struct Case {
    std::string method, path, body, field;
  };
  for (const auto& c : std::vector<Case>{
           {"GET", "/reconciliation?status=closed", "", "status"},
           {"GET", "/reconciliation?kind=drift", "", "kind"},
           {"GET", "/reconciliation?limit=0", "", "limit"},
           {"GET", "/reconciliation?limit=1001", "", "limit"},
           {"GET", "/reconciliation?limit=ten", "", "limit"},
           {"POST", "/reconciliation/findings/abc/acknowledge", "", "id"},
           {"POST", "/reconciliation/findings/0/acknowledge", "", "id"},
           {"POST", "/reconciliation/findings/1/acknowledge", R"({"note":5})", "note"},
           {"POST", "/reconciliation/findings/1/acknowledge",
            R"({"note":")" + std::string(501, 'x') + R"("})", "note"},
       }) {
    auto r = http().request(c.method, c.path, c.body, {});
    EXPECT_EQ(r.status, 400u) << c.path << " " << r.body;
    EXPECT_EQ(r.json()["error"]["field"], c.field) << c.path << " " << r.body;
  }
}

}  // namespace
}  // namespace sc::test

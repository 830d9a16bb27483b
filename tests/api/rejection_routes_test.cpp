// Rejected trades over HTTP (issue 13): what POST /trades rejects is recorded with its reason,
// field, client address and excerpt, without ever changing the answer, at most
// REJECTIONS_HTTP_PER_MINUTE per address; GET /rejections lists them newest first, filtered and in
// keyset pages, and refuses a bad filter naming it. And RejectionRecorder on its own: a full queue
// drops (and counts) rather than block the handler.
#include <future>
#include <set>

#include "api/openapi.h"
#include "api/rejection_recorder.h"
#include "api/test_server.h"

namespace sc::test {
namespace {

using Json = nlohmann::json;

class RejectionRoutes : public ApiServerTest {
 protected:
  // The rejections recorded so far (after the recorder has written what it queued).
  std::vector<store::Rejection> recorded() {
    api->flushRejections();
    return rejections.rows();
  }
  Json list(const std::string& query = "") {
    auto r = http().get("/rejections" + query);
    EXPECT_EQ(r.status, 200u) << query << ": " << r.body;
    return r.json();
  }
  // A rejection put straight into the store.
  void put(store::RejectionSource source, const std::string& reason, const std::string& trade_id,
           int64_t offset, Timestamp at, const std::string& body = "{}") {
    store::Rejection r = store::rejectionOf(body, Error::permanent(reason, "m", "f"), trade_id);
    r.source = source;
    r.received_at = at;
    if (source == store::RejectionSource::kKafka) {
      r.topic = "trade.events";
      r.partition = 1;
      r.offset = offset;
    } else {
      r.remote_address = "10.0.0.7";
    }
    ASSERT_TRUE(rejections.record(std::span<const store::Rejection>(&r, 1)).ok());
  }
};

TEST_F(RejectionRoutes, ABadTradeIsRecordedWithItsReasonFieldAddressAndBytes) {
  Json bad = Json::parse(tradeJson("trd_bad"));
  bad.erase("quantity");
  auto r = http().post("/trades", bad.dump());
  ASSERT_EQ(r.status, 400u) << r.body;
  auto malformed = http().post("/trades", "{\"trade_id\": ");
  ASSERT_EQ(malformed.status, 400u);

  auto rows = recorded();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].source, store::RejectionSource::kHttp);
  EXPECT_EQ(rows[0].remote_address, "127.0.0.1");
  EXPECT_EQ(rows[0].trade_id, "trd_bad");  // readable although the trade is not
  EXPECT_EQ(rows[0].reason, "missing_field");
  EXPECT_EQ(rows[0].field, "quantity");
  EXPECT_EQ(rows[0].message, r.json()["error"]["message"]);
  EXPECT_EQ(rows[0].excerpt, bad.dump());
  EXPECT_EQ(rows[1].reason, "invalid_json");
  EXPECT_EQ(rows[1].trade_id, "");

  Json page = list();
  ASSERT_EQ(page["items"].size(), 2u);
  const Json& item = page["items"][1];  // newest first: the missing field is second
  EXPECT_EQ(item["source"], "http");
  EXPECT_EQ(item["remote_address"], "127.0.0.1");
  EXPECT_TRUE(item["topic"].is_null());
  EXPECT_TRUE(item["partition"].is_null());
  EXPECT_TRUE(item["offset"].is_null());
  EXPECT_EQ(item["trade_id"], "trd_bad");
  EXPECT_EQ(item["reason"], "missing_field");
  EXPECT_EQ(item["field"], "quantity");
  EXPECT_EQ(item["excerpt"], bad.dump());
  EXPECT_EQ(item["excerpt_truncated"], false);
  EXPECT_EQ(item["original_size"], bad.dump().size());
  EXPECT_EQ(item["received_at"], formatTimestamp(apiTestNow()));
  EXPECT_TRUE(page["items"][0]["trade_id"].is_null());
  EXPECT_TRUE(page["items"][0]["field"].is_null());
  EXPECT_TRUE(page["next_cursor"].is_null());
}

TEST_F(RejectionRoutes, AConflictIsRecordedButAcceptedAndRepeatedTradesAreNot) {
  createSettlement("trd_1");
  ASSERT_EQ(http().post("/trades", tradeJson("trd_1")).status, 200u);  // idempotent duplicate
  auto conflict = http().post("/trades", tradeJson("trd_1", "50", "acc_seller", "acc_buyer"));
  ASSERT_EQ(conflict.status, 409u) << conflict.body;
  auto rows = recorded();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].reason, "trade_conflict");
  EXPECT_EQ(rows[0].trade_id, "trd_1");
  EXPECT_EQ(rows[0].message, conflict.json()["error"]["message"]);
}

TEST_F(RejectionRoutes, AFailureToRecordNeverChangesTheAnswer) {
  auto first = http().post("/trades", "[1]");
  ASSERT_EQ(recorded().size(), 1u);  // written before the store fails
  rejections.failWith(Error::transient("database_unavailable", "db down"));
  auto second = http().post("/trades", "[1]");
  EXPECT_EQ(second.status, first.status);
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(recorded().size(), 1u);  // the first only
  rejections.failWith(std::nullopt);
  EXPECT_EQ(http().post("/trades", "[1]").status, first.status);
  EXPECT_EQ(recorded().size(), 2u);
}

TEST_F(RejectionRoutes, AnAddressGetsAtMostItsRatePerMinuteRecorded) {
  rejections_per_minute = 3;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(http().post("/trades", "nope").status, 400u);
  EXPECT_EQ(recorded().size(), 3u);
  clock.advance(std::chrono::seconds(20));  // a third of a minute: one more
  for (int i = 0; i < 2; ++i) EXPECT_EQ(http().post("/trades", "nope").status, 400u);
  EXPECT_EQ(recorded().size(), 4u);
  clock.advance(std::chrono::minutes(5));  // full again, never more than the rate at once
  for (int i = 0; i < 5; ++i) EXPECT_EQ(http().post("/trades", "nope").status, 400u);
  EXPECT_EQ(recorded().size(), 7u);
}

TEST_F(RejectionRoutes, ZeroPerMinuteRecordsNoHttpRejection) {
  rejections_per_minute = 0;
  EXPECT_EQ(http().post("/trades", "nope").status, 400u);
  EXPECT_EQ(recorded().size(), 0u);
}

TEST_F(RejectionRoutes, ListsNewestFirstWithEveryFilter) {
  const Timestamp t0 = apiTestNow();
  put(store::RejectionSource::kKafka, "missing_field", "trd_a", 10, t0);
  put(store::RejectionSource::kHttp, "invalid_json", "", 0, t0 + std::chrono::seconds(1));
  put(store::RejectionSource::kKafka, "self_trade", "trd_b", 11, t0 + std::chrono::seconds(2));
  put(store::RejectionSource::kKafka, "missing_field", "trd_c", 12, t0 + std::chrono::seconds(3));

  auto ids = [](const Json& page) {
    std::vector<std::string> out;
    for (const auto& i : page["items"])
      out.push_back(i["trade_id"].is_null() ? "-" : i["trade_id"].get<std::string>());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(list()), (V{"trd_c", "trd_b", "-", "trd_a"}));
  EXPECT_EQ(ids(list("?source=kafka")), (V{"trd_c", "trd_b", "trd_a"}));
  EXPECT_EQ(ids(list("?source=http")), (V{"-"}));
  EXPECT_EQ(ids(list("?reason=missing_field")), (V{"trd_c", "trd_a"}));
  EXPECT_EQ(ids(list("?trade_id=trd_b")), (V{"trd_b"}));
  EXPECT_EQ(ids(list("?since=2024-11-17T16:30:01Z&until=2024-11-17T16:30:03Z")), (V{"trd_b", "-"}));
  EXPECT_EQ(ids(list("?source=kafka&reason=missing_field&since=2024-11-17T16:30:01Z")),
            (V{"trd_c"}));

  const Json k = list("?trade_id=trd_a")["items"][0];
  EXPECT_EQ(k["source"], "kafka");
  EXPECT_EQ(k["topic"], "trade.events");
  EXPECT_EQ(k["partition"], 1);
  EXPECT_EQ(k["offset"], 10);
  EXPECT_TRUE(k["remote_address"].is_null());
  EXPECT_EQ(k["received_at"], "2024-11-17T16:30:00Z");
}

TEST_F(RejectionRoutes, PagesWithTheCursorUntilItIsNull) {
  for (int i = 0; i < 5; ++i)
    put(store::RejectionSource::kKafka, "missing_field", "trd_" + std::to_string(i), i,
        apiTestNow() + std::chrono::seconds(i));
  std::vector<std::string> seen;
  std::string cursor;
  for (int pages = 0; pages < 10; ++pages) {
    Json page = list("?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor));
    for (const auto& i : page["items"]) seen.push_back(i["trade_id"]);
    if (page["next_cursor"].is_null()) break;
    cursor = page["next_cursor"];
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"trd_4", "trd_3", "trd_2", "trd_1", "trd_0"}));
  // An exact last page says so: no empty page after it.
  Json exact = list("?limit=5");
  EXPECT_EQ(exact["items"].size(), 5u);
  EXPECT_TRUE(exact["next_cursor"].is_null());
}

TEST_F(RejectionRoutes, BadFiltersAre400NamingTheParameter) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"source=ftp", "source"},
      {"source=", "source"},
      {"reason=no_such_reason", "reason"},
      {"trade_id=has%20space", "trade_id"},
      {"trade_id=" + std::string(65, 'x'), "trade_id"},
      {"since=yesterday", "since"},
      {"until=2024-13-01T00:00:00Z", "until"},
      {"since=2024-11-18T00:00:00Z&until=2024-11-17T00:00:00Z", "until"},
      {"limit=0", "limit"},
      {"limit=501", "limit"},
      {"limit=ten", "limit"},
      {"cursor=0", "cursor"},
      {"cursor=-5", "cursor"},
      {"cursor=abc", "cursor"},
  };
  for (const auto& [query, param] : cases) {
    auto r = http().get("/rejections?" + query);
    EXPECT_EQ(r.status, 400u) << query;
    EXPECT_EQ(r.json()["error"]["code"], "invalid_parameter") << query;
    EXPECT_EQ(r.json()["error"]["field"], param) << query << ": " << r.body;
  }
  EXPECT_NE(http()
                .get("/rejections?reason=nope")
                .json()["error"]["message"]
                .get<std::string>()
                .find("trade_conflict"),
            std::string::npos)
      << "the message lists the reason codes";
  EXPECT_EQ(http().get("/rejections?limit=500").status, 200u);
}

TEST_F(RejectionRoutes, TheExcerptIsTextWithWhatIsNotUtf8Escaped) {
  const std::string body =
      std::string("{\"q\":\"caf\xc3\xa9\"}\n\xff\x01") + std::string(2000, 'z');
  put(store::RejectionSource::kKafka, "invalid_json", "", 3, apiTestNow(), body);
  const Json item = list()["items"][0];
  const std::string want =
      "{\"q\":\"caf\xc3\xa9\"}\n\\xff\\x01" + std::string(1024 - 16, 'z');  // 1 KiB of bytes
  EXPECT_EQ(item["excerpt"], want);
  EXPECT_EQ(item["excerpt_truncated"], true);
  EXPECT_EQ(item["original_size"], body.size());
}

TEST_F(RejectionRoutes, AStoreFailureIs503) {
  rejections.failWith(Error::transient("database_unavailable", "db down"));
  auto r = http().get("/rejections");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.json()["error"]["code"], "database_unavailable");
}

// The shape the dashboard reads is the one the OpenAPI document publishes, key for key.
TEST_F(RejectionRoutes, EveryItemHasExactlyTheKeysOfTheOpenApiSchema) {
  put(store::RejectionSource::kKafka, "missing_field", "trd_a", 1, apiTestNow());
  put(store::RejectionSource::kHttp, "invalid_json", "", 0, apiTestNow());
  const Json doc = Json::parse(api::openApiDocument());
  const Json& schema = doc["components"]["schemas"]["Rejection"];
  std::set<std::string> required(schema["required"].begin(), schema["required"].end());
  std::set<std::string> declared;
  for (const auto& [k, v] : schema["properties"].items()) declared.insert(k);
  EXPECT_EQ(required, declared);
  const Json& op = doc["paths"]["/rejections"]["get"];
  EXPECT_EQ(op["x-roles"], Json::array({"operator", "auditor"}));
  std::set<std::string> params;
  for (const auto& p : op["parameters"])
    if (p.contains("name")) params.insert(p["name"]);
  EXPECT_EQ(params, (std::set<std::string>{"source", "reason", "trade_id", "since", "until",
                                           "limit", "cursor"}));
  std::vector<std::string> reasons(doc["components"]["schemas"]["RejectionReason"]["enum"].begin(),
                                   doc["components"]["schemas"]["RejectionReason"]["enum"].end());
  EXPECT_EQ(reasons, std::vector<std::string>(reason::kAll.begin(), reason::kAll.end()));
  Json page = list();
  EXPECT_EQ(page.size(), 2u);  // items, next_cursor
  ASSERT_EQ(page["items"].size(), 2u);
  for (const auto& item : page["items"]) {
    std::set<std::string> keys;
    for (const auto& [k, v] : item.items()) {
      keys.insert(k);
      const Json& prop = schema["properties"][k];
      if (v.is_null()) EXPECT_EQ(prop.value("nullable", false), true) << k;
    }
    EXPECT_EQ(keys, declared);
  }
}

// The recorder alone: a write that hangs never blocks submit(); past the queue's capacity
// rejections are dropped and counted, and everything queued is written once the write returns.
TEST(RejectionRecorderQueue, AFullQueueDropsAndCountsInsteadOfBlocking) {
  FakeClock clock(apiTestNow());
  MemoryRejections repo(&clock);
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> first{true};
  repo.before_record = [&] {
    if (first.exchange(false)) {
      entered.set_value();
      released.wait();
    }
  };
  api::RejectionRecorder recorder(repo, clock,
                                  {.per_address_per_minute = 100, .queue_capacity = 2});
  auto rejection = [](int i) {
    store::Rejection r =
        store::rejectionOf("x", Error::permanent("invalid_json", "m"), "trd_" + std::to_string(i));
    r.remote_address = "10.0.0.1";
    return r;
  };
  EXPECT_TRUE(recorder.submit(rejection(0)));
  entered.get_future().wait();  // the writer holds #0 inside record()
  EXPECT_TRUE(recorder.submit(rejection(1)));
  EXPECT_TRUE(recorder.submit(rejection(2)));
  EXPECT_FALSE(recorder.submit(rejection(3)));  // queue full
  EXPECT_EQ(recorder.metrics().queue_full.value(), 1u);
  release.set_value();
  recorder.flush();
  auto rows = repo.rows();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].trade_id, "trd_2");
  EXPECT_EQ(recorder.metrics().recorded.value(), 3u);
  recorder.stop();
  EXPECT_FALSE(recorder.submit(rejection(4)));  // stopped: not recorded, nothing blocks
}

TEST(RejectionRecorderQueue, AFailedWriteIsCountedAndTheNextOneGoesThrough) {
  FakeClock clock(apiTestNow());
  MemoryRejections repo(&clock);
  repo.failWith(Error::transient("database_unavailable", "db down"));
  api::RejectionRecorder recorder(repo, clock, {});
  store::Rejection r = store::rejectionOf("x", Error::permanent("invalid_json", "m"), "");
  r.remote_address = "10.0.0.1";
  EXPECT_TRUE(recorder.submit(r));
  recorder.flush();
  EXPECT_EQ(recorder.metrics().write_failures.value(), 1u);
  repo.failWith(std::nullopt);
  EXPECT_TRUE(recorder.submit(r));
  recorder.flush();
  EXPECT_EQ(repo.rows().size(), 1u);
  EXPECT_EQ(recorder.metrics().recorded.value(), 1u);
}

}  // namespace
}  // namespace sc::test

// Issue 13 against the built binary, a real broker and PostgreSQL: a bad trade on Kafka and a bad
// POST /trades both appear in GET /rejections with their reason, field and source (topic,
// partition and offset of the message; the client's address), and the Kafka one stays recorded
// once when every message of the topic is delivered again (a restart with a new consumer group,
// which dead-letters them all a second time).
#include "e2e/kafka_e2e_fixture.h"

namespace sc::test {
namespace {

class RejectionsE2E : public KafkaE2E {
 protected:
  Json rejections(const std::string& query = "") {
    auto r = http_->get("/rejections?limit=500" + query);
    EXPECT_EQ(r.status, 200u) << r.body;
    return r.json();
  }
  static Json tradeWithout(const std::string& trade_id, const char* missing) {
    Json t = {{"trade_id", trade_id},
              {"buyer_account_id", TradeFactory::trader(0)},
              {"seller_account_id", TradeFactory::trader(1)},
              {"symbol", "AAPL/USDC"},
              {"quantity", "5"},
              {"amount", "750"},
              {"settlement_date", "2024-11-19"},
              {"executed_at", "2024-11-17T16:30:00Z"}};
    t.erase(missing);
    return t;
  }
};

TEST_F(RejectionsE2E, BadKafkaAndHttpTradesAreListedOnceEachEvenAfterRedelivery) {
  const std::string kafka_bad = tradeWithout("trd_rej_kafka", "quantity").dump();
  const std::string kafka_malformed = "{\"trade_id\": \"trd_rej_cut\", ";
  std::string err;
  ASSERT_TRUE(produceAll(bootstrap_, trade_topic_,
                         {KafkaRecord{"trd_rej_kafka", kafka_bad, {}},
                          KafkaRecord{"trd_rej_cut", kafka_malformed, {}}},
                         err))
      << err;
  const std::string http_bad = tradeWithout("trd_rej_http", "symbol").dump();
  auto answer = http_->post("/trades", http_bad, {{"Content-Type", "application/json"}});
  ASSERT_EQ(answer.status, 400u) << answer.body;
  EXPECT_EQ(answer.json()["error"]["code"], "missing_field");

  // Where the broker put the two messages.
  TopicReader source(bootstrap_, trade_topic_);
  ASSERT_TRUE(source.readAtLeast(2, 60s)) << source.error();
  std::map<std::string, std::pair<int32_t, int64_t>> where;
  for (const auto& m : source.messages()) where[m.key] = {m.partition, m.offset};

  ASSERT_TRUE(waitFor([&] { return rejections()["items"].size() == 3; }, 60s))
      << rejections().dump();
  const Json listed = rejections();
  std::map<std::string, Json> by_trade;
  for (const auto& item : listed["items"])
    by_trade[item["trade_id"].is_null() ? "" : item["trade_id"].get<std::string>()] = item;
  for (const char* t : {"trd_rej_kafka", "", "trd_rej_http"})
    ASSERT_TRUE(by_trade.count(t)) << "no rejection of trade '" << t << "': " << listed.dump();

  const Json& k = by_trade["trd_rej_kafka"];
  EXPECT_EQ(k["source"], "kafka");
  EXPECT_EQ(k["topic"], trade_topic_);
  EXPECT_EQ(k["partition"], where["trd_rej_kafka"].first);
  EXPECT_EQ(k["offset"], where["trd_rej_kafka"].second);
  EXPECT_TRUE(k["remote_address"].is_null());
  EXPECT_EQ(k["reason"], "missing_field");
  EXPECT_EQ(k["field"], "quantity");
  EXPECT_EQ(k["excerpt"], kafka_bad);
  EXPECT_EQ(k["excerpt_truncated"], false);
  EXPECT_EQ(k["original_size"], kafka_bad.size());

  const Json& cut = by_trade[""];  // malformed JSON: its trade id cannot be read
  EXPECT_EQ(cut["reason"], "invalid_json");
  EXPECT_EQ(cut["partition"], where["trd_rej_cut"].first);
  EXPECT_EQ(cut["offset"], where["trd_rej_cut"].second);
  EXPECT_EQ(cut["excerpt"], kafka_malformed);

  const Json& h = by_trade["trd_rej_http"];
  EXPECT_EQ(h["source"], "http");
  EXPECT_EQ(h["remote_address"], "127.0.0.1");
  EXPECT_TRUE(h["topic"].is_null());
  EXPECT_TRUE(h["offset"].is_null());
  EXPECT_EQ(h["reason"], "missing_field");
  EXPECT_EQ(h["field"], "symbol");
  EXPECT_EQ(h["message"], answer.json()["error"]["message"]);
  EXPECT_EQ(h["excerpt"], http_bad);

  auto filtered = rejections("&source=kafka&reason=missing_field");
  ASSERT_EQ(filtered["items"].size(), 1u);
  EXPECT_EQ(filtered["items"][0]["trade_id"], "trd_rej_kafka");
  EXPECT_EQ(rejections("&trade_id=trd_rej_http")["items"].size(), 1u);

  // Every message delivered again: a new consumer group reads the topic from the start.
  TopicReader dlq(bootstrap_, dlq_topic_);
  ASSERT_TRUE(dlq.readAtLeast(2, 60s)) << dlq.error();
  http_.reset();
  ASSERT_EQ(service_->terminate(), 0) << service_->logTail();
  service_->env()["KAFKA_CONSUMER_GROUP"] = env_["KAFKA_CONSUMER_GROUP"] + "-again";
  ASSERT_TRUE(service_->start()) << service_->error();
  http_ = std::make_unique<HttpClient>(service_->port(), "127.0.0.1", 30s);
  // The rejections are recorded before their dead letters: two more dead letters mean the
  // redelivered messages went through the recording.
  ASSERT_TRUE(dlq.readAtLeast(4, 60s)) << "dead letters: " << dlq.messages().size();
  auto after = rejections();
  EXPECT_EQ(after["items"].size(), 3u) << after.dump();
  EXPECT_EQ(rejections("&source=kafka")["items"].size(), 2u);
}

}  // namespace
}  // namespace sc::test

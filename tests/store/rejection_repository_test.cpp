// Migration 0006 against PostgreSQL: rejected trades recorded with their source and an exact
// excerpt, a Kafka message once however often it is recorded (also concurrently), listing newest
// first with every filter and a keyset cursor, text that PostgreSQL could not store made storable,
// and retention by age and row cap.
#include <gtest/gtest.h>

#include <thread>

#include "store/rejection_retention.h"
#include "store_fixture.h"

namespace sc::test {
namespace {

using namespace sc::store;

class RejectionStore : public StoreTest {
 protected:
  RejectionRepository& rejections() { return database_->rejections(); }

  static Rejection kafka(int64_t offset, const std::string& reason = "missing_field",
                         const std::string& body = R"({"trade_id":"trd_k"})") {
    Rejection r = rejectionOf(body, Error::permanent(reason, "quantity is required", "quantity"),
                              "trd_k" + std::to_string(offset));
    r.source = RejectionSource::kKafka;
    r.topic = "trade.events";
    r.partition = 2;
    r.offset = offset;
    return r;
  }
  static Rejection http(const std::string& address, const std::string& reason = "invalid_json",
                        const std::string& body = "not json") {
    Rejection r = rejectionOf(body, Error::permanent(reason, "malformed JSON near byte 0"), "");
    r.source = RejectionSource::kHttp;
    r.remote_address = address;
    return r;
  }
  int64_t record(std::vector<Rejection> rs) {
    auto n = rejections().record(rs);
    EXPECT_TRUE(n.ok()) << n.error().message;
    return n.ok() ? *n : -1;
  }
  std::vector<Rejection> list(RejectionQuery q = {}) {
    auto r = rejections().list(q);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : std::vector<Rejection>{};
  }
};

TEST_F(RejectionStore, RecordsBothSourcesAndReadsBackTheExactBytes) {
  const std::string body = std::string("{\"q\":\"\xff\xfe\"}") + std::string(1, '\0') + "tail";
  Rejection k = kafka(41, "missing_field", body);
  k.received_at = at(5);
  ASSERT_EQ(record({k, http("10.1.2.3")}), 2);
  auto all = list();
  ASSERT_EQ(all.size(), 2u);
  const Rejection& h = all[0];  // newest first
  EXPECT_EQ(h.source, RejectionSource::kHttp);
  EXPECT_EQ(h.remote_address, "10.1.2.3");
  EXPECT_EQ(h.topic, "");
  EXPECT_EQ(h.trade_id, "");
  EXPECT_EQ(h.reason, "invalid_json");
  EXPECT_EQ(h.field, "");
  EXPECT_EQ(h.excerpt, "not json");
  EXPECT_FALSE(h.excerpt_truncated);
  EXPECT_EQ(h.original_size, 8);
  EXPECT_GT(h.received_at, at(5));  // the database's clock_timestamp(), not the epoch
  const Rejection& r = all[1];
  EXPECT_GT(h.id, r.id);
  EXPECT_EQ(r.source, RejectionSource::kKafka);
  EXPECT_EQ(r.received_at, at(5));
  EXPECT_EQ(r.topic, "trade.events");
  EXPECT_EQ(r.partition, 2);
  EXPECT_EQ(r.offset, 41);
  EXPECT_EQ(r.remote_address, "");
  EXPECT_EQ(r.trade_id, "trd_k41");
  EXPECT_EQ(r.reason, "missing_field");
  EXPECT_EQ(r.message, "quantity is required");
  EXPECT_EQ(r.field, "quantity");
  EXPECT_EQ(r.excerpt, body);  // invalid UTF-8 and NUL included
  EXPECT_EQ(r.original_size, static_cast<int64_t>(body.size()));
}

TEST_F(RejectionStore, TheExcerptKeepsTheFirstKibibyteAndSaysItWasCut) {
  const std::string big = std::string(3000, 'x') + "END";
  ASSERT_EQ(record({http("10.0.0.9", "invalid_json", big)}), 1);
  auto all = list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].excerpt, big.substr(0, kRejectionExcerptBytes));
  EXPECT_TRUE(all[0].excerpt_truncated);
  EXPECT_EQ(all[0].original_size, 3003);
}

TEST_F(RejectionStore, AKafkaMessageIsRecordedOnceHoweverOftenItIsRecorded) {
  EXPECT_EQ(record({kafka(1), kafka(2), kafka(1)}), 2);  // a repeat within one batch
  EXPECT_EQ(record({kafka(2), kafka(3)}), 1);            // a redelivery with a new message
  // The same offset of another partition or topic is another message.
  Rejection other_partition = kafka(1);
  other_partition.partition = 0;
  Rejection other_topic = kafka(1);
  other_topic.topic = "trade.events.eu";
  EXPECT_EQ(record({other_partition, other_topic}), 2);
  // HTTP rejections have no coordinates: each is its own row.
  EXPECT_EQ(record({http("10.0.0.1"), http("10.0.0.1")}), 2);
  EXPECT_EQ(list().size(), 7u);
}

TEST_F(RejectionStore, TwoInstancesRecordingTheSameBatchAtOnceRecordItOnce) {
  std::vector<Rejection> batch;
  for (int i = 0; i < 200; ++i) batch.push_back(kafka(i));
  std::vector<Rejection> reversed(batch.rbegin(), batch.rend());
  int64_t added[2] = {-1, -1};
  std::thread a([&] {
    auto n = rejections().record(batch);
    added[0] = n ? *n : -1;
  });
  std::thread b([&] {
    auto n = rejections().record(reversed);
    added[1] = n ? *n : -1;
  });
  a.join();
  b.join();
  ASSERT_GE(added[0], 0);
  ASSERT_GE(added[1], 0);
  EXPECT_EQ(added[0] + added[1], 200);
  RejectionQuery q;
  q.limit = 1000;
  EXPECT_EQ(list(q).size(), 200u);
}

TEST_F(RejectionStore, ListsNewestFirstWithEveryFilterAndAKeysetCursor) {
  for (int i = 0; i < 6; ++i) {
    Rejection r = i % 2 ? kafka(i, i < 3 ? "missing_field" : "self_trade") : http("10.0.0.1");
    r.received_at = at(i);
    ASSERT_EQ(record({r}), 1);
  }
  auto all = list();
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].received_at, at(5 - int(i)));

  RejectionQuery q;
  q.source = RejectionSource::kKafka;
  auto k = list(q);
  ASSERT_EQ(k.size(), 3u);
  EXPECT_EQ(k[0].offset, 5);
  q.reason = "missing_field";
  auto m = list(q);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].offset, 1);

  RejectionQuery by_trade;
  by_trade.trade_id = "trd_k3";
  auto t = list(by_trade);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].reason, "self_trade");

  RejectionQuery window;  // since inclusive, until exclusive
  window.since = at(2);
  window.until = at(4);
  auto w = list(window);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].received_at, at(3));
  EXPECT_EQ(w[1].received_at, at(2));

  RejectionQuery page;
  page.limit = 4;
  auto p1 = list(page);
  ASSERT_EQ(p1.size(), 4u);
  page.before_id = p1.back().id;
  auto p2 = list(page);
  ASSERT_EQ(p2.size(), 2u);
  EXPECT_EQ(p2[0].received_at, at(1));
  EXPECT_EQ(p2[1].received_at, at(0));
}

TEST_F(RejectionStore, TextPostgresqlCannotHoldIsMadeStorableNotRefused) {
  Rejection r = kafka(7);
  r.message = std::string("bad \xc3 byte and a NUL ") + std::string(1, '\0') + " here";
  r.field = std::string(1, '\0');
  r.trade_id = "\xff";
  r.reason = std::string(2000, 'r');
  ASSERT_EQ(record({r}), 1);
  auto all = list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].message, "bad \xEF\xBF\xBD byte and a NUL \xEF\xBF\xBD here");
  EXPECT_EQ(all[0].field, "\xEF\xBF\xBD");
  EXPECT_EQ(all[0].trade_id, "\xEF\xBF\xBD");
  EXPECT_EQ(all[0].reason, std::string(kRejectionShortTextBytes, 'r'));
}

TEST_F(RejectionStore, RetentionDeletesOldRowsAndAllButTheNewestMaxRows) {
  const Timestamp now = SystemClock().now();
  std::vector<Rejection> batch;
  for (int i = 0; i < 10; ++i) {
    Rejection r = kafka(i);
    r.received_at = now - std::chrono::days(40) + std::chrono::hours(i);  // old
    batch.push_back(r);
  }
  for (int i = 10; i < 40; ++i) batch.push_back(kafka(i));  // now
  ASSERT_EQ(record(batch), 40);

  RejectionRetention retention(rejections(), {.max_age = std::chrono::days(30), .max_rows = 25});
  auto deleted = retention.runOnce();
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(*deleted, 15);  // the 10 old ones, then the 5 oldest of the 30 recent ones
  EXPECT_EQ(retention.metrics().pruned.value(), 15u);
  RejectionQuery q;
  q.limit = 100;
  auto left = list(q);
  ASSERT_EQ(left.size(), 25u);
  EXPECT_EQ(left.back().offset, 15);
  EXPECT_EQ(left.front().offset, 39);
  auto again = retention.runOnce();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  // A pruned Kafka message may be recorded again (its coordinates are free).
  EXPECT_EQ(record({kafka(0)}), 1);
}

}  // namespace
}  // namespace sc::test

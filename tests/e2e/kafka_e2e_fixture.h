#pragma once
// Kafka end-to-end tests (kafka_e2e_test.cpp): the fixture (the built binary with its own topics,
// consumer group, database and ledger folder) and the trade mixes the tests produce.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "e2e/kafka_event_checks.h"
#include "e2e/kafka_test_client.h"
#include "e2e/kafka_trades.h"
#include "support/http_client.h"
#include "support/pg_test_db.h"
#include "support/service_process.h"
#include "support/wait_for.h"

namespace sc::test {

// --- the fixture --------------------------------------------------------------------------------

inline std::string randomSuffix() {
  std::random_device rd;
  std::ostringstream o;
  o << std::hex << rd() << rd();
  return o.str();
}

class KafkaE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = sc::test::kafkaBootstrapFromEnv();
    ASSERT_FALSE(bootstrap_.empty())
        << "KAFKA_BOOTSTRAP_SERVERS is not set: these tests need a Kafka broker. Run them through "
           "./scripts/test, or export the output of `./scripts/kafka start`.";
    ASSERT_TRUE(db_.create()) << db_.error();
    std::string sfx = randomSuffix();
    trade_topic_ = "trade.events." + sfx;
    settlement_topic_ = "settlement.events." + sfx;
    dlq_topic_ = "trade.events.dlq." + sfx;
    std::string err;
    ASSERT_TRUE(sc::test::createTopics(bootstrap_, {trade_topic_, settlement_topic_, dlq_topic_},
                                       kPartitions, err))
        << err;
    env_ = {{"DB_NAME", db_.name()},
            {"LEDGER_DATA_DIR", sc::test::makeTempDir("kafka-e2e-ledger")},
            {"KAFKA_BOOTSTRAP_SERVERS", bootstrap_},
            {"TRADE_EVENTS_TOPIC", trade_topic_},
            {"SETTLEMENT_EVENTS_TOPIC", settlement_topic_},
            {"TRADE_EVENTS_DLQ_TOPIC", dlq_topic_},
            {"KAFKA_CONSUMER_GROUP", "sc-e2e-" + sfx},
            {"ALLOWED_SYMBOLS", "AAPL/USDC,MSFT/USDC"},
            {"SETTLEMENT_LEASE_SECONDS", "2"},
            {"SETTLEMENT_RETRY_DELAY_SECONDS", "1"}};
    ASSERT_NO_FATAL_FAILURE(configureService(env_));
    service_ = std::make_unique<sc::test::ServiceProcess>(env_);
    ASSERT_TRUE(service_->start()) << service_->error();
    http_ = std::make_unique<sc::test::HttpClient>(service_->port(), "127.0.0.1", 30s);
    seedAccounts();
  }

  // A subclass changes how the service reaches Kafka (the test itself always uses bootstrap_).
  virtual void configureService(std::map<std::string, std::string>& /*env*/) {}
  // How many trader accounts seedAccounts() opens and funds (its TradeFactory's).
  virtual int traders() const { return kTraders; }

  void TearDown() override {
    if (HasFailure() && service_)
      std::cerr << "service log tail:\n" << service_->logTail(6000) << "\n";
    http_.reset();
    if (service_ && service_->running()) {
      EXPECT_EQ(service_->terminate(), 0) << service_->logTail();
    }
  }

  void restartAfterKill() {
    http_.reset();
    service_->kill9();
    ASSERT_TRUE(service_->start()) << service_->error();
    http_ = std::make_unique<sc::test::HttpClient>(service_->port(), "127.0.0.1", 30s);
  }

  void post(const std::string& target, const Json& body) {
    auto r = http_->post(target, body.dump(), {{"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 201u) << target << " " << body.dump() << " -> " << r.body;
  }

  // Traders hold plenty of both securities (securities synchronizer) and cash (cash synchronizer),
  // so every trade between them settles; acc-poor holds nothing; acc-inactive is inactive.
  void seedAccounts() {
    for (int i = 0; i < traders(); ++i) {
      std::string id = TradeFactory::trader(i);
      ASSERT_NO_FATAL_FAILURE(post("/accounts", {{"account_id", id}}));
      for (const char* sec : {"AAPL", "MSFT"})
        ASSERT_NO_FATAL_FAILURE(post("/ledger/holdings", {{"account_id", id},
                                                          {"asset", sec},
                                                          {"amount", "10000000"},
                                                          {"synchronizer", "securities"}}));
      ASSERT_NO_FATAL_FAILURE(post("/ledger/holdings", {{"account_id", id},
                                                        {"asset", "USDC"},
                                                        {"amount", "500000000"},
                                                        {"synchronizer", "cash"}}));
    }
    ASSERT_NO_FATAL_FAILURE(post("/accounts", {{"account_id", "acc-poor"}}));
    ASSERT_NO_FATAL_FAILURE(
        post("/accounts", {{"account_id", "acc-inactive"}, {"status", "inactive"}}));
  }

  int64_t countWithStatus(const std::string& status) {
    try {
      auto r = http_->get("/settlements?status=" + status + "&limit=1");
      if (r.status != 200) return -1;
      return r.json().value("total", int64_t{-1});
    } catch (const std::exception&) {
      return -1;
    }
  }

  bool waitForOutcomes(int64_t settled, int64_t failed, std::chrono::milliseconds timeout) {
    return waitFor(
        [&] {
          return countWithStatus("settled") == settled && countWithStatus("failed") == failed;
        },
        timeout, 200ms);
  }

  void produce(const std::vector<Produced>& batch) {
    std::vector<KafkaRecord> records;
    records.reserve(batch.size());
    for (const auto& p : batch) records.push_back(p.record);
    std::string err;
    ASSERT_TRUE(sc::test::produceAll(bootstrap_, trade_topic_, records, err)) << err;
  }

  // Every settlement, by listing pages of GET /settlements, each after the previous page's
  // next_cursor (offsets stop at 10,000: the 20,000-trade cluster run has more).
  std::vector<Json> listSettlements() {
    std::vector<Json> all;
    std::string cursor;
    for (;;) {
      auto r = http_->get("/settlements?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
      EXPECT_EQ(r.status, 200u) << r.body;
      auto j = r.json();
      if (r.status != 200 || !j.contains("settlements")) break;
      for (auto& s : j["settlements"]) all.push_back(s);
      if (!j.contains("next_cursor") || !j["next_cursor"].is_string()) break;
      cursor = j["next_cursor"].get<std::string>();
    }
    return all;
  }

  // The audit trail of one settlement: event ids in order and their types.
  std::vector<std::pair<std::string, std::string>> auditEvents(const std::string& settlement_id) {
    auto r = http_->get("/settlements/" + settlement_id + "/events");
    EXPECT_EQ(r.status, 200u) << r.body;
    std::vector<std::pair<std::string, std::string>> out;
    auto j = r.json();
    if (j.contains("events"))
      for (auto& e : j["events"])
        out.emplace_back(e.value("event_id", ""), e.value("event_type", ""));
    return out;
  }

  // Every valid trade has exactly one settlement, with the expected final status; returns
  // settlement id → trade id.
  std::map<std::string, std::string> checkOneSettlementPerTrade(const TradeFactory& f) {
    std::map<std::string, std::string> by_settlement;
    std::map<std::string, int> per_trade;
    for (const Json& s : listSettlements()) {
      std::string trade = s.value("trade_id", "");
      ++per_trade[trade];
      by_settlement[s.value("settlement_id", "")] = trade;
      auto it = f.facts().find(trade);
      if (it == f.facts().end()) {
        ADD_FAILURE() << "settlement for a trade that was not valid: " << s.dump();
        continue;
      }
      EXPECT_EQ(s.value("status", ""), it->second.expect_failed ? "failed" : "settled") << s.dump();
    }
    EXPECT_EQ(per_trade.size(), f.facts().size());
    for (const auto& [trade, _] : f.facts())
      EXPECT_EQ(per_trade[trade], 1) << "settlements for trade " << trade;
    return by_settlement;
  }

  // Reads the DLQ (deduplicated by source coordinates: a crash may re-send a dead letter) until it
  // holds every expected bad message, then checks bytes, key and headers of each.
  void checkDeadLetters(const std::vector<Produced>& all, bool allow_duplicates) {
    std::map<std::string, const Produced*> bad_by_key;
    for (const auto& p : all)
      if (!p.reject_code.empty()) bad_by_key[p.record.key] = &p;
    TopicReader dlq(bootstrap_, dlq_topic_);
    auto distinct = [](const std::vector<KafkaRecord>& ms) {
      std::set<std::pair<std::string, std::string>> coords;
      for (const auto& m : ms)
        coords.emplace(m.header("dlq.source_partition") ? *m.header("dlq.source_partition") : "",
                       m.header("dlq.source_offset") ? *m.header("dlq.source_offset") : "");
      return coords.size();
    };
    ASSERT_TRUE(
        dlq.readUntil([&](const auto& ms) { return distinct(ms) >= bad_by_key.size(); }, 60s))
        << "dead letters: " << dlq.messages().size() << " of " << bad_by_key.size() << " "
        << dlq.error();
    dlq.drainFor(1s);  // nothing more may arrive
    EXPECT_EQ(distinct(dlq.messages()), bad_by_key.size());
    if (!allow_duplicates) {
      EXPECT_EQ(dlq.messages().size(), bad_by_key.size());
    }

    // The source coordinates must name the original message on trade.events.
    TopicReader source(bootstrap_, trade_topic_);
    ASSERT_TRUE(source.readAtLeast(all.size(), 60s)) << source.error();
    std::map<std::pair<int32_t, int64_t>, const KafkaRecord*> by_coord;
    for (const auto& m : source.messages()) by_coord[{m.partition, m.offset}] = &m;

    std::map<std::string, int> seen;
    for (const auto& m : dlq.messages()) {
      auto it = bad_by_key.find(m.key);
      if (it == bad_by_key.end()) {
        ADD_FAILURE() << "unexpected dead letter key " << m.key << ": " << m.value;
        continue;
      }
      ++seen[m.key];
      const Produced& p = *it->second;
      EXPECT_EQ(m.value, p.record.value) << "original bytes of " << m.key;
      const std::string* code = m.header("dlq.reason_code");
      ASSERT_NE(code, nullptr) << m.key;
      EXPECT_EQ(*code, p.reject_code) << m.key << " " << p.record.value;
      const std::string* reason = m.header("dlq.reason");
      EXPECT_TRUE(reason && !reason->empty()) << m.key;
      const std::string* topic = m.header("dlq.source_topic");
      EXPECT_TRUE(topic && *topic == trade_topic_) << m.key;
      EXPECT_TRUE(m.header("x-test-seq") && *m.header("x-test-seq") == p.record.headers[0].second)
          << "original headers of " << m.key;
      const std::string* part = m.header("dlq.source_partition");
      const std::string* off = m.header("dlq.source_offset");
      ASSERT_TRUE(part && off) << m.key;
      auto src = by_coord.find({std::stoi(*part), std::stoll(*off)});
      ASSERT_NE(src, by_coord.end()) << m.key << " names " << *part << "/" << *off;
      EXPECT_EQ(src->second->key, m.key);
      EXPECT_EQ(src->second->value, m.value);
    }
    for (const auto& [key, _] : bad_by_key) EXPECT_GE(seen[key], 1) << "no dead letter for " << key;
  }

  struct EventsSummary {
    size_t messages = 0, distinct = 0, duplicates = 0;
  };

  // Reads settlement.events until it holds every audit row of every settlement, then checks per
  // key: one partition, a legal lifecycle path in order, payloads per the spec, and (after
  // dropping duplicates by event_id) exactly the audit trail.
  EventsSummary checkSettlementEvents(const std::map<std::string, std::string>& settlements,
                                      const TradeFactory& f) {
    EventsSummary sum;
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> audit;
    std::unordered_set<std::string> audit_ids;
    for (const auto& [sid, _] : settlements) {
      audit[sid] = auditEvents(sid);
      for (auto& [id, type] : audit[sid]) audit_ids.insert(id);
    }
    TopicReader reader(bootstrap_, settlement_topic_);
    std::unordered_set<std::string> have;
    size_t scanned = 0;
    bool complete = reader.readUntil(
        [&](const std::vector<KafkaRecord>& ms) {
          for (; scanned < ms.size(); ++scanned) {
            auto p = Json::parse(ms[scanned].value, nullptr, false);
            if (p.is_object() && p.contains("event_id") && p["event_id"].is_string())
              have.insert(p["event_id"].get<std::string>());
          }
          return std::all_of(audit_ids.begin(), audit_ids.end(),
                             [&](const std::string& id) { return have.count(id) > 0; });
        },
        120s);
    EXPECT_TRUE(complete) << "settlement.events holds " << have.size() << " distinct events of "
                          << audit_ids.size() << " audit rows " << reader.error();
    reader.drainFor(1s);

    const auto& ms = reader.messages();
    sum.messages = ms.size();
    std::unordered_map<std::string, std::string> first_payload;  // event_id → payload bytes
    std::map<std::string, std::vector<const KafkaRecord*>> by_key;
    int payload_failures = 0;
    for (const auto& m : ms) {
      auto p = Json::parse(m.value, nullptr, false);
      if (!p.is_object()) {
        ADD_FAILURE() << "not a JSON object on settlement.events: " << m.value;
        continue;
      }
      std::string id = p.value("event_id", "");
      auto [it, inserted] = first_payload.emplace(id, m.value);
      if (!inserted) {
        ++sum.duplicates;
        EXPECT_EQ(it->second, m.value) << "a re-sent event must be the same event";
        continue;
      }
      auto problems = checkPayload(m, p, f.facts());
      if (!problems.empty() && payload_failures++ < 10) {
        std::string all;
        for (auto& s : problems) all += s + "; ";
        ADD_FAILURE() << "payload " << m.value << ": " << all;
      }
      by_key[m.key].push_back(&m);
    }
    sum.distinct = first_payload.size();
    EXPECT_EQ(payload_failures, 0);

    int path_failures = 0;
    for (const auto& [sid, trade] : settlements) {
      const auto& events = by_key[sid];
      std::vector<std::pair<std::string, std::string>> kafka;
      std::set<int32_t> partitions;
      for (const auto* m : events) {
        auto p = Json::parse(m->value);
        kafka.emplace_back(p.value("event_id", ""), p.value("event_type", ""));
        partitions.insert(m->partition);
      }
      bool ok =
          partitions.size() == 1 && !kafka.empty() && kafka.front().second == "settlement_pending";
      for (size_t i = 1; ok && i < kafka.size(); ++i)
        ok = legalStep(kafka[i - 1].second, kafka[i].second);
      const std::string want_last =
          f.facts().at(trade).expect_failed ? "settlement_failed" : "settlement_settled";
      ok = ok && kafka.back().second == want_last && kafka == audit[sid];
      if (!ok && path_failures++ < 10) {
        std::string got, want;
        for (auto& [id, t] : kafka) got += t + " ";
        for (auto& [id, t] : audit[sid]) want += t + " ";
        ADD_FAILURE() << "settlement " << sid << " (trade " << trade << ") on " << partitions.size()
                      << " partition(s): kafka [" << got << "] audit [" << want << "]";
      }
    }
    EXPECT_EQ(path_failures, 0);
    EXPECT_EQ(by_key.size(), settlements.size()) << "keys on settlement.events";
    EXPECT_EQ(sum.distinct, audit_ids.size()) << "distinct events vs audit rows";
    return sum;
  }

  std::string bootstrap_, trade_topic_, settlement_topic_, dlq_topic_;
  sc::test::PgTestDb db_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<sc::test::ServiceProcess> service_;
  std::unique_ptr<sc::test::HttpClient> http_;
};

// Builds `valid` unique trades (the last `poor` of them with a seller the ledger refuses),
// `duplicates` exact copies, `bad` malformed/invalid ones and `conflicts` conflicting ones, in a
// shuffled order where each conflict and duplicate comes after its original (same key, so same
// partition: the service sees the original first).
inline std::vector<Produced> buildTrades(TradeFactory& f, const std::string& prefix, int valid,
                                         int poor, int duplicates, int bad, int conflicts,
                                         int bad_base, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Produced> out;
  for (int i = 0; i < valid; ++i) {
    auto id = prefix + std::to_string(i);
    out.push_back(f.valid(id, i >= valid - poor));
  }
  for (int i = 0; i < bad; ++i) out.push_back(f.bad(bad_base + i));
  std::shuffle(out.begin(), out.end(), rng);
  // Repeats go after their original.
  std::vector<size_t> valid_pos;
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].reject_code.empty() && !out[i].expect_failed) valid_pos.push_back(i);
  std::shuffle(valid_pos.begin(), valid_pos.end(), rng);
  std::vector<std::pair<size_t, Produced>> inserts;
  for (int i = 0; i < duplicates + conflicts; ++i) {
    size_t orig = valid_pos.at(i);
    Produced p = i < duplicates ? out[orig] : f.conflicting(out[orig]);
    size_t at = std::uniform_int_distribution<size_t>(orig + 1, out.size())(rng);
    inserts.emplace_back(at, std::move(p));
  }
  std::stable_sort(inserts.begin(), inserts.end(),
                   [](auto& a, auto& b) { return a.first > b.first; });
  for (auto& [at, p] : inserts)
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), std::move(p));
  return out;
}

inline size_t countRejected(const std::vector<Produced>& v) {
  return std::count_if(v.begin(), v.end(),
                       [](const Produced& p) { return !p.reject_code.empty(); });
}

}  // namespace sc::test

// End-to-end Kafka tests (ctest labels kafka, e2e): the built settlement-coordinator binary against
// a real broker (scripts/kafka) and PostgreSQL, each test with its own topics, consumer group,
// database and ledger folder. Trades go in on trade.events; the tests read settlement.events and
// the dead-letter topic back with their own consumer and check them against the spec's payloads,
// DESIGN §3/§6/§7 and the service's own audit trail (GET /settlements/{id}/events).
//
// Needs KAFKA_BOOTSTRAP_SERVERS and DB_HOST (./scripts/test exports them); the broker-outage test
// also needs SC_KAFKA_SCRIPT and KAFKA_STATE_DIR. Missing configuration fails the tests.
//
// The trades: kafka_trades.h; the checks of settlement.events: kafka_event_checks.h; the fixture:
// kafka_e2e_fixture.h.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "e2e/kafka_e2e_fixture.h"

namespace sc::test {
namespace {

// --- the tests ----------------------------------------------------------------------------------

TEST_F(KafkaE2E, FiveThousandTradesSettleOnceAndOnlyBadOnesAreDeadLettered) {
  TradeFactory f(1234);
  // 4,830 unique valid trades (10 of which the ledger refuses) + 50 exact duplicates
  // + 100 malformed/invalid + 20 conflicting = 5,000 messages.
  auto all = buildTrades(f, "trd-a-", 4830, 10, 50, 100, 20, 0, 42);
  ASSERT_EQ(all.size(), 5000u);
  ASSERT_EQ(countRejected(all), 120u);
  // The only instance on its database leads the outbox relay, and says so.
  EXPECT_TRUE(waitFor(
      [&] {
        auto r = http_->get("/ready");
        return r.status == 200u && r.json()["details"].value("relay", "") == "leader";
      },
      10s))
      << http_->get("/ready").body;
  EXPECT_NE(http_->get("/metrics").body.find("\nsc_relay_leader 1\n"), std::string::npos);

  auto t0 = SteadyClock::now();
  ASSERT_NO_FATAL_FAILURE(produce(all));
  ASSERT_TRUE(waitForOutcomes(4820, 10, 240s))
      << "settled " << countWithStatus("settled") << " failed " << countWithStatus("failed")
      << " pending " << countWithStatus("pending");
  auto secs = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  RecordProperty("settle_seconds", std::to_string(secs));
  std::cerr << "5000 messages settled/failed in " << secs << " s\n";

  auto settlements = checkOneSettlementPerTrade(f);
  EXPECT_EQ(settlements.size(), 4830u);
  ASSERT_NO_FATAL_FAILURE(checkDeadLetters(all, /*allow_duplicates=*/false));
  auto sum = checkSettlementEvents(settlements, f);
  // No fault was injected: the idempotent producer must not have duplicated anything.
  EXPECT_EQ(sum.duplicates, 0u);
  EXPECT_EQ(sum.distinct, 4820u * 7 + 10u * 3)
      << "7 events per settled; pending, initiated, failed per refused";
}

TEST_F(KafkaE2E, BrokerDownTwentySecondsMidRunLosesNothingAndBacklogDrains) {
  const char* script = std::getenv("SC_KAFKA_SCRIPT");
  ASSERT_TRUE(script && *script) << "SC_KAFKA_SCRIPT is not set (./scripts/test exports it)";
  ASSERT_TRUE(std::getenv("KAFKA_STATE_DIR"))
      << "KAFKA_STATE_DIR is not set (./scripts/test exports it)";
  TradeFactory f(777);
  auto first = buildTrades(f, "trd-b1-", 800, 0, 10, 6, 2, 0, 7);
  auto second = buildTrades(f, "trd-b2-", 800, 0, 10, 6, 2, 100, 8);

  ASSERT_NO_FATAL_FAILURE(produce(first));
  ASSERT_TRUE(waitFor([&] { return countWithStatus("settled") >= 100; }, 120s));

  ASSERT_EQ(std::system((std::string("\"") + script + "\" stop").c_str()), 0);
  auto down_at = SteadyClock::now();
  // Kafka down: the service stays up, reports not ready, and keeps settling what it consumed.
  EXPECT_EQ(http_->get("/health").status, 200u);
  EXPECT_TRUE(waitFor([&] { return http_->get("/ready").status == 503u; }, 15s))
      << "still ready without Kafka";
  // Settling does not need Kafka: what was taken in before the outage settles during it (its
  // events wait in the outbox).
  int64_t settled_before = countWithStatus("settled");
  int64_t recorded = -1;
  EXPECT_TRUE(waitFor(
      [&] {
        recorded = countWithStatus(
            "settled,pending,initiated,seller_securities_locked,"
            "buyer_cash_locked,executing,confirmed,failed");
        return recorded > 0 && countWithStatus("settled") == recorded;
      },
      18s))
      << "settled " << countWithStatus("settled") << " of " << recorded << " taken in";
  std::cerr << "broker down: settled " << settled_before << " -> " << countWithStatus("settled")
            << " of " << recorded << " taken in before the outage\n";
  std::this_thread::sleep_for(20s - (SteadyClock::now() - down_at));  // the 20 s outage
  EXPECT_TRUE(service_->running());
  ASSERT_EQ(std::system((std::string("\"") + script + "\" start >/dev/null").c_str()), 0);
  auto up_at = SteadyClock::now();

  EXPECT_TRUE(waitFor([&] { return http_->get("/ready").status == 200u; }, 60s))
      << "not ready after restart";
  ASSERT_NO_FATAL_FAILURE(produce(second));
  ASSERT_TRUE(waitForOutcomes(1600, 0, 180s))
      << "settled " << countWithStatus("settled") << " pending " << countWithStatus("pending");
  std::cerr << "backlog settled "
            << std::chrono::duration<double>(SteadyClock::now() - up_at).count()
            << " s after the broker came back\n";

  std::vector<Produced> all = first;
  all.insert(all.end(), second.begin(), second.end());
  auto settlements = checkOneSettlementPerTrade(f);
  EXPECT_EQ(settlements.size(), 1600u);
  ASSERT_NO_FATAL_FAILURE(checkDeadLetters(all, /*allow_duplicates=*/true));
  auto sum = checkSettlementEvents(settlements, f);
  EXPECT_EQ(sum.distinct, 1600u * 7);
  // The relay never gives up on an event and the idempotent producer retries without duplicating.
  EXPECT_EQ(sum.duplicates, 0u);
}

TEST_F(KafkaE2E, KillNineThreeTimesMidRunLosesNothingAndDuplicatesOnlyUnrecordedDeliveries) {
  TradeFactory f(4242);
  std::vector<Produced> all;
  int64_t valid_so_far = 0;
  for (int round = 0; round < 3; ++round) {
    auto batch = buildTrades(f, "trd-k" + std::to_string(round) + "-", 900, 0, 10, 6, 2,
                             round * 100, 100 + round);
    all.insert(all.end(), batch.begin(), batch.end());
    ASSERT_NO_FATAL_FAILURE(produce(batch));
    int64_t base = valid_so_far;
    valid_so_far += 900;
    ASSERT_TRUE(waitFor([&] { return countWithStatus("settled") >= base + 300; }, 120s, 10ms))
        << "round " << round << ": settled " << countWithStatus("settled");
    int64_t settled_at_kill = countWithStatus("settled");
    ASSERT_NO_FATAL_FAILURE(restartAfterKill());
    std::cerr << "round " << round << ": killed with " << settled_at_kill << " of " << valid_so_far
              << " settled\n";
    EXPECT_LT(settled_at_kill, valid_so_far) << "the kill must land mid-run";
  }
  ASSERT_TRUE(waitForOutcomes(2700, 0, 180s))
      << "settled " << countWithStatus("settled") << " pending " << countWithStatus("pending");

  auto settlements = checkOneSettlementPerTrade(f);
  EXPECT_EQ(settlements.size(), 2700u);
  ASSERT_NO_FATAL_FAILURE(checkDeadLetters(all, /*allow_duplicates=*/true));
  auto sum = checkSettlementEvents(settlements, f);
  EXPECT_EQ(sum.distinct, 2700u * 7);
  // Only a batch whose delivery was not yet recorded can be re-sent: at most one per crash.
  EXPECT_LE(sum.duplicates, 3u * kRelayBatch);
  std::cerr << "settlement.events: " << sum.messages << " messages, " << sum.distinct
            << " distinct, " << sum.duplicates << " duplicates after 3 kills\n";

  // Every delivery is recorded now: a clean stop and a fresh start re-send nothing.
  http_.reset();
  ASSERT_EQ(service_->terminate(), 0) << service_->logTail();
  ASSERT_TRUE(service_->start()) << service_->error();
  http_ = std::make_unique<sc::test::HttpClient>(service_->port(), "127.0.0.1", 30s);
  ASSERT_TRUE(waitFor([&] { return http_->get("/ready").status == 200u; }, 30s));
  TopicReader after(bootstrap_, settlement_topic_);
  ASSERT_TRUE(after.readAtLeast(sum.messages, 60s)) << after.error();
  after.drainFor(3s);
  EXPECT_EQ(after.messages().size(), sum.messages)
      << "events re-sent although their delivery was recorded";
}

// The service reaches the broker only through its SASL/SCRAM listener (scripts/kafka), configured
// by KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and a KAFKA_PROPERTY_ pass-through: the consumer, the
// dead-letter producer and the relay all authenticate, or nothing would arrive where it is read.
class KafkaSaslE2E : public KafkaE2E {
 protected:
  static std::string need(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
  }
  void configureService(std::map<std::string, std::string>& env) override {
    for (const char* n : {"KAFKA_TEST_SASL_BOOTSTRAP_SERVERS", "KAFKA_TEST_SASL_MECHANISM",
                          "KAFKA_TEST_SASL_USERNAME", "KAFKA_TEST_SASL_PASSWORD_FILE"})
      ASSERT_FALSE(need(n).empty()) << n << " is not set (./scripts/test exports it)";
    env["KAFKA_BOOTSTRAP_SERVERS"] = need("KAFKA_TEST_SASL_BOOTSTRAP_SERVERS");
    env["KAFKA_SECURITY_PROTOCOL"] = "sasl_plaintext";
    env["KAFKA_SASL_MECHANISM"] = need("KAFKA_TEST_SASL_MECHANISM");
    env["KAFKA_SASL_USERNAME"] = need("KAFKA_TEST_SASL_USERNAME");
    env["KAFKA_SASL_PASSWORD_FILE"] = need("KAFKA_TEST_SASL_PASSWORD_FILE");
    env["KAFKA_PROPERTY_socket_keepalive_enable"] = "true";
  }
};

TEST_F(KafkaSaslE2E, ConsumerDeadLettersAndRelayAllWorkOverScram) {
  TradeFactory f(4321);
  auto all = buildTrades(f, "trd-s-", 300, 0, 5, 10, 0, 0, 9);
  ASSERT_NO_FATAL_FAILURE(produce(all));
  ASSERT_TRUE(waitForOutcomes(300, 0, 120s)) << "settled " << countWithStatus("settled") << "\n"
                                             << service_->logTail();
  auto settlements = checkOneSettlementPerTrade(f);
  ASSERT_NO_FATAL_FAILURE(checkDeadLetters(all, /*allow_duplicates=*/false));
  auto sum = checkSettlementEvents(settlements, f);
  EXPECT_EQ(sum.distinct, 300u * 7);
  // The settings reached librdkafka: it logged nothing about an unknown property.
  EXPECT_EQ(service_->logTail(1 << 20).find("socket.keepalive.enable"), std::string::npos);
}

TEST(KafkaSasl, AWrongPasswordIsRefusedByTheBroker) {
  const char* bootstrap = std::getenv("KAFKA_TEST_SASL_BOOTSTRAP_SERVERS");
  ASSERT_TRUE(bootstrap && *bootstrap) << "KAFKA_TEST_SASL_BOOTSTRAP_SERVERS is not set";
  struct Errors : RdKafka::EventCb {
    void event_cb(RdKafka::Event& e) override {
      if (e.type() == RdKafka::Event::EVENT_ERROR && e.err() == RdKafka::ERR__AUTHENTICATION)
        authentication_failed = true;
    }
    bool authentication_failed = false;
  } errors;
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  for (const auto& [k, v] :
       std::map<std::string, std::string>{{"bootstrap.servers", bootstrap},
                                          {"security.protocol", "sasl_plaintext"},
                                          {"sasl.mechanisms", "SCRAM-SHA-256"},
                                          {"sasl.username", "sc"},
                                          {"sasl.password", "not-the-password"}})
    ASSERT_EQ(conf->set(k, v, err), RdKafka::Conf::CONF_OK) << err;
  ASSERT_EQ(conf->set("event_cb", static_cast<RdKafka::EventCb*>(&errors), err),
            RdKafka::Conf::CONF_OK)
      << err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(p) << err;
  auto deadline = SteadyClock::now() + 30s;
  while (!errors.authentication_failed && SteadyClock::now() < deadline) p->poll(100);
  EXPECT_TRUE(errors.authentication_failed) << "no authentication failure reported";
  RdKafka::Metadata* md = nullptr;
  EXPECT_NE(p->metadata(true, nullptr, &md, 2000), RdKafka::ERR_NO_ERROR)
      << "the broker served metadata to a wrong password";
  delete md;
}

// Static membership (KAFKA_GROUP_INSTANCE_ID): two live instances given one id fence each other.
// The older is told by the broker, logs the id, takes no more trades and says so in /ready; the
// newer consumes. (A misconfiguration that would otherwise split the partitions silently.)
class StaticMemberE2E : public KafkaE2E {
 protected:
  void configureService(std::map<std::string, std::string>& env) override {
    env["KAFKA_GROUP_INSTANCE_ID"] = "sc-static-a";
    env["LOG_LEVEL"] = "INFO";  // the rebalance lines
  }
  static bool has(const std::string& log, const std::string& what) {
    return log.find(what) != std::string::npos;
  }
  static std::string consumerState(ServiceProcess& s) {
    try {
      HttpClient c(s.port(), "127.0.0.1", std::chrono::seconds(5));
      auto j = c.get("/ready").json();
      if (j.is_object() && j.contains("details")) return j["details"].value("consumer", "");
    } catch (const std::exception&) {
    }
    return "";
  }
};

TEST_F(StaticMemberE2E, ASecondLiveInstanceWithItsIdFencesTheFirstWhichSaysSo) {
  ASSERT_TRUE(
      waitFor([&] { return has(service_->logTail(1 << 20), "consumer group: assigned"); }, 60s))
      << "the first instance never got its partitions\n"
      << service_->logTail();
  EXPECT_EQ(consumerState(*service_), "member");
  auto env = env_;
  env["LEDGER_DATA_DIR"] = makeTempDir("kafka-e2e-ledger-b");
  ServiceProcess second(env);
  ASSERT_TRUE(second.start()) << second.error();
  EXPECT_TRUE(waitFor([&] { return consumerState(*service_) == "fatal"; }, 60s))
      << "the first instance was not fenced\n"
      << service_->logTail();
  EXPECT_TRUE(has(service_->logTail(1 << 20), "KAFKA_GROUP_INSTANCE_ID=sc-static-a"))
      << service_->logTail();
  EXPECT_TRUE(
      waitFor([&] { return has(second.logTail(1 << 20), "consumer group: assigned"); }, 60s))
      << second.logTail();
  EXPECT_EQ(consumerState(second), "member");
  EXPECT_EQ(second.terminate(), 0) << second.logTail();
}

}  // namespace
}  // namespace sc::test

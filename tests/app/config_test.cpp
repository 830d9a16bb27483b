// Configuration (src/app/config.*): the transport-security variables of issue 11 — read, checked
// against each other, named in every error — and what they become for libpq and librdkafka.
#include "app/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace sc::test {
namespace {

using Env = std::map<std::string, std::string>;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sc-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string file(const std::string& name, const std::string& content) {
    auto p = dir_ / name;
    std::ofstream(p) << content;
    return p.string();
  }
  // The ConfigError message for `env`; fails the test if it is accepted.
  static std::string refusal(const Env& env) {
    try {
      app::Config::fromEnvironment(env);
    } catch (const app::ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "accepted";
    return "";
  }
  std::filesystem::path dir_;
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST_F(ConfigTest, DatabaseTlsAndPasswordFileReachTheConnectionString) {
  auto ca = file("ca.crt", "-----BEGIN CERTIFICATE-----\n");
  auto pw = file("db.password", "s3cr'et\\x\nsecond line ignored\n");
  auto c = app::Config::fromEnvironment(
      {{"DB_SSLMODE", "verify-full"}, {"DB_SSLROOTCERT", ca}, {"DB_PASSWORD_FILE", pw}});
  EXPECT_EQ(c.db_password, "s3cr'et\\x");
  auto ci = c.postgresConnInfo();
  EXPECT_TRUE(contains(ci, " sslmode='verify-full'")) << ci;
  EXPECT_TRUE(contains(ci, " sslrootcert='" + ca + "'")) << ci;
  EXPECT_TRUE(contains(ci, R"( password='s3cr\'et\\x')")) << ci;
  // Without them, libpq's own defaults (and PGSSLMODE) apply.
  auto plain = app::Config::fromEnvironment({}).postgresConnInfo();
  EXPECT_FALSE(contains(plain, "sslmode")) << plain;
  EXPECT_FALSE(contains(plain, "sslrootcert")) << plain;
}

TEST_F(ConfigTest, DatabaseTlsMistakesAreRefusedByName) {
  auto ca = file("ca.crt", "x");
  EXPECT_TRUE(contains(refusal({{"DB_SSLMODE", "verify"}}), "DB_SSLMODE='verify' must be one of"));
  EXPECT_TRUE(contains(refusal({{"DB_SSLMODE", "verify-full"}, {"DB_SSLROOTCERT", "/nope/ca"}}),
                       "DB_SSLROOTCERT=/nope/ca is not a readable file"));
  EXPECT_TRUE(contains(refusal({{"DB_SSLMODE", "require"}, {"DB_SSLROOTCERT", ca}}),
                       "does not verify the server"));
  EXPECT_TRUE(contains(refusal({{"DB_PASSWORD_FILE", "/nope/pw"}}),
                       "DB_PASSWORD_FILE=/nope/pw is not a readable file"));
  EXPECT_TRUE(contains(refusal({{"DB_PASSWORD_FILE", file("empty", "\n")}}), "empty first line"));
  EXPECT_TRUE(contains(refusal({{"DB_PASSWORD", "a"}, {"DB_PASSWORD_FILE", file("pw", "b")}}),
                       "DB_PASSWORD and DB_PASSWORD_FILE exclude each other"));
}

TEST_F(ConfigTest, KafkaSecurityBecomesLibrdkafkaProperties) {
  auto pw = file("kafka.password", "kpass\r\n");
  auto ca = file("kafka-ca.pem", "x");
  auto c = app::Config::fromEnvironment({{"KAFKA_SECURITY_PROTOCOL", "sasl_ssl"},
                                         {"KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"},
                                         {"KAFKA_SASL_USERNAME", "svc"},
                                         {"KAFKA_SASL_PASSWORD_FILE", pw},
                                         {"KAFKA_SSL_CA_FILE", ca},
                                         {"KAFKA_PROPERTY_socket_keepalive_enable", "true"},
                                         {"KAFKA_PROPERTY_security_protocol", "plaintext"}});
  auto p = c.kafkaClientProperties();
  EXPECT_EQ(p["security.protocol"], "sasl_ssl");  // the named setting wins over a pass-through
  EXPECT_EQ(p["sasl.mechanisms"], "SCRAM-SHA-512");
  EXPECT_EQ(p["sasl.username"], "svc");
  EXPECT_EQ(p["sasl.password"], "kpass");
  EXPECT_EQ(p["ssl.ca.location"], ca);
  EXPECT_EQ(p["socket.keepalive.enable"], "true");
  EXPECT_TRUE(app::Config::fromEnvironment({}).kafkaClientProperties().empty());
}

TEST_F(ConfigTest, KafkaSecurityMistakesAreRefusedByName) {
  auto pw = file("pw", "x");
  EXPECT_TRUE(contains(refusal({{"KAFKA_SECURITY_PROTOCOL", "SASL"}}),
                       "KAFKA_SECURITY_PROTOCOL='SASL' must be one of"));
  EXPECT_TRUE(contains(refusal({{"KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"}}),
                       "needs KAFKA_SASL_MECHANISM"));
  EXPECT_TRUE(contains(refusal({{"KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"},
                                {"KAFKA_SASL_MECHANISM", "SCRAM-SHA-256"},
                                {"KAFKA_SASL_USERNAME", "u"}}),
                       "needs KAFKA_SASL_PASSWORD_FILE"));
  EXPECT_TRUE(contains(refusal({{"KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"},
                                {"KAFKA_SASL_MECHANISM", "SCRAM-SHA-256"},
                                {"KAFKA_SASL_USERNAME", "u"},
                                {"KAFKA_SASL_PASSWORD_FILE", "/nope"}}),
                       "KAFKA_SASL_PASSWORD_FILE=/nope is not a readable file"));
  EXPECT_TRUE(
      contains(refusal({{"KAFKA_SASL_USERNAME", "u"}}), "is not sasl_plaintext or sasl_ssl"));
  EXPECT_TRUE(contains(
      refusal({{"KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"}, {"KAFKA_SASL_MECHANISM", "GSSAPI"}}),
      "KAFKA_SASL_MECHANISM='GSSAPI' must be one of"));
  EXPECT_TRUE(contains(refusal({{"KAFKA_SSL_CA_FILE", pw}}), "is not ssl or sasl_ssl"));
  EXPECT_TRUE(contains(refusal({{"KAFKA_PROPERTY_", "x"}}),
                       "KAFKA_PROPERTY_ names no librdkafka property"));
}

TEST_F(ConfigTest, HttpTlsNeedsBothReadableFiles) {
  auto cert = file("server.crt", "x");
  auto key = file("server.key", "x");
  auto c = app::Config::fromEnvironment({{"HTTP_TLS_CERT_FILE", cert}, {"HTTP_TLS_KEY_FILE", key}});
  EXPECT_TRUE(c.httpTls());
  EXPECT_FALSE(app::Config::fromEnvironment({}).httpTls());
  EXPECT_TRUE(contains(refusal({{"HTTP_TLS_CERT_FILE", cert}}), "go together"));
  EXPECT_TRUE(contains(refusal({{"HTTP_TLS_KEY_FILE", key}}), "go together"));
  EXPECT_TRUE(contains(refusal({{"HTTP_TLS_CERT_FILE", "/nope.crt"}, {"HTTP_TLS_KEY_FILE", key}}),
                       "HTTP_TLS_CERT_FILE=/nope.crt is not a readable file"));
}

TEST_F(ConfigTest, RejectionBoundsHaveDefaultsAndRefuseOutOfRangeValuesByName) {
  auto d = app::Config::fromEnvironment({});
  EXPECT_EQ(d.rejections_retention_days, 30);
  EXPECT_EQ(d.rejections_max_rows, 1000000);
  EXPECT_EQ(d.rejections_http_per_minute, 60);
  auto c = app::Config::fromEnvironment({{"REJECTIONS_RETENTION_DAYS", "7"},
                                         {"REJECTIONS_MAX_ROWS", "5000"},
                                         {"REJECTIONS_HTTP_PER_MINUTE", "0"}});
  EXPECT_EQ(c.rejections_retention_days, 7);
  EXPECT_EQ(c.rejections_max_rows, 5000);
  EXPECT_EQ(c.rejections_http_per_minute, 0);
  EXPECT_TRUE(contains(refusal({{"REJECTIONS_RETENTION_DAYS", "0"}}),
                       "REJECTIONS_RETENTION_DAYS=0 is out of range"));
  EXPECT_TRUE(contains(refusal({{"REJECTIONS_MAX_ROWS", "10"}}), "REJECTIONS_MAX_ROWS=10"));
  EXPECT_TRUE(
      contains(refusal({{"REJECTIONS_HTTP_PER_MINUTE", "-1"}}), "REJECTIONS_HTTP_PER_MINUTE=-1"));
  EXPECT_TRUE(contains(refusal({{"REJECTIONS_HTTP_PER_MINUTE", "many"}}),
                       "REJECTIONS_HTTP_PER_MINUTE='many' is not a whole number"));
}

TEST_F(ConfigTest, AGroupInstanceIdIsOptionalAndMustBeAKafkaId) {
  EXPECT_EQ(app::Config::fromEnvironment({}).kafka_group_instance_id, "");
  EXPECT_EQ(app::Config::fromEnvironment({{"KAFKA_GROUP_INSTANCE_ID", "sc-host-1.a_b"}})
                .kafka_group_instance_id,
            "sc-host-1.a_b");
  EXPECT_TRUE(contains(refusal({{"KAFKA_GROUP_INSTANCE_ID", "host 1"}}),
                       "KAFKA_GROUP_INSTANCE_ID='host 1' must be at most 249 letters"));
  EXPECT_TRUE(contains(refusal({{"KAFKA_GROUP_INSTANCE_ID", std::string(250, 'a')}}),
                       "KAFKA_GROUP_INSTANCE_ID="));
  EXPECT_TRUE(contains(refusal({{"KAFKA_GROUP_INSTANCE_ID", ".."}}), "not '.' or '..'"));
}

TEST_F(ConfigTest, ReconcilerSettingsHaveDefaultsAndRefuseBadValuesByName) {
  auto d = app::Config::fromEnvironment({{"KAFKA_CONSUMER_GROUP", "sc-a"}});
  EXPECT_TRUE(d.rec_enabled);
  EXPECT_EQ(d.rec_interval_ms, 5000);
  EXPECT_EQ(d.rec_batch, 500);
  EXPECT_EQ(d.rec_ledger_batch, 5000);
  EXPECT_EQ(d.rec_event_grace_ms, 10000);
  EXPECT_EQ(d.rec_quiet_ms, 10000);
  EXPECT_EQ(d.rec_consumer_group, "sc-a-reconciler");
  auto c = app::Config::fromEnvironment({{"REC_ENABLED", "false"},
                                         {"REC_INTERVAL_MS", "250"},
                                         {"REC_BATCH", "2000"},
                                         {"REC_EVENT_GRACE_MS", "0"},
                                         {"REC_CONSUMER_GROUP", "audit-reader"}});
  EXPECT_FALSE(c.rec_enabled);
  EXPECT_EQ(c.rec_interval_ms, 250);
  EXPECT_EQ(c.rec_batch, 2000);
  EXPECT_EQ(c.rec_event_grace_ms, 0);
  EXPECT_EQ(c.rec_consumer_group, "audit-reader");
  EXPECT_TRUE(contains(refusal({{"REC_ENABLED", "yes"}}), "REC_ENABLED='yes' must be one of"));
  EXPECT_TRUE(contains(refusal({{"REC_BATCH", "0"}}), "REC_BATCH=0 is out of range"));
  EXPECT_TRUE(contains(refusal({{"REC_INTERVAL_MS", "soon"}}),
                       "REC_INTERVAL_MS='soon' is not a whole number"));
  EXPECT_TRUE(contains(refusal({{"REC_QUIET_MS", "5"}}), "REC_QUIET_MS=5 is out of range"));
  EXPECT_TRUE(
      contains(refusal({{"REC_CONSUMER_GROUP", ""}}), "REC_CONSUMER_GROUP must not be empty"));
}

// A longest retry delay of 0 would retry a step that never gives up (a release, a committed
// settle's verification) in a busy loop against the ledger: refused.
TEST_F(ConfigTest, TheLongestRetryDelayIsAtLeastASecond) {
  EXPECT_EQ(app::Config::fromEnvironment({}).settlement_retry_max_delay_seconds, 300);
  EXPECT_EQ(app::Config::fromEnvironment({{"SETTLEMENT_RETRY_MAX_DELAY_SECONDS", "10"}})
                .settlement_retry_max_delay_seconds,
            10);
  EXPECT_TRUE(contains(refusal({{"SETTLEMENT_RETRY_MAX_DELAY_SECONDS", "0"}}),
                       "SETTLEMENT_RETRY_MAX_DELAY_SECONDS=0 is out of range"));
}

// The embedded ledger's bounds: a compaction threshold of a few bytes would rewrite the journal
// at almost every command, and merging "above 1" would merge every new holding with the last.
TEST_F(ConfigTest, LedgerCompactionAndMergingRefuseThresholdsThatWouldThrash) {
  const auto d = app::Config::fromEnvironment({});
  EXPECT_EQ(d.ledger_prune_interval_seconds, 10);
  EXPECT_EQ(d.ledger_prune_publish_lag_seconds, 600) << "FloorReads::kDoubtful";
  EXPECT_EQ(d.ledger_compact_bytes, 64LL << 20);
  EXPECT_EQ(d.ledger_merge_holdings_above, 16);
  const auto off = app::Config::fromEnvironment({{"LEDGER_PRUNE_INTERVAL_SECONDS", "0"},
                                                 {"LEDGER_COMPACT_BYTES", "0"},
                                                 {"LEDGER_MERGE_HOLDINGS_ABOVE", "0"}});
  EXPECT_EQ(off.ledger_prune_interval_seconds, 0);
  EXPECT_EQ(off.ledger_compact_bytes, 0);
  EXPECT_EQ(off.ledger_merge_holdings_above, 0);
  EXPECT_TRUE(contains(refusal({{"LEDGER_COMPACT_BYTES", "4096"}}),
                       "LEDGER_COMPACT_BYTES must be 0 (never compact) or at least 1048576"));
  EXPECT_TRUE(contains(refusal({{"LEDGER_MERGE_HOLDINGS_ABOVE", "1"}}),
                       "LEDGER_MERGE_HOLDINGS_ABOVE must be 0 (never merge) or at least 2"));
  EXPECT_TRUE(contains(refusal({{"LEDGER_PRUNE_INTERVAL_SECONDS", "-1"}}),
                       "LEDGER_PRUNE_INTERVAL_SECONDS"));
  EXPECT_TRUE(contains(refusal({{"LEDGER_PRUNE_PUBLISH_LAG_SECONDS", "0"}}),
                       "LEDGER_PRUNE_PUBLISH_LAG_SECONDS"));
}

}  // namespace
}  // namespace sc::test

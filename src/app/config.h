#pragma once
// One typed configuration, read from the environment at start-up and validated (STYLE 9).
// A bad value throws ConfigError naming the variable; main prints it and exits 2.
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace sc::app {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Config {
  // Application
  std::string environment = "development";  // ENVIRONMENT
  std::string log_level = "INFO";           // LOG_LEVEL: TRACE DEBUG INFO WARN ERROR
  // HTTP
  std::string http_bind = "0.0.0.0";     // HTTP_BIND
  int port = 8003;                       // PORT (0 = any free port; the chosen one is logged)
  int http_threads = 2;                  // HTTP_THREADS
  size_t http_max_body_bytes = 1 << 20;  // HTTP_MAX_BODY_BYTES
  int http_read_timeout_seconds = 30;    // HTTP_READ_TIMEOUT_SECONDS
  std::string api_token;                 // API_TOKEN: when set, writes need "Authorization: Bearer"
  // Database
  std::string db_host = "localhost";       // DB_HOST (a path = Unix socket directory)
  int db_port = 5432;                      // DB_PORT
  std::string db_name = "cantondex";       // DB_NAME
  std::string db_user = "cantondex_user";  // DB_USER
  std::string db_password;                 // DB_PASSWORD
  int db_pool_size = 8;                    // DB_POOL_SIZE
  int db_statement_timeout_ms = 30000;     // DB_STATEMENT_TIMEOUT_MS (server-side limit per
                                           // statement; replies are awaited 5 s longer)
  // Kafka
  std::string kafka_bootstrap_servers;  // KAFKA_BOOTSTRAP_SERVERS (empty: run without Kafka)
  std::string settlement_events_topic = "settlement.events";    // SETTLEMENT_EVENTS_TOPIC
  std::string trade_events_topic = "trade.events";              // TRADE_EVENTS_TOPIC
  std::string trade_events_dlq_topic = "trade.events.dlq";      // TRADE_EVENTS_DLQ_TOPIC
  std::string kafka_consumer_group = "settlement-coordinator";  // KAFKA_CONSUMER_GROUP
  // Canton / ledger
  std::string ledger_mode = "embedded";        // LEDGER_MODE: embedded
  std::string ledger_data_dir = "var/ledger";  // LEDGER_DATA_DIR (embedded ledger journal)
  std::vector<std::string> ledger_synchronizers = {"securities", "cash",
                                                   "settlement"};    // LEDGER_SYNCHRONIZERS
  std::string canton_domain_host = "localhost";                      // CANTON_DOMAIN_HOST
  int canton_domain_port = 5008;                                     // CANTON_DOMAIN_PORT
  std::string canton_ledger_api_host = "localhost";                  // CANTON_LEDGER_API_HOST
  int canton_ledger_api_port = 4751;                                 // CANTON_LEDGER_API_PORT
  std::string securities_issuer_party = "securities-issuer::12345";  // SECURITIES_ISSUER_PARTY
  std::string cash_provider_party = "cash-provider::67890";          // CASH_PROVIDER_PARTY
  // Settlement
  int settlement_timeout_seconds = 300;      // SETTLEMENT_TIMEOUT_SECONDS
  int settlement_retry_attempts = 3;         // SETTLEMENT_RETRY_ATTEMPTS
  int settlement_retry_delay_seconds = 30;   // SETTLEMENT_RETRY_DELAY_SECONDS
  int settlement_batch_size = 100;           // SETTLEMENT_BATCH_SIZE
  int settlement_workers = 2;                // SETTLEMENT_WORKERS
  int settlement_lease_seconds = 15;         // SETTLEMENT_LEASE_SECONDS (a crashed worker's
                                             // settlements are picked up after this)
  int settlement_poll_millis = 200;          // SETTLEMENT_POLL_MILLIS (idle poll when no work)
  std::vector<std::string> allowed_symbols;  // ALLOWED_SYMBOLS (comma list; empty = any)

  // Reads every variable above from `env` (defaults where absent), validates, throws ConfigError.
  static Config fromEnvironment(const std::map<std::string, std::string>& env);
  static Config fromProcessEnvironment();
  // libpq connection string: TCP keepalives and tcp_user_timeout (a dead server or network is
  // noticed within about 30 s) and statement_timeout = DB_STATEMENT_TIMEOUT_MS on every session.
  std::string postgresConnInfo() const;
};

}  // namespace sc::app

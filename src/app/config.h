#pragma once
// One typed configuration, read from the environment at start-up and validated (STYLE 9).
// A bad value throws ConfigError naming the variable; main prints it and exits 2.
#include <cstdint>
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
  std::string http_bind;  // HTTP_BIND (default 0.0.0.0 with authentication, else 127.0.0.1)
  int port = 8003;        // PORT (0 = any free port; the chosen one is logged)
  int http_threads = 2;   // HTTP_THREADS
  size_t http_max_body_bytes = 1 << 20;         // HTTP_MAX_BODY_BYTES
  int http_read_timeout_seconds = 30;           // HTTP_READ_TIMEOUT_SECONDS
  int http_max_connections = 1024;              // HTTP_MAX_CONNECTIONS (0: unlimited)
  int http_request_deadline_ms = 30000;         // HTTP_REQUEST_DEADLINE_MS
  int http_max_requests_per_connection = 1000;  // HTTP_MAX_REQUESTS_PER_CONNECTION (0: unlimited)
  std::string http_tls_cert_file;  // HTTP_TLS_CERT_FILE (PEM chain; with the key: HTTPS only)
  std::string http_tls_key_file;   // HTTP_TLS_KEY_FILE (PEM private key)
  bool httpTls() const { return !http_tls_cert_file.empty(); }
  // Authentication (DESIGN §10, README "Security"). Any AUTH_* but AUTH_DISABLED turns it on.
  std::string auth_jwks_file;                    // AUTH_JWKS_FILE
  std::string auth_jwks_url;                     // AUTH_JWKS_URL (http:// or https://)
  std::string auth_issuer;                       // AUTH_ISSUER (required with auth)
  std::string auth_audience;                     // AUTH_AUDIENCE (required with auth)
  int auth_leeway_seconds = 30;                  // AUTH_LEEWAY_SECONDS
  std::string auth_roles_claim = "roles";        // AUTH_ROLES_CLAIM
  std::string auth_accounts_claim = "accounts";  // AUTH_ACCOUNTS_CLAIM
  std::string auth_hs256_secret_file;            // AUTH_HS256_SECRET_FILE (development only)
  bool auth_disabled = false;  // AUTH_DISABLED=true: no auth on a non-loopback bind
  bool authEnabled() const {
    return !auth_jwks_file.empty() || !auth_jwks_url.empty() || !auth_hs256_secret_file.empty();
  }
  bool production() const { return environment == "production"; }
  // Database
  std::string db_host = "localhost";       // DB_HOST (a path = Unix socket directory)
  int db_port = 5432;                      // DB_PORT
  std::string db_name = "cantondex";       // DB_NAME
  std::string db_user = "cantondex_user";  // DB_USER
  std::string db_password;                 // DB_PASSWORD
  std::string db_password_file;            // DB_PASSWORD_FILE (first line; excludes DB_PASSWORD)
  std::string db_sslmode;      // DB_SSLMODE: disable allow prefer require verify-ca verify-full
                               // (empty: libpq's default, prefer; or PGSSLMODE)
  std::string db_sslrootcert;  // DB_SSLROOTCERT (CA file for verify-ca / verify-full)
  int db_pool_size = 8;        // DB_POOL_SIZE
  int db_statement_timeout_ms = 30000;  // DB_STATEMENT_TIMEOUT_MS (server-side limit per
                                        // statement; replies are awaited 5 s longer)
  // Kafka
  std::string kafka_bootstrap_servers;  // KAFKA_BOOTSTRAP_SERVERS (empty: run without Kafka)
  // Without Kafka: undelivered outbox events kept at most (store/outbox_cap.h).
  int64_t outbox_max_rows = 100000;                             // OUTBOX_MAX_ROWS
  std::string settlement_events_topic = "settlement.events";    // SETTLEMENT_EVENTS_TOPIC
  std::string trade_events_topic = "trade.events";              // TRADE_EVENTS_TOPIC
  std::string trade_events_dlq_topic = "trade.events.dlq";      // TRADE_EVENTS_DLQ_TOPIC
  std::string kafka_consumer_group = "settlement-coordinator";  // KAFKA_CONSUMER_GROUP
  std::string kafka_group_instance_id;   // KAFKA_GROUP_INSTANCE_ID (empty: dynamic membership)
  std::string kafka_security_protocol;   // KAFKA_SECURITY_PROTOCOL: plaintext ssl sasl_plaintext
                                         // sasl_ssl (empty: librdkafka's default, plaintext)
  std::string kafka_sasl_mechanism;      // KAFKA_SASL_MECHANISM: PLAIN SCRAM-SHA-256 SCRAM-SHA-512
  std::string kafka_sasl_username;       // KAFKA_SASL_USERNAME
  std::string kafka_sasl_password_file;  // KAFKA_SASL_PASSWORD_FILE (first line)
  std::string kafka_sasl_password;       // read from KAFKA_SASL_PASSWORD_FILE at start
  std::string kafka_ssl_ca_file;         // KAFKA_SSL_CA_FILE (PEM; empty: system CAs)
  // KAFKA_PROPERTY_<name>: any librdkafka property, '_' in <name> read as '.'
  // (KAFKA_PROPERTY_socket_keepalive_enable=true). Applied to the consumer, the DLQ producer and
  // the relay; the settings above are applied after them and win.
  std::map<std::string, std::string> kafka_properties;
  // Every librdkafka property of the settings above (security, SASL password read from its file).
  std::map<std::string, std::string> kafkaClientProperties() const;
  // Canton / ledger
  std::string ledger_mode = "embedded";        // LEDGER_MODE: embedded | canton
  std::string ledger_data_dir = "var/ledger";  // LEDGER_DATA_DIR (embedded ledger journal)
  std::vector<std::string> ledger_synchronizers = {"securities", "cash",
                                                   "settlement"};  // LEDGER_SYNCHRONIZERS
  // Embedded ledger's bounded resources (issue 12): pruning below the watermark every this many
  // seconds (0: never), journal compaction once it grew by this many bytes (0: never), and the
  // merge of an owner's free holdings of an asset past this many (0: never).
  int ledger_prune_interval_seconds = 10;  // LEDGER_PRUNE_INTERVAL_SECONDS
  // Canton: the published watermark keeps a ledger end read at least this long ago (and the
  // lease): another instance's floor whose lease answer it lost is held that long (10 min).
  int ledger_prune_publish_lag_seconds = 600;  // LEDGER_PRUNE_PUBLISH_LAG_SECONDS
  int64_t ledger_compact_bytes = 64LL << 20;   // LEDGER_COMPACT_BYTES
  bool ledger_compact_in_child = true;         // LEDGER_COMPACT_IN_CHILD: true | false
  int ledger_merge_holdings_above = 16;
  int64_t ledger_reconcile_window =
      100000;  // LEDGER_RECONCILE_WINDOW (offsets)       // LEDGER_MERGE_HOLDINGS_ABOVE
  // CANTON_DOMAIN_HOST/PORT: read and validated as the spec names them, but not used: a Canton
  // 3.x participant connects to its synchronizers itself, a Ledger API client only names one by
  // id (CANTON_SETTLEMENT_SYNCHRONIZER). See src/ledger/canton/README.md.
  std::string canton_domain_host = "localhost";      // CANTON_DOMAIN_HOST
  int canton_domain_port = 5008;                     // CANTON_DOMAIN_PORT
  std::string canton_ledger_api_host = "localhost";  // CANTON_LEDGER_API_HOST
  int canton_ledger_api_port = 4751;                 // CANTON_LEDGER_API_PORT
  bool canton_ledger_api_tls = false;                // CANTON_LEDGER_API_TLS: true | false
  std::string canton_ledger_api_ca_file;  // CANTON_LEDGER_API_CA_FILE (empty: system CAs)
  std::string canton_user_id = "settlement-coordinator";  // CANTON_USER_ID (acts as the parties)
  std::string canton_auth_token_file;  // CANTON_AUTH_TOKEN_FILE (Bearer JWT, re-read on change)
  // OAuth2 client credentials instead of a token file (refreshed before expiry):
  std::string canton_oauth_token_url;           // CANTON_OAUTH_TOKEN_URL (http(s)://…)
  std::string canton_oauth_client_id;           // CANTON_OAUTH_CLIENT_ID
  std::string canton_oauth_client_secret_file;  // CANTON_OAUTH_CLIENT_SECRET_FILE
  std::string canton_oauth_audience;            // CANTON_OAUTH_AUDIENCE (optional)
  int canton_request_timeout_ms = 30000;        // CANTON_REQUEST_TIMEOUT_MS
  int canton_pool_size = 8;                     // CANTON_POOL_SIZE (keep-alive connections)
  int canton_submit_attempts = 3;              // CANTON_SUBMIT_ATTEMPTS (resends of one command id)
  std::string canton_settlement_synchronizer;  // CANTON_SETTLEMENT_SYNCHRONIZER (empty: last of
                                               // LEDGER_SYNCHRONIZERS)
  // CANTON_CASH_ASSETS: assets funded as CashHolding (others as SecuritiesHolding)
  std::vector<std::string> canton_cash_assets = {"USD", "USDC", "USDT", "EUR", "GBP", "CHF", "JPY"};
  std::string securities_issuer_party = "securities-issuer::12345";  // SECURITIES_ISSUER_PARTY
  std::string cash_provider_party = "cash-provider::67890";          // CASH_PROVIDER_PARTY
  // Settlement
  int settlement_timeout_seconds = 300;          // SETTLEMENT_TIMEOUT_SECONDS
  int settlement_retry_attempts = 3;             // SETTLEMENT_RETRY_ATTEMPTS
  int settlement_retry_delay_seconds = 30;       // SETTLEMENT_RETRY_DELAY_SECONDS
  int settlement_retry_max_delay_seconds = 300;  // SETTLEMENT_RETRY_MAX_DELAY_SECONDS
  int settlement_batch_size = 100;               // SETTLEMENT_BATCH_SIZE
  int settlement_workers = 2;                    // SETTLEMENT_WORKERS
  int settlement_lease_seconds = 15;             // SETTLEMENT_LEASE_SECONDS (a crashed worker's
                                                 // settlements are picked up after this)
  int settlement_poll_millis = 200;              // SETTLEMENT_POLL_MILLIS (idle poll when no work)
  std::vector<std::string> allowed_symbols;      // ALLOWED_SYMBOLS (comma list; empty = any)
  // Rejected trades kept in PostgreSQL (GET /rejections): bounded by age and row count, and the
  // HTTP ones by a rate per client address.
  int rejections_retention_days = 30;     // REJECTIONS_RETENTION_DAYS
  int64_t rejections_max_rows = 1000000;  // REJECTIONS_MAX_ROWS
  int rejections_http_per_minute = 60;    // REJECTIONS_HTTP_PER_MINUTE (per address; 0 = none)
  // settlement_events (the audit trail) is partitioned by month: months older than this many
  // (and no longer needed: store/event_partitions.h) are dropped. 0: every month is kept.
  int events_retention_months = 0;  // EVENTS_RETENTION_MONTHS
  // Reconciler (DESIGN §11, README "Reconciliation"): background passes comparing PostgreSQL,
  // the ledger and settlement.events.
  bool rec_enabled = true;         // REC_ENABLED: true | false (POST /reconciliation/run works)
  int rec_interval_ms = 5000;      // REC_INTERVAL_MS (between passes)
  int rec_batch = 500;             // REC_BATCH (settlements per pass)
  int rec_ledger_batch = 5000;     // REC_LEDGER_BATCH (ledger settles and credits per pass)
  int rec_event_grace_ms = 10000;  // REC_EVENT_GRACE_MS (before an unseen event is missing)
  int rec_quiet_ms = 10000;        // REC_QUIET_MS (an active settlement must rest this long)
  std::string rec_consumer_group;  // REC_CONSUMER_GROUP (default KAFKA_CONSUMER_GROUP +
                                   // "-reconciler")

  // Reads every variable above from `env` (defaults where absent), validates, throws ConfigError.
  static Config fromEnvironment(const std::map<std::string, std::string>& env);
  static Config fromProcessEnvironment();
  // libpq connection string: TCP keepalives and tcp_user_timeout (a dead server or network is
  // noticed within about 30 s) and statement_timeout = DB_STATEMENT_TIMEOUT_MS on every session.
  // DB_SSLMODE / DB_SSLROOTCERT / the password (DB_PASSWORD or the file's first line) are added
  // when set.
  std::string postgresConnInfo() const;
};

}  // namespace sc::app

#include "app/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>

extern char** environ;

namespace sc::app {
namespace {

class Reader {
 public:
  explicit Reader(const std::map<std::string, std::string>& env) : env_(env) {}

  void str(const char* name, std::string& out) const {
    if (auto it = env_.find(name); it != env_.end()) out = it->second;
  }
  // Keeps `out` (a default) when unset; set, it must not be empty.
  void nonEmptyIfSet(const char* name, std::string& out) const {
    if (env_.count(name)) nonEmpty(name, out);
  }
  void nonEmpty(const char* name, std::string& out) const {
    str(name, out);
    if (out.empty()) throw ConfigError(std::string(name) + " must not be empty");
  }
  template <class Int>
  void integer(const char* name, Int& out, long long min, long long max) const {
    auto it = env_.find(name);
    if (it == env_.end()) return;
    const std::string& s = it->second;
    long long v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty())
      throw ConfigError(std::string(name) + "='" + s + "' is not a whole number");
    if (v < min || v > max)
      throw ConfigError(std::string(name) + "=" + s + " is out of range [" + std::to_string(min) +
                        ", " + std::to_string(max) + "]");
    out = static_cast<Int>(v);
  }
  void list(const char* name, std::vector<std::string>& out) const {
    auto it = env_.find(name);
    if (it == env_.end()) return;
    out.clear();
    std::string cur;
    for (char c : it->second + ",") {
      if (c == ',') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else if (c != ' ') {
        cur.push_back(c);
      }
    }
  }
  void oneOf(const char* name, std::string& out, std::set<std::string> allowed) const {
    str(name, out);
    if (!allowed.count(out)) {
      std::string opts;
      for (auto& a : allowed) opts += (opts.empty() ? "" : ", ") + (a.empty() ? "(empty)" : a);
      throw ConfigError(std::string(name) + "='" + out + "' must be one of: " + opts);
    }
  }

 private:
  const std::map<std::string, std::string>& env_;
};

bool fileReadable(const std::string& path) {
  std::ifstream in(path);
  return in.good();
}

// The first line of a secret file (without its line end); throws ConfigError naming `var`.
std::string readSecretFile(const char* var, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(std::string(var) + "=" + path + " is not a readable file");
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) throw ConfigError(std::string(var) + "=" + path + " has an empty first line");
  return line;
}

void readHttpTls(const Reader& r, Config& c) {
  r.str("HTTP_TLS_CERT_FILE", c.http_tls_cert_file);
  r.str("HTTP_TLS_KEY_FILE", c.http_tls_key_file);
  if (c.http_tls_cert_file.empty() != c.http_tls_key_file.empty())
    throw ConfigError("HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE go together: set both or neither");
  if (!c.httpTls()) return;
  if (!fileReadable(c.http_tls_cert_file))
    throw ConfigError("HTTP_TLS_CERT_FILE=" + c.http_tls_cert_file + " is not a readable file");
  if (!fileReadable(c.http_tls_key_file))
    throw ConfigError("HTTP_TLS_KEY_FILE=" + c.http_tls_key_file + " is not a readable file");
}

void readDatabaseSecurity(const Reader& r, Config& c) {
  r.str("DB_PASSWORD_FILE", c.db_password_file);
  if (!c.db_password_file.empty()) {
    if (!c.db_password.empty())
      throw ConfigError("DB_PASSWORD and DB_PASSWORD_FILE exclude each other; set one");
    c.db_password = readSecretFile("DB_PASSWORD_FILE", c.db_password_file);
  }
  r.oneOf("DB_SSLMODE", c.db_sslmode,
          {"", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"});
  r.str("DB_SSLROOTCERT", c.db_sslrootcert);
  if (!c.db_sslrootcert.empty() && !fileReadable(c.db_sslrootcert))
    throw ConfigError("DB_SSLROOTCERT=" + c.db_sslrootcert + " is not a readable file");
  if (!c.db_sslrootcert.empty() && c.db_sslmode != "verify-ca" && c.db_sslmode != "verify-full")
    throw ConfigError("DB_SSLROOTCERT is set but DB_SSLMODE='" + c.db_sslmode +
                      "' does not verify the server: use verify-ca or verify-full");
}

// KAFKA_PROPERTY_<name> pass-through, then the named security settings.
void readKafkaSecurity(const Reader& r, Config& c, const std::map<std::string, std::string>& env) {
  static const std::string prefix = "KAFKA_PROPERTY_";
  for (const auto& [name, value] : env) {
    if (name.rfind(prefix, 0) != 0) continue;
    std::string prop = name.substr(prefix.size());
    if (prop.empty()) throw ConfigError(name + " names no librdkafka property");
    std::replace(prop.begin(), prop.end(), '_', '.');
    c.kafka_properties[prop] = value;
  }
  r.oneOf("KAFKA_SECURITY_PROTOCOL", c.kafka_security_protocol,
          {"", "plaintext", "ssl", "sasl_plaintext", "sasl_ssl"});
  r.oneOf("KAFKA_SASL_MECHANISM", c.kafka_sasl_mechanism,
          {"", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"});
  r.str("KAFKA_SASL_USERNAME", c.kafka_sasl_username);
  r.str("KAFKA_SASL_PASSWORD_FILE", c.kafka_sasl_password_file);
  r.str("KAFKA_SSL_CA_FILE", c.kafka_ssl_ca_file);
  const bool sasl = c.kafka_security_protocol.rfind("sasl_", 0) == 0;
  const bool ssl = c.kafka_security_protocol == "ssl" || c.kafka_security_protocol == "sasl_ssl";
  if (sasl) {
    if (c.kafka_sasl_mechanism.empty())
      throw ConfigError("KAFKA_SECURITY_PROTOCOL=" + c.kafka_security_protocol +
                        " needs KAFKA_SASL_MECHANISM");
    if (c.kafka_sasl_username.empty())
      throw ConfigError("KAFKA_SECURITY_PROTOCOL=" + c.kafka_security_protocol +
                        " needs KAFKA_SASL_USERNAME");
    if (c.kafka_sasl_password_file.empty())
      throw ConfigError("KAFKA_SECURITY_PROTOCOL=" + c.kafka_security_protocol +
                        " needs KAFKA_SASL_PASSWORD_FILE");
    c.kafka_sasl_password = readSecretFile("KAFKA_SASL_PASSWORD_FILE", c.kafka_sasl_password_file);
  } else if (!c.kafka_sasl_mechanism.empty() || !c.kafka_sasl_username.empty() ||
             !c.kafka_sasl_password_file.empty()) {
    throw ConfigError("KAFKA_SASL_* is set but KAFKA_SECURITY_PROTOCOL='" +
                      c.kafka_security_protocol + "' is not sasl_plaintext or sasl_ssl");
  }
  if (!c.kafka_ssl_ca_file.empty()) {
    if (!ssl)
      throw ConfigError("KAFKA_SSL_CA_FILE is set but KAFKA_SECURITY_PROTOCOL='" +
                        c.kafka_security_protocol + "' is not ssl or sasl_ssl");
    if (!fileReadable(c.kafka_ssl_ca_file))
      throw ConfigError("KAFKA_SSL_CA_FILE=" + c.kafka_ssl_ca_file + " is not a readable file");
  }
}

bool isLoopback(const std::string& bind) {
  return bind == "localhost" || bind == "::1" || bind.rfind("127.", 0) == 0;
}

// DESIGN §10: production never runs without authentication, minting or fault injection; outside
// production no authentication means a loopback bind unless AUTH_DISABLED=true says otherwise.
void validateAuth(Config& c, const std::map<std::string, std::string>& env) {
  bool any_auth_setting = false;
  for (const auto& [name, value] : env)
    if (name.rfind("AUTH_", 0) == 0 && name != "AUTH_DISABLED" && !value.empty())
      any_auth_setting = true;
  if (c.auth_disabled && any_auth_setting)
    throw ConfigError("AUTH_DISABLED=true contradicts the AUTH_* settings given; drop one");
  if (!c.auth_jwks_file.empty() && !c.auth_jwks_url.empty())
    throw ConfigError("set AUTH_JWKS_FILE or AUTH_JWKS_URL, not both");
  if (c.production()) {
    if (c.auth_disabled)
      throw ConfigError("AUTH_DISABLED=true is refused with ENVIRONMENT=production");
    if (!c.auth_hs256_secret_file.empty())
      throw ConfigError(
          "AUTH_HS256_SECRET_FILE is for development only, refused with ENVIRONMENT=production");
    std::string missing;
    auto need = [&](bool ok, const char* what) {
      if (!ok) missing += (missing.empty() ? "" : ", ") + std::string(what);
    };
    need(!c.auth_jwks_file.empty() || !c.auth_jwks_url.empty(), "AUTH_JWKS_FILE or AUTH_JWKS_URL");
    need(!c.auth_issuer.empty(), "AUTH_ISSUER");
    need(!c.auth_audience.empty(), "AUTH_AUDIENCE");
    if (!missing.empty())
      throw ConfigError("ENVIRONMENT=production requires authentication; missing: " + missing);
  }
  if (any_auth_setting) {
    if (!c.authEnabled())
      throw ConfigError(
          "authentication needs keys: set AUTH_JWKS_FILE or AUTH_JWKS_URL "
          "(or AUTH_HS256_SECRET_FILE in development)");
    if (c.auth_issuer.empty()) throw ConfigError("AUTH_ISSUER must be set with authentication");
    if (c.auth_audience.empty()) throw ConfigError("AUTH_AUDIENCE must be set with authentication");
  }
  if (c.http_bind.empty()) c.http_bind = c.authEnabled() ? "0.0.0.0" : "127.0.0.1";
  if (!c.authEnabled() && !c.auth_disabled && !isLoopback(c.http_bind))
    throw ConfigError("HTTP_BIND=" + c.http_bind +
                      " without authentication: configure AUTH_JWKS_FILE or AUTH_JWKS_URL with "
                      "AUTH_ISSUER and AUTH_AUDIENCE, or set AUTH_DISABLED=true to serve an open "
                      "API on that address");
}

}  // namespace

Config Config::fromEnvironment(const std::map<std::string, std::string>& env) {
  Config c;
  Reader r(env);
  r.str("ENVIRONMENT", c.environment);
  r.oneOf("LOG_LEVEL", c.log_level, {"TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"});
  r.str("HTTP_BIND", c.http_bind);
  r.integer("PORT", c.port, 0, 65535);
  r.integer("HTTP_THREADS", c.http_threads, 1, 64);
  r.integer("HTTP_MAX_BODY_BYTES", c.http_max_body_bytes, 1024, 64LL << 20);
  r.integer("HTTP_READ_TIMEOUT_SECONDS", c.http_read_timeout_seconds, 1, 3600);
  r.integer("HTTP_MAX_CONNECTIONS", c.http_max_connections, 0, 1000000);
  r.integer("HTTP_REQUEST_DEADLINE_MS", c.http_request_deadline_ms, 100, 3600000);
  r.integer("HTTP_MAX_REQUESTS_PER_CONNECTION", c.http_max_requests_per_connection, 0, 100000000);
  r.str("AUTH_JWKS_FILE", c.auth_jwks_file);
  r.str("AUTH_JWKS_URL", c.auth_jwks_url);
  r.str("AUTH_ISSUER", c.auth_issuer);
  r.str("AUTH_AUDIENCE", c.auth_audience);
  r.integer("AUTH_LEEWAY_SECONDS", c.auth_leeway_seconds, 0, 300);
  r.nonEmpty("AUTH_ROLES_CLAIM", c.auth_roles_claim);
  r.nonEmpty("AUTH_ACCOUNTS_CLAIM", c.auth_accounts_claim);
  r.str("AUTH_HS256_SECRET_FILE", c.auth_hs256_secret_file);
  std::string disabled = "false";
  r.oneOf("AUTH_DISABLED", disabled, {"true", "false"});
  c.auth_disabled = disabled == "true";
  validateAuth(c, env);
  readHttpTls(r, c);
  r.nonEmpty("DB_HOST", c.db_host);
  r.integer("DB_PORT", c.db_port, 1, 65535);
  r.nonEmpty("DB_NAME", c.db_name);
  r.nonEmpty("DB_USER", c.db_user);
  r.str("DB_PASSWORD", c.db_password);
  r.integer("DB_POOL_SIZE", c.db_pool_size, 1, 256);
  r.integer("DB_STATEMENT_TIMEOUT_MS", c.db_statement_timeout_ms, 100, 3600000);
  readDatabaseSecurity(r, c);
  r.str("KAFKA_BOOTSTRAP_SERVERS", c.kafka_bootstrap_servers);
  r.integer("OUTBOX_MAX_ROWS", c.outbox_max_rows, 0, 1LL << 40);
  r.nonEmpty("SETTLEMENT_EVENTS_TOPIC", c.settlement_events_topic);
  r.nonEmpty("TRADE_EVENTS_TOPIC", c.trade_events_topic);
  r.nonEmpty("TRADE_EVENTS_DLQ_TOPIC", c.trade_events_dlq_topic);
  r.nonEmpty("KAFKA_CONSUMER_GROUP", c.kafka_consumer_group);
  r.str("KAFKA_GROUP_INSTANCE_ID", c.kafka_group_instance_id);
  // Kafka's rule for ids of groups and members: at most 249 of [a-zA-Z0-9._-].
  if (c.kafka_group_instance_id.size() > 249 || c.kafka_group_instance_id == "." ||
      c.kafka_group_instance_id == ".." ||
      !std::all_of(c.kafka_group_instance_id.begin(), c.kafka_group_instance_id.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
      }))
    throw ConfigError(
        "KAFKA_GROUP_INSTANCE_ID='" + c.kafka_group_instance_id +
        "' must be at most 249 letters, digits, '.', '_' or '-', and not '.' or '..'");
  readKafkaSecurity(r, c, env);
  r.oneOf("LEDGER_MODE", c.ledger_mode, {"embedded", "canton"});
  r.nonEmpty("LEDGER_DATA_DIR", c.ledger_data_dir);
  r.list("LEDGER_SYNCHRONIZERS", c.ledger_synchronizers);
  if (c.ledger_synchronizers.empty())
    throw ConfigError("LEDGER_SYNCHRONIZERS must name at least one synchronizer");
  r.integer("LEDGER_PRUNE_INTERVAL_SECONDS", c.ledger_prune_interval_seconds, 0, 86400);
  r.integer("LEDGER_PRUNE_PUBLISH_LAG_SECONDS", c.ledger_prune_publish_lag_seconds, 1, 86400);
  r.integer("LEDGER_COMPACT_BYTES", c.ledger_compact_bytes, 0, 1LL << 40);
  std::string in_child = c.ledger_compact_in_child ? "true" : "false";
  r.oneOf("LEDGER_COMPACT_IN_CHILD", in_child, {"true", "false"});
  c.ledger_compact_in_child = in_child == "true";
  if (c.ledger_compact_bytes > 0 && c.ledger_compact_bytes < (1LL << 20))
    throw ConfigError("LEDGER_COMPACT_BYTES must be 0 (never compact) or at least 1048576, got " +
                      std::to_string(c.ledger_compact_bytes));
  r.integer("LEDGER_MERGE_HOLDINGS_ABOVE", c.ledger_merge_holdings_above, 0, 100000);
  r.integer("LEDGER_RECONCILE_WINDOW", c.ledger_reconcile_window, 0, 1LL << 40);
  if (c.ledger_merge_holdings_above == 1)
    throw ConfigError("LEDGER_MERGE_HOLDINGS_ABOVE must be 0 (never merge) or at least 2, got 1");
  r.str("CANTON_DOMAIN_HOST", c.canton_domain_host);
  r.integer("CANTON_DOMAIN_PORT", c.canton_domain_port, 1, 65535);
  r.str("CANTON_LEDGER_API_HOST", c.canton_ledger_api_host);
  r.integer("CANTON_LEDGER_API_PORT", c.canton_ledger_api_port, 1, 65535);
  std::string tls = c.canton_ledger_api_tls ? "true" : "false";
  r.oneOf("CANTON_LEDGER_API_TLS", tls, {"true", "false"});
  c.canton_ledger_api_tls = tls == "true";
  r.str("CANTON_LEDGER_API_CA_FILE", c.canton_ledger_api_ca_file);
  r.nonEmpty("CANTON_USER_ID", c.canton_user_id);
  r.str("CANTON_AUTH_TOKEN_FILE", c.canton_auth_token_file);
  r.str("CANTON_OAUTH_TOKEN_URL", c.canton_oauth_token_url);
  r.str("CANTON_OAUTH_CLIENT_ID", c.canton_oauth_client_id);
  r.str("CANTON_OAUTH_CLIENT_SECRET_FILE", c.canton_oauth_client_secret_file);
  r.str("CANTON_OAUTH_AUDIENCE", c.canton_oauth_audience);
  r.integer("CANTON_REQUEST_TIMEOUT_MS", c.canton_request_timeout_ms, 100, 600000);
  r.integer("CANTON_POOL_SIZE", c.canton_pool_size, 1, 256);
  r.integer("CANTON_SUBMIT_ATTEMPTS", c.canton_submit_attempts, 1, 100);
  r.str("CANTON_SETTLEMENT_SYNCHRONIZER", c.canton_settlement_synchronizer);
  r.list("CANTON_CASH_ASSETS", c.canton_cash_assets);
  if (c.ledger_mode == "canton") {
    if (c.canton_ledger_api_host.empty())
      throw ConfigError("CANTON_LEDGER_API_HOST must not be empty in canton mode");
    if (c.canton_ledger_api_tls && !c.canton_ledger_api_ca_file.empty() &&
        !fileReadable(c.canton_ledger_api_ca_file))
      throw ConfigError("CANTON_LEDGER_API_CA_FILE=" + c.canton_ledger_api_ca_file +
                        " is not a readable file");
    if (!c.canton_ledger_api_tls && !c.canton_ledger_api_ca_file.empty())
      throw ConfigError("CANTON_LEDGER_API_CA_FILE is set but CANTON_LEDGER_API_TLS is not true");
    if (!c.canton_oauth_token_url.empty()) {
      if (c.canton_oauth_token_url.rfind("http://", 0) != 0 &&
          c.canton_oauth_token_url.rfind("https://", 0) != 0)
        throw ConfigError("CANTON_OAUTH_TOKEN_URL=" + c.canton_oauth_token_url +
                          " must start with http:// or https://");
      if (c.canton_oauth_client_id.empty())
        throw ConfigError("CANTON_OAUTH_CLIENT_ID must be set with CANTON_OAUTH_TOKEN_URL");
      if (!fileReadable(c.canton_oauth_client_secret_file))
        throw ConfigError("CANTON_OAUTH_CLIENT_SECRET_FILE=" + c.canton_oauth_client_secret_file +
                          " is not a readable file (needed with CANTON_OAUTH_TOKEN_URL)");
      if (!c.canton_auth_token_file.empty())
        throw ConfigError("CANTON_AUTH_TOKEN_FILE and CANTON_OAUTH_TOKEN_URL exclude each other");
    }
    if (!c.canton_auth_token_file.empty() && !fileReadable(c.canton_auth_token_file))
      throw ConfigError("CANTON_AUTH_TOKEN_FILE=" + c.canton_auth_token_file +
                        " is not a readable file");
    if (!c.canton_settlement_synchronizer.empty() &&
        std::find(c.ledger_synchronizers.begin(), c.ledger_synchronizers.end(),
                  c.canton_settlement_synchronizer) == c.ledger_synchronizers.end())
      throw ConfigError("CANTON_SETTLEMENT_SYNCHRONIZER=" + c.canton_settlement_synchronizer +
                        " is not one of LEDGER_SYNCHRONIZERS");
  }
  r.nonEmpty("SECURITIES_ISSUER_PARTY", c.securities_issuer_party);
  r.nonEmpty("CASH_PROVIDER_PARTY", c.cash_provider_party);
  r.integer("SETTLEMENT_TIMEOUT_SECONDS", c.settlement_timeout_seconds, 1, 30 * 86400);
  r.integer("SETTLEMENT_RETRY_ATTEMPTS", c.settlement_retry_attempts, 0, 1000);
  r.integer("SETTLEMENT_RETRY_DELAY_SECONDS", c.settlement_retry_delay_seconds, 0, 86400);
  r.integer("SETTLEMENT_RETRY_MAX_DELAY_SECONDS", c.settlement_retry_max_delay_seconds, 1, 86400);
  r.integer("SETTLEMENT_BATCH_SIZE", c.settlement_batch_size, 1, 10000);
  r.integer("SETTLEMENT_WORKERS", c.settlement_workers, 1, 64);
  r.integer("SETTLEMENT_LEASE_SECONDS", c.settlement_lease_seconds, 1, 3600);
  r.integer("SETTLEMENT_POLL_MILLIS", c.settlement_poll_millis, 1, 60000);
  r.list("ALLOWED_SYMBOLS", c.allowed_symbols);
  r.integer("REJECTIONS_RETENTION_DAYS", c.rejections_retention_days, 1, 3650);
  r.integer("REJECTIONS_MAX_ROWS", c.rejections_max_rows, 1000, 1000000000);
  r.integer("REJECTIONS_HTTP_PER_MINUTE", c.rejections_http_per_minute, 0, 100000);
  r.integer("EVENTS_RETENTION_MONTHS", c.events_retention_months, 0, 1200);
  std::string rec_enabled = c.rec_enabled ? "true" : "false";
  r.oneOf("REC_ENABLED", rec_enabled, {"true", "false"});
  c.rec_enabled = rec_enabled == "true";
  r.integer("REC_INTERVAL_MS", c.rec_interval_ms, 10, 3600000);
  r.integer("REC_BATCH", c.rec_batch, 1, 100000);
  r.integer("REC_LEDGER_BATCH", c.rec_ledger_batch, 1, 1000000);
  r.integer("REC_EVENT_GRACE_MS", c.rec_event_grace_ms, 0, 86400000);
  r.integer("REC_QUIET_MS", c.rec_quiet_ms, 100, 3600000);
  c.rec_consumer_group = c.kafka_consumer_group + "-reconciler";
  r.nonEmptyIfSet("REC_CONSUMER_GROUP", c.rec_consumer_group);
  return c;
}

Config Config::fromProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return fromEnvironment(env);
}

std::string Config::postgresConnInfo() const {
  auto quote = [](const std::string& v) {
    std::string out = "'";
    for (char ch : v) {
      if (ch == '\'' || ch == '\\') out.push_back('\\');
      out.push_back(ch);
    }
    return out + "'";
  };
  std::string s = "host=" + quote(db_host) + " port=" + std::to_string(db_port) +
                  " dbname=" + quote(db_name) + " user=" + quote(db_user) +
                  " application_name=settlement-coordinator connect_timeout=5"
                  // A dead server or network: keepalives probe an idle connection (10 s, then
                  // every 5 s, 3 misses), tcp_user_timeout bounds unacknowledged sends (30 s).
                  " keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3"
                  " tcp_user_timeout=30000"
                  // A slow statement: the server cancels it (SQLSTATE 57014, retryable).
                  " options=" +
                  quote("-c statement_timeout=" + std::to_string(db_statement_timeout_ms));
  if (!db_password.empty()) s += " password=" + quote(db_password);
  if (!db_sslmode.empty()) s += " sslmode=" + quote(db_sslmode);
  if (!db_sslrootcert.empty()) s += " sslrootcert=" + quote(db_sslrootcert);
  return s;
}

std::map<std::string, std::string> Config::kafkaClientProperties() const {
  std::map<std::string, std::string> p = kafka_properties;
  if (!kafka_security_protocol.empty()) p["security.protocol"] = kafka_security_protocol;
  if (!kafka_sasl_mechanism.empty()) p["sasl.mechanisms"] = kafka_sasl_mechanism;
  if (!kafka_sasl_username.empty()) p["sasl.username"] = kafka_sasl_username;
  if (!kafka_sasl_password.empty()) p["sasl.password"] = kafka_sasl_password;
  if (!kafka_ssl_ca_file.empty()) p["ssl.ca.location"] = kafka_ssl_ca_file;
  return p;
}

}  // namespace sc::app

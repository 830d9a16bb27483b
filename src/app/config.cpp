#include "app/config.h"

#include <charconv>
#include <cstdlib>
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
      for (auto& a : allowed) opts += (opts.empty() ? "" : ", ") + a;
      throw ConfigError(std::string(name) + "='" + out + "' must be one of: " + opts);
    }
  }

 private:
  const std::map<std::string, std::string>& env_;
};

}  // namespace

Config Config::fromEnvironment(const std::map<std::string, std::string>& env) {
  Config c;
  Reader r(env);
  r.str("ENVIRONMENT", c.environment);
  r.oneOf("LOG_LEVEL", c.log_level, {"TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"});
  r.nonEmpty("HTTP_BIND", c.http_bind);
  r.integer("PORT", c.port, 0, 65535);
  r.integer("HTTP_THREADS", c.http_threads, 1, 64);
  r.integer("HTTP_MAX_BODY_BYTES", c.http_max_body_bytes, 1024, 64LL << 20);
  r.integer("HTTP_READ_TIMEOUT_SECONDS", c.http_read_timeout_seconds, 1, 3600);
  r.str("API_TOKEN", c.api_token);
  r.nonEmpty("DB_HOST", c.db_host);
  r.integer("DB_PORT", c.db_port, 1, 65535);
  r.nonEmpty("DB_NAME", c.db_name);
  r.nonEmpty("DB_USER", c.db_user);
  r.str("DB_PASSWORD", c.db_password);
  r.integer("DB_POOL_SIZE", c.db_pool_size, 1, 256);
  r.integer("DB_STATEMENT_TIMEOUT_MS", c.db_statement_timeout_ms, 100, 3600000);
  r.str("KAFKA_BOOTSTRAP_SERVERS", c.kafka_bootstrap_servers);
  r.nonEmpty("SETTLEMENT_EVENTS_TOPIC", c.settlement_events_topic);
  r.nonEmpty("TRADE_EVENTS_TOPIC", c.trade_events_topic);
  r.nonEmpty("TRADE_EVENTS_DLQ_TOPIC", c.trade_events_dlq_topic);
  r.nonEmpty("KAFKA_CONSUMER_GROUP", c.kafka_consumer_group);
  r.oneOf("LEDGER_MODE", c.ledger_mode, {"embedded"});
  r.nonEmpty("LEDGER_DATA_DIR", c.ledger_data_dir);
  r.list("LEDGER_SYNCHRONIZERS", c.ledger_synchronizers);
  if (c.ledger_synchronizers.empty())
    throw ConfigError("LEDGER_SYNCHRONIZERS must name at least one synchronizer");
  r.str("CANTON_DOMAIN_HOST", c.canton_domain_host);
  r.integer("CANTON_DOMAIN_PORT", c.canton_domain_port, 1, 65535);
  r.str("CANTON_LEDGER_API_HOST", c.canton_ledger_api_host);
  r.integer("CANTON_LEDGER_API_PORT", c.canton_ledger_api_port, 1, 65535);
  r.nonEmpty("SECURITIES_ISSUER_PARTY", c.securities_issuer_party);
  r.nonEmpty("CASH_PROVIDER_PARTY", c.cash_provider_party);
  r.integer("SETTLEMENT_TIMEOUT_SECONDS", c.settlement_timeout_seconds, 1, 30 * 86400);
  r.integer("SETTLEMENT_RETRY_ATTEMPTS", c.settlement_retry_attempts, 0, 1000);
  r.integer("SETTLEMENT_RETRY_DELAY_SECONDS", c.settlement_retry_delay_seconds, 0, 86400);
  r.integer("SETTLEMENT_BATCH_SIZE", c.settlement_batch_size, 1, 10000);
  r.integer("SETTLEMENT_WORKERS", c.settlement_workers, 1, 64);
  r.integer("SETTLEMENT_LEASE_SECONDS", c.settlement_lease_seconds, 1, 3600);
  r.integer("SETTLEMENT_POLL_MILLIS", c.settlement_poll_millis, 1, 60000);
  r.list("ALLOWED_SYMBOLS", c.allowed_symbols);
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
  return s;
}

}  // namespace sc::app

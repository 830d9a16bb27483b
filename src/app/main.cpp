// settlement-coordinator: wiring, start-up and graceful shutdown (DESIGN §2 "app").
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "api/http_server.h"
#include "api/routes.h"
#include "app/config.h"
#include "auth/verifier.h"
#include "common/free_memory.h"
#include "common/log.h"
#include "common/shutdown_signals.h"
#include "ledger/canton/canton_json_ledger.h"
#include "ledger/engine/embedded_ledger.h"
#include "messaging/outbox_relay.h"
#include "messaging/trade_consumer.h"
#include "reconciliation/kafka_event_tap.h"
#include "reconciliation/reconciler.h"
#include "store/advisory_lock.h"
#include "store/database.h"
#include "store/database_clock.h"
#include "store/event_partitions.h"
#include "store/outbox_cap.h"
#include "store/reconciliation_repository.h"
#include "store/rejection_retention.h"
#include "workflow/intake.h"
#include "workflow/ledger_pruner.h"
#include "workflow/worker_pool.h"
#include "workflow/workflow.h"

namespace {

// HTTP_BIND, PORT, HTTP_THREADS, HTTP_MAX_BODY_BYTES, HTTP_READ_TIMEOUT_SECONDS, the abuse bounds
// HTTP_MAX_CONNECTIONS, HTTP_REQUEST_DEADLINE_MS, HTTP_MAX_REQUESTS_PER_CONNECTION and HTTPS's
// HTTP_TLS_CERT_FILE, HTTP_TLS_KEY_FILE; handlers may block on the database, so their pool follows
// the connection pool.
sc::api::HttpServerOptions httpServerOptions(const sc::app::Config& cfg) {
  sc::api::HttpServerOptions o;
  o.bind_address = cfg.http_bind;
  o.port = static_cast<uint16_t>(cfg.port);
  o.io_threads = cfg.http_threads;
  o.handler_threads = std::max(4, cfg.db_pool_size / 2);
  o.max_body_bytes = cfg.http_max_body_bytes;
  o.read_timeout = std::chrono::seconds(cfg.http_read_timeout_seconds);
  o.max_connections = cfg.http_max_connections;
  o.request_deadline = std::chrono::milliseconds(cfg.http_request_deadline_ms);
  o.max_requests_per_connection = cfg.http_max_requests_per_connection;
  o.tls_cert_file = cfg.http_tls_cert_file;
  o.tls_key_file = cfg.http_tls_key_file;
  return o;
}

// The JWT verifier of AUTH_* (null when authentication is off). Throws ConfigError when the
// development secret file cannot be read.
std::unique_ptr<sc::auth::Verifier> makeVerifier(const sc::app::Config& cfg,
                                                 const sc::Clock& clock) {
  if (!cfg.authEnabled()) return nullptr;
  sc::auth::VerifierOptions o;
  o.issuer = cfg.auth_issuer;
  o.audience = cfg.auth_audience;
  o.leeway = std::chrono::seconds(cfg.auth_leeway_seconds);
  o.roles_claim = cfg.auth_roles_claim;
  o.accounts_claim = cfg.auth_accounts_claim;
  if (!cfg.auth_hs256_secret_file.empty()) {
    std::ifstream in(cfg.auth_hs256_secret_file, std::ios::binary);
    std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (!in.good() && !in.eof())
      throw sc::app::ConfigError("cannot read AUTH_HS256_SECRET_FILE " +
                                 cfg.auth_hs256_secret_file);
    if (secret.size() < 32)
      throw sc::app::ConfigError("AUTH_HS256_SECRET_FILE must hold at least 32 bytes");
    o.hs256_secret = std::move(secret);
  }
  std::shared_ptr<sc::auth::KeyProvider> keys;
  if (!cfg.auth_jwks_file.empty())
    keys = std::make_shared<sc::auth::KeyProvider>(sc::auth::jwksFileLoader(cfg.auth_jwks_file),
                                                   cfg.auth_jwks_file, clock);
  else if (!cfg.auth_jwks_url.empty())
    keys = std::make_shared<sc::auth::KeyProvider>(sc::auth::jwksUrlLoader(cfg.auth_jwks_url),
                                                   cfg.auth_jwks_url, clock);
  if (keys) {
    if (auto k = keys->keys(); !k) sc::log::get("app")->warn("auth keys: {}", k.error().message);
  }
  return std::make_unique<sc::auth::Verifier>(std::move(o), std::move(keys), clock);
}

int run(const sc::app::Config& cfg) {
  using namespace std::chrono;
  auto log = sc::log::get("app");

  const sc::ShutdownSignals signals;  // before any thread starts: they inherit the mask

  auto db = sc::store::Database::open(cfg.postgresConnInfo(), cfg.db_pool_size);
  if (!db) {
    log->critical("database: {} (check DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD)",
                  db.error().message);
    return 1;
  }

  // Tokens are judged by this host's clock (as their issuer's); settlement times by the
  // database's, shared by every instance (DESIGN §8).
  sc::SystemClock clock;
  sc::store::DatabaseClock db_clock((*db)->pool());
  if (auto r = db_clock.sync(); !r) {
    log->critical("database clock: {}", r.error().message);
    return 1;
  }
  db_clock.start();
  // Rejected trades are kept REJECTIONS_RETENTION_DAYS, at most REJECTIONS_MAX_ROWS of them.
  sc::store::RejectionRetention rejection_retention(
      (*db)->rejections(),
      {.max_age = days(cfg.rejections_retention_days), .max_rows = cfg.rejections_max_rows});
  rejection_retention.start();
  // settlement_events' monthly partitions: created ahead, dropped after EVENTS_RETENTION_MONTHS.
  sc::store::EventPartitions event_partitions((*db)->pool(), db_clock,
                                              {.months_ahead = 2,
                                               .retention_months = cfg.events_retention_months,
                                               .interval = std::chrono::hours(1),
                                               .reconciler_here = cfg.rec_enabled});
  event_partitions.start();
  std::unique_ptr<sc::auth::Verifier> verifier;
  try {
    verifier = makeVerifier(cfg, clock);
  } catch (const sc::app::ConfigError& e) {
    log->critical("configuration error: {}", e.what());
    return 2;
  }
  if (!verifier)
    log->warn(
        "authentication is OFF: anyone who reaches {}:{} may call every endpoint "
        "(development only; see README \"Security\")",
        cfg.http_bind, cfg.port);
  std::unique_ptr<sc::ledger::Ledger> ledger;
  sc::ledger::EmbeddedLedger* embedded = nullptr;
  std::string ledger_desc;
  if (cfg.ledger_mode == "canton") {
    sc::ledger::canton::CantonOptions co;
    co.http.host = cfg.canton_ledger_api_host;
    co.http.port = static_cast<uint16_t>(cfg.canton_ledger_api_port);
    co.http.tls = cfg.canton_ledger_api_tls;
    co.http.ca_file = cfg.canton_ledger_api_ca_file;
    co.http.timeout = milliseconds(cfg.canton_request_timeout_ms);
    co.http.pool_size = cfg.canton_pool_size;
    co.user_id = cfg.canton_user_id;
    co.token_file = cfg.canton_auth_token_file;
    co.oauth.token_url = cfg.canton_oauth_token_url;
    co.oauth.client_id = cfg.canton_oauth_client_id;
    co.oauth.client_secret_file = cfg.canton_oauth_client_secret_file;
    co.oauth.audience = cfg.canton_oauth_audience;
    co.oauth.ca_file = cfg.canton_ledger_api_ca_file;
    co.securities_issuer_party = cfg.securities_issuer_party;
    co.cash_provider_party = cfg.cash_provider_party;
    co.synchronizers = cfg.ledger_synchronizers;
    co.settlement_synchronizer = cfg.canton_settlement_synchronizer;
    co.cash_assets = {cfg.canton_cash_assets.begin(), cfg.canton_cash_assets.end()};
    co.submit_attempts = cfg.canton_submit_attempts;
    ledger = std::make_unique<sc::ledger::canton::CantonJsonLedger>(co);
    ledger_desc = std::string("canton at ") + (cfg.canton_ledger_api_tls ? "https://" : "http://") +
                  cfg.canton_ledger_api_host + ":" + std::to_string(cfg.canton_ledger_api_port);
    if (auto p = ledger->ping(); !p) {
      log->warn(
          "canton ledger API not ready yet: {} (check CANTON_LEDGER_API_HOST, "
          "CANTON_LEDGER_API_PORT, "
          "CANTON_AUTH_TOKEN_FILE); /ready reports it until it is",
          p.error().message);
    }
  } else {
    sc::ledger::EmbeddedLedger::Options lopt;
    lopt.data_dir = cfg.ledger_data_dir;
    lopt.synchronizers = cfg.ledger_synchronizers;
    lopt.securities_issuer_party = cfg.securities_issuer_party;
    lopt.cash_provider_party = cfg.cash_provider_party;
    lopt.compact_journal_bytes = static_cast<uint64_t>(cfg.ledger_compact_bytes);
    lopt.compact_in_background = true;  // a worker never waits for a snapshot to be written
    lopt.compact_in_child = cfg.ledger_compact_in_child;
    lopt.merge_holdings_above = static_cast<size_t>(cfg.ledger_merge_holdings_above);
    auto opened = sc::ledger::EmbeddedLedger::open(lopt);
    if (!opened) {
      log->critical("embedded ledger at {}: {} (check LEDGER_DATA_DIR, LEDGER_SYNCHRONIZERS)",
                    cfg.ledger_data_dir, opened.error().message);
      return 1;
    }
    embedded = opened->get();
    ledger = std::move(*opened);
    sc::returnFreeMemory();  // what the replay decoded and dropped
    ledger_desc = "embedded at " + cfg.ledger_data_dir;
  }

  sc::workflow::Intake intake((*db)->settlements(), db_clock, sc::TradeRules{cfg.allowed_symbols},
                              seconds(cfg.settlement_timeout_seconds));
  sc::workflow::WorkflowOptions wopt;
  wopt.batch_size = cfg.settlement_batch_size;
  wopt.retry_attempts = cfg.settlement_retry_attempts;
  wopt.retry_delay = seconds(cfg.settlement_retry_delay_seconds);
  wopt.retry_max_delay = seconds(cfg.settlement_retry_max_delay_seconds);
  wopt.timeout = seconds(cfg.settlement_timeout_seconds);
  wopt.lease = seconds(cfg.settlement_lease_seconds);
  sc::workflow::Workflow workflow((*db)->settlements(), (*db)->accounts(), *ledger, db_clock, wopt);
  sc::workflow::WorkerPool workers(workflow, cfg.settlement_workers,
                                   milliseconds(cfg.settlement_poll_millis));
  // GET /overview's rates and confirmation latency (this instance's, on the database's clock).
  sc::workflow::Throughput throughput;
  intake.setThroughput(&throughput);
  workflow.setThroughput(&throughput);

  std::unique_ptr<sc::messaging::OutboxRelay> relay;
  std::unique_ptr<sc::messaging::TradeConsumer> consumer;
  sc::messaging::KafkaOptions kopt;
  kopt.bootstrap_servers = cfg.kafka_bootstrap_servers;
  kopt.trade_topic = cfg.trade_events_topic;
  kopt.dlq_topic = cfg.trade_events_dlq_topic;
  kopt.settlement_topic = cfg.settlement_events_topic;
  kopt.consumer_group = cfg.kafka_consumer_group;
  kopt.group_instance_id = cfg.kafka_group_instance_id;
  kopt.extra = cfg.kafkaClientProperties();  // security, SASL, KAFKA_PROPERTY_*
  if (!cfg.kafka_bootstrap_servers.empty()) {
    relay = std::make_unique<sc::messaging::OutboxRelay>(kopt, (*db)->outbox(), db_clock);
    // One active relay per database (DESIGN §8): the others stand by for the advisory lock.
    relay->electWith(std::make_unique<sc::store::SessionAdvisoryLock>(
        cfg.postgresConnInfo(), sc::store::kOutboxRelayLockKey));
    sc::store::SettlementRepository& repo = (*db)->settlements();
    consumer = std::make_unique<sc::messaging::TradeConsumer>(
        kopt, intake, [&repo]() -> sc::Result<int64_t> {
          return repo.countPending();  // PENDING rows only, via settlements_status_idx
        });
    consumer->recordRejectionsIn((*db)->rejections());  // GET /rejections, besides the DLQ
  }
  // Without Kafka nothing delivers the outbox: bounded by OUTBOX_MAX_ROWS (store/outbox_cap.h).
  std::unique_ptr<sc::store::OutboxCap> outbox_cap;
  if (!relay) {
    sc::store::OutboxCapOptions capopt;
    capopt.max_rows = cfg.outbox_max_rows;
    outbox_cap = std::make_unique<sc::store::OutboxCap>((*db)->outbox(), capopt);
    outbox_cap->start();
  }
  // New outbox events (a trade taken in, a transition committed): relay them now, not after the
  // relay's idle poll.
  intake.setOnAccepted([&] {
    workers.wake();
    if (relay) relay->wake();
  });
  if (relay) workflow.setOnCommitted([&] { relay->wake(); });

  // The reconciler (DESIGN §11, README "Reconciliation"): PostgreSQL against the ledger and, with
  // Kafka, against settlement.events read in its own consumer group. One instance reconciles at a
  // time (an advisory lock, as the relay's); the others stand by. Row times are the database's.
  sc::store::PgReconciliationRepository reconciliation_repo((*db)->pool());
  sc::reconciliation::ReconcilerOptions ropt;
  ropt.enabled = cfg.rec_enabled;
  ropt.interval = milliseconds(cfg.rec_interval_ms);
  ropt.batch = cfg.rec_batch;
  ropt.ledger_batch = cfg.rec_ledger_batch;
  ropt.event_grace = milliseconds(cfg.rec_event_grace_ms);
  ropt.quiet = milliseconds(cfg.rec_quiet_ms);
  sc::reconciliation::Reconciler::TapFactory event_tap;
  if (!cfg.kafka_bootstrap_servers.empty()) {
    event_tap = [kopt, group = cfg.rec_consumer_group]()
        -> sc::Result<std::unique_ptr<sc::reconciliation::EventTap>> {
      auto tap = sc::reconciliation::KafkaEventTap::open(kopt, group, seconds(10));
      if (!tap) return tap.error();
      return std::unique_ptr<sc::reconciliation::EventTap>(std::move(*tap));
    };
  }
  sc::reconciliation::Reconciler reconciler(reconciliation_repo, (*db)->accounts(), *ledger,
                                            db_clock, ropt, std::move(event_tap));
  reconciler.electWith(std::make_unique<sc::store::SessionAdvisoryLock>(
      cfg.postgresConnInfo(), sc::reconciliation::kReconcilerLockKey));

  // Ledger pruning below the watermark (workflow/ledger_pruner.h): the active settlements'
  // floors, and the reconciler's ledger position when it runs. Embedded: pruned here; Canton:
  // published for the participant's operator (GET /ledger/prune-watermark).
  std::unique_ptr<sc::workflow::LedgerPruner> pruner;
  static const sc::SteadyClock steady_clock;
  if (cfg.ledger_prune_interval_seconds > 0) {
    sc::workflow::LedgerPrunerOptions popt;
    popt.interval = seconds(cfg.ledger_prune_interval_seconds);
    popt.lag = seconds(cfg.settlement_lease_seconds);
    popt.publish_lag = seconds(cfg.ledger_prune_publish_lag_seconds);
    popt.reconcile_window = cfg.ledger_reconcile_window;
    popt.reconciler_here = cfg.rec_enabled;
    pruner = std::make_unique<sc::workflow::LedgerPruner>(
        (*db)->settlements(), &reconciliation_repo, *ledger, embedded, workflow.floorReads(), popt,
        steady_clock);
  }

  auto readiness = [&]() -> sc::Result<void> {
    if (auto r = (*db)->ready(); !r) return r;
    if (auto r = ledger->ping(); !r) return r;
    if (relay) {
      if (auto r = relay->ping(); !r) return r;
    }
    return {};
  };
  sc::api::ApiDeps deps{intake,    (*db)->settlements(), (*db)->accounts(), workflow, *ledger,
                        readiness, verifier.get(),       nullptr,           nullptr};
  deps.audit = &(*db)->audit();
  deps.credit_requests = &(*db)->creditRequests();
  deps.rejections = &(*db)->rejections();
  deps.rejections_per_address_per_minute = cfg.rejections_http_per_minute;
  deps.reserved_parties = {cfg.securities_issuer_party, cfg.cash_provider_party};
  // Production: the issuer credits holdings on Canton; no minting, no fault injection.
  deps.minting = !cfg.production();
  deps.ready_details = [&] {
    std::map<std::string, std::string> details{{"relay", relay ? relay->role() : "off"},
                                               {"reconciler", reconciler.role()}};
    if (outbox_cap) details["outbox"] = outbox_cap->describe();
    if (consumer) details["consumer"] = consumer->failed() ? "fatal" : "member";
    return details;
  };
  deps.reconciler = &reconciler;
  if (pruner) {
    deps.prune_watermark = [&pruner]() -> std::optional<sc::api::PruneWatermarkView> {
      auto w = pruner->watermark();
      if (!w) return std::nullopt;
      return sc::api::PruneWatermarkView{
          w->prune_before, w->ledger_end,
          std::chrono::duration<double>(steady_clock.now() - w->computed_at).count(), w->applied};
    };
  }
  // The stuck filter and the overview judge deadlines by the clock that set them.
  deps.clock = &db_clock;
  deps.overview.throughput = &throughput;
  if (consumer) deps.overview.consumer_lag = [&] { return consumer->lag(); };
  deps.overview.relay_backlog = [&db] { return (*db)->outbox().backlog(); };
  deps.overview.health = {
      {"database", [&db] { return (*db)->ready(); }},
      {"ledger", [&ledger] { return ledger->ping(); }},
      {"kafka", relay ? std::function<sc::Result<void>()>([&relay] { return relay->ping(); })
                      : std::function<sc::Result<void>()>()}};
  if (!cfg.production() && embedded) {
    // Outage drills on the embedded ledger (POST /ledger/faults); never in production.
    deps.set_outage = [embedded](const std::string& sync, bool down) -> sc::Result<void> {
      embedded->setOutage(sync, down);
      return {};
    };
  }
  sc::api::Api api(std::move(deps));
  sc::api::HttpServer server(httpServerOptions(cfg), api.router());
  try {
    server.start();
  } catch (const std::exception& e) {
    log->critical("HTTP: {} (check HTTP_BIND, PORT, HTTP_TLS_CERT_FILE, HTTP_TLS_KEY_FILE)",
                  e.what());
    return 1;
  }
  workers.start();
  if (relay) {
    try {
      relay->start();
      consumer->start();
    } catch (const std::exception& e) {
      log->critical(
          "Kafka: {} (check KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_PROPERTY_*)",
          e.what());
      server.stop();
      workers.stop();
      return 1;
    }
  }
  if (pruner) pruner->start();
  reconciler.start();  // REC_ENABLED=false: passes only on POST /reconciliation/run
  std::printf("settlement-coordinator listening on %s://%s:%u (ledger: %s, kafka: %s)\n",
              cfg.httpTls() ? "https" : "http", cfg.http_bind.c_str(), server.port(),
              ledger_desc.c_str(),
              cfg.kafka_bootstrap_servers.empty() ? "off" : cfg.kafka_bootstrap_servers.c_str());
  std::fflush(stdout);
  log->info("ready: port {}, {} workers, batch {}, kafka {}", server.port(), cfg.settlement_workers,
            cfg.settlement_batch_size,
            cfg.kafka_bootstrap_servers.empty() ? "off" : cfg.kafka_bootstrap_servers);

  const int sig = signals.wait();
  log->info("signal {}: draining", sig);
  // Stop intake first (HTTP, then Kafka), then the workers, then relay what is left.
  server.stop();
  reconciler.stop();
  if (pruner) pruner->stop();
  if (consumer) consumer->stop();
  workers.stop();
  if (relay) relay->stop();
  log->info("stopped cleanly");
  return 0;
}

}  // namespace

int main() {
  sc::app::Config cfg;
  try {
    cfg = sc::app::Config::fromProcessEnvironment();
  } catch (const sc::app::ConfigError& e) {
    std::cerr << "settlement-coordinator: configuration error: " << e.what() << "\n";
    return 2;
  }
  sc::log::setLevel(cfg.log_level);
  return run(cfg);
}

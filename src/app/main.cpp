// settlement-coordinator: wiring, start-up and graceful shutdown (DESIGN §2 "app").
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>

#include "api/http_server.h"
#include "api/routes.h"
#include "app/config.h"
#include "common/log.h"
#include "ledger/embedded_ledger.h"
#include "messaging/outbox_relay.h"
#include "messaging/trade_consumer.h"
#include "store/database.h"
#include "workflow/intake.h"
#include "workflow/worker_pool.h"
#include "workflow/workflow.h"

namespace {

// HTTP_BIND, PORT, HTTP_THREADS, HTTP_MAX_BODY_BYTES, HTTP_READ_TIMEOUT_SECONDS; handlers may block
// on the database, so their pool follows the connection pool.
sc::api::HttpServerOptions httpServerOptions(const sc::app::Config& cfg) {
  sc::api::HttpServerOptions o;
  o.bind_address = cfg.http_bind;
  o.port = static_cast<uint16_t>(cfg.port);
  o.io_threads = cfg.http_threads;
  o.handler_threads = std::max(4, cfg.db_pool_size / 2);
  o.max_body_bytes = cfg.http_max_body_bytes;
  o.read_timeout = std::chrono::seconds(cfg.http_read_timeout_seconds);
  return o;
}

int run(const sc::app::Config& cfg) {
  using namespace std::chrono;
  auto log = sc::log::get("app");

  // Block the shutdown signals in every thread; main waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto db = sc::store::Database::open(cfg.postgresConnInfo(), cfg.db_pool_size);
  if (!db) {
    log->critical("database: {} (check DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD)",
                  db.error().message);
    return 1;
  }

  sc::SystemClock clock;
  sc::ledger::EmbeddedLedger::Options lopt;
  lopt.data_dir = cfg.ledger_data_dir;
  lopt.synchronizers = cfg.ledger_synchronizers;
  lopt.securities_issuer_party = cfg.securities_issuer_party;
  lopt.cash_provider_party = cfg.cash_provider_party;
  auto ledger = sc::ledger::EmbeddedLedger::open(lopt);
  if (!ledger) {
    log->critical("embedded ledger at {}: {} (check LEDGER_DATA_DIR, LEDGER_SYNCHRONIZERS)",
                  cfg.ledger_data_dir, ledger.error().message);
    return 1;
  }

  sc::workflow::Intake intake((*db)->settlements(), clock, sc::TradeRules{cfg.allowed_symbols},
                              seconds(cfg.settlement_timeout_seconds));
  sc::workflow::WorkflowOptions wopt;
  wopt.batch_size = cfg.settlement_batch_size;
  wopt.retry_attempts = cfg.settlement_retry_attempts;
  wopt.retry_delay = seconds(cfg.settlement_retry_delay_seconds);
  wopt.timeout = seconds(cfg.settlement_timeout_seconds);
  wopt.lease = seconds(cfg.settlement_lease_seconds);
  sc::workflow::Workflow workflow((*db)->settlements(), (*db)->accounts(), **ledger, clock, wopt);
  sc::workflow::WorkerPool workers(workflow, cfg.settlement_workers,
                                   milliseconds(cfg.settlement_poll_millis));

  std::unique_ptr<sc::messaging::OutboxRelay> relay;
  std::unique_ptr<sc::messaging::TradeConsumer> consumer;
  sc::messaging::KafkaOptions kopt;
  kopt.bootstrap_servers = cfg.kafka_bootstrap_servers;
  kopt.trade_topic = cfg.trade_events_topic;
  kopt.dlq_topic = cfg.trade_events_dlq_topic;
  kopt.settlement_topic = cfg.settlement_events_topic;
  kopt.consumer_group = cfg.kafka_consumer_group;
  if (!cfg.kafka_bootstrap_servers.empty()) {
    relay = std::make_unique<sc::messaging::OutboxRelay>(kopt, (*db)->outbox(), clock);
    sc::store::SettlementRepository& repo = (*db)->settlements();
    consumer = std::make_unique<sc::messaging::TradeConsumer>(
        kopt, intake, [&repo]() -> sc::Result<int64_t> {
          return repo.countPending();  // PENDING rows only, via settlements_status_idx
        });
  }
  // New outbox events (a trade taken in, a transition committed): relay them now, not after the
  // relay's idle poll.
  intake.setOnAccepted([&] {
    workers.wake();
    if (relay) relay->wake();
  });
  if (relay) workflow.setOnCommitted([&] { relay->wake(); });

  auto readiness = [&]() -> sc::Result<void> {
    if (auto r = (*db)->ready(); !r) return r;
    if (auto r = (*ledger)->ping(); !r) return r;
    if (relay) {
      if (auto r = relay->ping(); !r) return r;
    }
    return {};
  };
  sc::api::ApiDeps deps{intake,    (*db)->settlements(), (*db)->accounts(), workflow, **ledger,
                        readiness, cfg.api_token,        nullptr,           nullptr};
  if (cfg.environment != "production") {
    // Outage drills on the embedded ledger (POST /ledger/faults); never in production.
    sc::ledger::EmbeddedLedger* embedded = ledger->get();
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
    log->critical("HTTP: {} (check HTTP_BIND, PORT)", e.what());
    return 1;
  }
  workers.start();
  if (relay) {
    try {
      relay->start();
      consumer->start();
    } catch (const std::exception& e) {
      log->critical("Kafka: {} (check KAFKA_BOOTSTRAP_SERVERS)", e.what());
      server.stop();
      workers.stop();
      return 1;
    }
  }
  std::printf(
      "settlement-coordinator listening on http://%s:%u (ledger: embedded at %s, kafka: %s)\n",
      cfg.http_bind.c_str(), server.port(), cfg.ledger_data_dir.c_str(),
      cfg.kafka_bootstrap_servers.empty() ? "off" : cfg.kafka_bootstrap_servers.c_str());
  std::fflush(stdout);
  log->info("ready: port {}, {} workers, batch {}, kafka {}", server.port(), cfg.settlement_workers,
            cfg.settlement_batch_size,
            cfg.kafka_bootstrap_servers.empty() ? "off" : cfg.kafka_bootstrap_servers);

  int sig = 0;
  sigwait(&signals, &sig);
  log->info("signal {}: draining", sig);
  // Stop intake first (HTTP, then Kafka), then the workers, then relay what is left.
  server.stop();
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

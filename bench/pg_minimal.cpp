// sc-pg-minimal: the PostgreSQL-only limit of the *minimal* durable writes a settlement needs
// (issue 12, bench/README.md), beside sc-pg-limit's limit of the service's own statements.
//
// What a settlement cannot do without, whatever the design: its trade made durable when accepted
// (the row and its first audit event, committed before the intake acknowledges it), and its final
// state made durable with every audit event of its lifecycle (the five after PENDING), from which
// an event stream can be relayed by position (no separate outbox, no lease row version, no
// per-transition row update). Written the fastest way PostgreSQL offers: COPY into the tables in
// batches, one set-based UPDATE per batch, one commit per batch and phase, several connections
// committing at once so that their WAL flushes are shared (group commit), synchronous_commit on.
// The tables keep the indexes those reads need: the primary key, the unique trade id (intake
// idempotency) and the events' settlement id (a settlement's history).
//
// Each of --threads connections runs, per batch of --batch settlements: BEGIN; COPY trades;
// COPY their PENDING events; COMMIT; then BEGIN; UPDATE … SET status = 'settled' … FROM unnest;
// COPY the five later events; COMMIT. It reports settlements/s (both commits done) as one JSON
// line ("type":"pg_minimal") on stdout.
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"

namespace {

using namespace std::chrono;
using sc::bench::fixed;

std::atomic<bool> g_stop{false};

struct Options {
  std::string conninfo;
  int threads = 4;
  int batch = 500;
  double warmup_s = 5, duration_s = 30;
};

Options parse(int argc, char** argv) {
  Options o;
  sc::bench::Args args("sc-pg-minimal",
                       "usage: sc-pg-minimal --conninfo 'host=… port=… dbname=… user=…'\n"
                       "  [--threads N] [--batch N] [--warmup S] [--duration S]\n");
  args.add("--conninfo", o.conninfo);
  args.add("--threads", o.threads);
  args.add("--batch", o.batch);
  args.add("--warmup", o.warmup_s);
  args.add("--duration", o.duration_s);
  args.parse(argc, argv);
  if (o.conninfo.empty()) args.fail("--conninfo is required");
  if (o.threads < 1 || o.batch < 1) args.fail("--threads and --batch must be positive");
  return o;
}

using Conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;

Conn connect(const std::string& conninfo) {
  Conn c(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (PQstatus(c.get()) != CONNECTION_OK) {
    std::cerr << "sc-pg-minimal: cannot connect: " << PQerrorMessage(c.get());
    std::exit(2);
  }
  return c;
}

// Runs `sql`; false (and a message naming it) on any error.
bool exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  const auto st = PQresultStatus(r);
  const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok) std::cerr << "sc-pg-minimal: " << sql.substr(0, 60) << ": " << PQerrorMessage(c);
  PQclear(r);
  return ok;
}

// COPY `table` (`columns`) FROM STDIN with `rows` (text format, one row per line).
bool copyIn(PGconn* c, const std::string& table, const std::string& columns,
            const std::string& rows) {
  PGresult* r = PQexec(c, ("COPY " + table + " (" + columns + ") FROM STDIN").c_str());
  const bool started = PQresultStatus(r) == PGRES_COPY_IN;
  PQclear(r);
  if (!started) {
    std::cerr << "sc-pg-minimal: COPY " << table << ": " << PQerrorMessage(c);
    return false;
  }
  if (PQputCopyData(c, rows.data(), static_cast<int>(rows.size())) != 1 ||
      PQputCopyEnd(c, nullptr) != 1) {
    std::cerr << "sc-pg-minimal: COPY " << table << ": " << PQerrorMessage(c);
    return false;
  }
  bool ok = true;
  while (PGresult* done = PQgetResult(c)) {
    if (PQresultStatus(done) != PGRES_COMMAND_OK) {
      std::cerr << "sc-pg-minimal: COPY " << table << ": " << PQerrorMessage(c);
      ok = false;
    }
    PQclear(done);
  }
  return ok;
}

constexpr const char* kSchema = R"(
DROP SCHEMA IF EXISTS sc_minimal CASCADE;
CREATE SCHEMA sc_minimal;
CREATE TABLE sc_minimal.settlements (
  id uuid PRIMARY KEY,
  trade_id text NOT NULL UNIQUE,
  buyer_account_id text NOT NULL,
  seller_account_id text NOT NULL,
  symbol text NOT NULL,
  quantity numeric(18,8) NOT NULL,
  amount numeric(18,8) NOT NULL,
  status text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  settled_at timestamptz
);
CREATE TABLE sc_minimal.settlement_events (
  position bigserial PRIMARY KEY,
  settlement_id uuid NOT NULL,
  status text NOT NULL,
  details jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON sc_minimal.settlement_events (settlement_id);
)";

// The five audit events after PENDING, with details the size of the service's.
constexpr const char* kLater[] = {"initiated", "seller_securities_locked", "buyer_cash_locked",
                                  "executing", "settled"};

std::string uuidText(std::mt19937_64& rng) {
  const uint64_t a = rng(), b = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>((b >> 48) & 0xfff),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::signal(SIGINT, [](int) { g_stop = true; });
  std::signal(SIGTERM, [](int) { g_stop = true; });
  {
    Conn setup = connect(o.conninfo);
    if (!exec(setup.get(), kSchema)) return 2;
  }
  std::atomic<uint64_t> settled{0}, accepted{0}, commits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      Conn c = connect(o.conninfo);
      std::mt19937_64 rng(0x5EED0000u + static_cast<unsigned>(t));
      std::vector<std::string> ids(static_cast<size_t>(o.batch));
      std::string trades, first, later, array;
      uint64_t seq = 0;
      while (!g_stop) {
        trades.clear();
        first.clear();
        later.clear();
        array = "{";
        for (int i = 0; i < o.batch; ++i, ++seq) {
          std::string& id = ids[static_cast<size_t>(i)];
          id = uuidText(rng);
          const std::string trade = "min_" + std::to_string(t) + "_" + std::to_string(seq);
          trades += id + "\t" + trade + "\tacc_min_b" + std::to_string(seq % 200) + "\tacc_min_s" +
                    std::to_string(seq % 200) + "\tBNCH/USDC\t1\t10\tpending\n";
          first += id + "\tpending\t{\"trade_id\": \"" + trade + "\"}\n";
          for (const char* status : kLater) {
            later += id + "\t" + status + "\t{\"ledger_ref\": \"upd#" + std::to_string(seq) +
                     "\", \"synchronizer\": \"settlement\"}\n";
          }
          array += (i ? "," : "") + id;
        }
        array += "}";
        auto transaction = [&](auto&& body) {
          if (exec(c.get(), "BEGIN") && body() && exec(c.get(), "COMMIT")) {
            commits++;
            return true;
          }
          exec(c.get(), "ROLLBACK");
          std::this_thread::sleep_for(milliseconds(100));
          return false;
        };
        // Acceptance: the trade and its first event, durable before the intake acknowledges.
        if (!transaction([&] {
              return copyIn(c.get(), "sc_minimal.settlements",
                            "id, trade_id, buyer_account_id, seller_account_id, symbol, "
                            "quantity, amount, status",
                            trades) &&
                     copyIn(c.get(), "sc_minimal.settlement_events",
                            "settlement_id, status, details", first);
            }))
          continue;
        accepted += static_cast<uint64_t>(o.batch);
        // The final state and the rest of the lifecycle's events.
        if (!transaction([&] {
              return exec(c.get(),
                          "UPDATE sc_minimal.settlements SET status = 'settled', settled_at = "
                          "now() WHERE id = ANY('" +
                              array + "'::uuid[])") &&
                     copyIn(c.get(), "sc_minimal.settlement_events",
                            "settlement_id, status, details", later);
            }))
          continue;
        settled += static_cast<uint64_t>(o.batch);
      }
    });
  }
  auto wait = [&](double s) {
    auto until = steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(s));
    while (!g_stop && steady_clock::now() < until) std::this_thread::sleep_for(milliseconds(50));
  };
  wait(o.warmup_s);
  auto t0 = steady_clock::now();
  const uint64_t s0 = settled, a0 = accepted, k0 = commits;
  const double self0 = sc::bench::processCpuSeconds(getpid());
  const auto m0 = sc::bench::machineTicks();
  wait(o.duration_s);
  const double secs = duration<double>(steady_clock::now() - t0).count();
  const uint64_t s1 = settled, a1 = accepted, k1 = commits;
  const double self1 = sc::bench::processCpuSeconds(getpid());
  const auto m1 = sc::bench::machineTicks();
  const bool interrupted = g_stop.load();
  g_stop = true;
  for (auto& t : threads) t.join();

  const double rate = static_cast<double>(s1 - s0) / secs;
  std::string j = "{\"type\":\"pg_minimal\",\"duration_s\":" + fixed(secs, 2);
  j += ",\"settled_per_s\":" + fixed(rate, 1);
  j += ",\"accepted_per_s\":" + fixed(static_cast<double>(a1 - a0) / secs, 1);
  j += ",\"events_per_s\":" + fixed(6.0 * rate, 1);
  j += ",\"commits_per_s\":" + fixed(static_cast<double>(k1 - k0) / secs, 1);
  j += ",\"threads\":" + std::to_string(o.threads);
  j += ",\"batch\":" + std::to_string(o.batch);
  j += ",\"client_cpu_pct\":" + fixed(100.0 * (self1 - self0) / secs, 1);
  j += ",\"machine_busy_pct\":" + fixed(sc::bench::busyPercent(m0, m1), 1) + "}";
  std::cout << j << std::endl;
  std::cerr << "sc-pg-minimal: " << fixed(rate, 0)
            << " settlements/s (minimal durable writes, PostgreSQL only) over " << fixed(secs, 1)
            << " s\n";
  return interrupted ? 130 : 0;
}

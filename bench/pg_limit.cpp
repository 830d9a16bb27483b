// sc-pg-limit: the PostgreSQL-only limit for the service's per-settlement writes (bench/README.md).
//
// Runs the store calls the service makes for each trade — with the same statements, transactions,
// batch sizes and thread counts, but no ledger, no Kafka and no workflow logic — as fast as the
// database allows, and reports settlements/s:
//   intake thread   Intake's repo.intake() of a consumer batch (KafkaOptions::consume_batch, 500)
//   N workers       Workflow::runOnce's store calls: leaseDue(batch 100), accounts.findMany(), one
//                   write() of the six transitions PENDING→…→SETTLED (+ audit/outbox rows)
//   relay thread    OutboxRelay: pending(1000) then markPublished() of what was read
// The intake keeps at most --backlog settlements ahead of the workers, like a saturated consumer.
#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "store/database.h"
#include "workflow/event_details.h"

namespace {

using namespace std::chrono;
using sc::bench::fixed;
using sc::bench::Histogram;

std::atomic<bool> g_stop{false};

struct Options {
  std::string conninfo;
  int pairs = 200;
  std::string account_prefix = "acc_limit";
  int intake_batch = 500;  // messaging::KafkaOptions::consume_batch
  int worker_batch = 100;  // SETTLEMENT_BATCH_SIZE
  int workers = 2;         // SETTLEMENT_WORKERS
  int relay_batch = 1000;  // messaging::KafkaOptions::relay_batch
  int pool = 8;            // DB_POOL_SIZE
  int backlog = 5000;
  double warmup_s = 5, duration_s = 30;
};

Options parse(int argc, char** argv) {
  Options o;
  sc::bench::Args args(
      "sc-pg-limit",
      "usage: sc-pg-limit --conninfo 'host=… port=… dbname=… user=…' [--warmup S]\n"
      "  [--duration S] [--intake-batch N] [--worker-batch N] [--workers N]\n"
      "  [--relay-batch N] [--pool N] [--backlog N] [--pairs N]\n");
  args.add("--conninfo", o.conninfo);
  args.add("--warmup", o.warmup_s);
  args.add("--duration", o.duration_s);
  args.add("--intake-batch", o.intake_batch);
  args.add("--worker-batch", o.worker_batch);
  args.add("--workers", o.workers);
  args.add("--relay-batch", o.relay_batch);
  args.add("--pool", o.pool);
  args.add("--backlog", o.backlog);
  args.add("--pairs", o.pairs);
  args.parse(argc, argv);
  if (o.conninfo.empty()) args.fail("--conninfo is required");
  return o;
}

// Per-operation latency, shared by threads.
struct Op {
  std::mutex mu;
  Histogram h;
  uint64_t errors = 0;
  void add(int64_t us) {
    std::lock_guard l(mu);
    h.record(static_cast<uint64_t>(std::max<int64_t>(0, us)));
  }
  void fail() {
    std::lock_guard l(mu);
    ++errors;
  }
};

template <class F>
auto timed(Op& op, F&& f) {
  auto t = steady_clock::now();
  auto r = f();
  auto us = duration_cast<microseconds>(steady_clock::now() - t).count();
  if (r.ok())
    op.add(us);
  else
    op.fail();
  return r;
}

std::string ledgerRef(const char* kind, uint64_t n) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s#%016llx%016llx", kind, static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(n * 0x9E3779B97F4A7C15ull));
  return buf;
}

// The six writes Workflow::runOnce commits for a settlement that goes all the way in one batch,
// with the workflow's own event details (workflow/event_details.h) for the outcomes the ledger
// would have returned.
void addLifecycle(const sc::Settlement& leased, uint64_t n,
                  std::vector<sc::store::StateWrite>& out) {
  using sc::Status;
  namespace W = sc::workflow;
  sc::Settlement s = leased;
  auto now = std::chrono::time_point_cast<sc::Duration>(system_clock::now());
  auto move = [&](Status to, std::string details) {
    Status from = s.status;
    s.status = to;
    s.updated_at = now;
    out.push_back(sc::store::StateWrite{s, from, std::move(details)});
  };
  auto outcome = [&](const char* synchronizer, uint64_t update, std::string contract) {
    sc::ledger::Outcome o;
    o.update_id = ledgerRef("upd", update);
    o.synchronizer = synchronizer;
    o.contract_id = std::move(contract);
    return o;
  };
  s.dvp_contract_id = ledgerRef("dvp", n);
  s.dvp_contract_template_id = "Settlement.DeliveryVsPayment:DeliveryVsPayment";
  s.initiated_at = now;
  move(Status::kInitiated,
       W::initiatedDetails(s, outcome("settlement", n * 8 + 1, s.dvp_contract_id)));
  s.locked_quantity = s.trade.quantity;
  s.seller_securities_ledger_ref = ledgerRef("lock", n * 8 + 2);
  auto locked_securities = outcome("securities", n * 8 + 2, s.seller_securities_ledger_ref);
  locked_securities.quantity = s.locked_quantity;
  move(Status::kSellerSecuritiesLocked, W::securitiesLockedDetails(locked_securities));
  s.locked_amount = s.trade.amount;
  s.buyer_cash_ledger_ref = ledgerRef("lock", n * 8 + 3);
  auto locked_cash = outcome("cash", n * 8 + 3, s.buyer_cash_ledger_ref);
  locked_cash.amount = s.locked_amount;
  move(Status::kBuyerCashLocked, W::cashLockedDetails(locked_cash));
  move(Status::kExecuting, W::executingDetails(s, outcome("settlement", n * 8 + 4, "")));
  s.dvp_atomic_transaction_id = ledgerRef("upd", n * 8 + 5);
  s.buyer_securities_ledger_ref = ledgerRef("hold", n * 8 + 5);
  s.seller_cash_ledger_ref = ledgerRef("hold", n * 8 + 6);
  s.settled_quantity = s.trade.quantity;
  s.settled_amount = s.trade.amount;
  s.locked_quantity = sc::Decimal();
  s.locked_amount = sc::Decimal();
  s.confirmed_at = now;
  auto settle = outcome("settlement", n * 8 + 5, "");
  settle.offset = static_cast<int64_t>(n * 8 + 5);
  settle.buyer_securities_contract_id = s.buyer_securities_ledger_ref;
  settle.seller_cash_contract_id = s.seller_cash_ledger_ref;
  settle.quantity = s.settled_quantity;
  settle.amount = s.settled_amount;
  move(Status::kConfirmed, W::settleDetails(s, settle));
  s.settled_at = now;
  move(Status::kSettled, W::settledDetails(s, settle.offset));
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::signal(SIGINT, [](int) { g_stop = true; });
  std::signal(SIGTERM, [](int) { g_stop = true; });

  auto db = sc::store::Database::open(o.conninfo, o.pool);
  if (!db) {
    std::cerr << "sc-pg-limit: " << db.error().message << "\n";
    return 1;
  }
  sc::store::SettlementRepository& repo = (*db)->settlements();
  sc::store::AccountRepository& accounts = (*db)->accounts();
  sc::store::OutboxRepository& outbox = (*db)->outbox();

  for (int p = 0; p < o.pairs; ++p) {
    for (const char* side : {"_b", "_s"}) {
      sc::Account a;
      a.account_id = o.account_prefix + side + std::to_string(p);
      a.canton_party = a.account_id + "::party";
      auto r = accounts.create(a);
      if (!r && r.error().code != "account_exists") {
        std::cerr << "sc-pg-limit: account: " << r.error().message << "\n";
        return 1;
      }
    }
  }

  const auto now0 = std::chrono::time_point_cast<sc::Duration>(system_clock::now());
  const sc::Date today = sc::dateOf(now0);
  const std::string tag = std::to_string(time(nullptr) % 100000000);

  Op op_intake, op_lease, op_accounts, op_write, op_pending, op_mark;
  std::atomic<uint64_t> created{0}, settled{0}, published{0}, transitions{0};

  std::thread intake([&] {
    uint64_t seq = 0;
    std::vector<sc::Trade> batch;
    while (!g_stop) {
      if (created.load() - settled.load() > static_cast<uint64_t>(o.backlog)) {
        std::this_thread::sleep_for(milliseconds(1));
        continue;
      }
      batch.clear();
      for (int i = 0; i < o.intake_batch; ++i, ++seq) {
        sc::Trade t;
        t.trade_id = "limit_" + tag + "_" + std::to_string(seq);
        t.event_id = "evt_" + t.trade_id;
        int pair = static_cast<int>(seq % static_cast<uint64_t>(o.pairs));
        t.buyer_account_id = o.account_prefix + "_b" + std::to_string(pair);
        t.seller_account_id = o.account_prefix + "_s" + std::to_string(pair);
        t.symbol = "BNCH/USDC";
        t.quantity = *sc::Decimal::parse("1");
        t.price = *sc::Decimal::parse("10");
        t.amount = *sc::Decimal::parse("10");
        t.settlement_date = today;
        t.executed_at = now0;
        batch.push_back(std::move(t));
      }
      auto now = std::chrono::time_point_cast<sc::Duration>(system_clock::now());
      auto r = timed(op_intake, [&] { return repo.intake(batch, now, seconds(300)); });
      if (!r) {
        std::cerr << "sc-pg-limit: intake: " << r.error().message << "\n";
        std::this_thread::sleep_for(milliseconds(100));
        continue;
      }
      created += batch.size();
    }
  });

  std::vector<std::thread> workers;
  std::atomic<uint64_t> lifecycle_seq{0};
  for (int w = 0; w < o.workers; ++w) {
    workers.emplace_back([&] {
      while (!g_stop) {
        auto now = std::chrono::time_point_cast<sc::Duration>(system_clock::now());
        auto leased =
            timed(op_lease, [&] { return repo.leaseDue(now, o.worker_batch, seconds(15), 0); });
        if (!leased) {
          std::cerr << "sc-pg-limit: leaseDue: " << leased.error().message << "\n";
          std::this_thread::sleep_for(milliseconds(100));
          continue;
        }
        if (leased->empty()) {
          std::this_thread::sleep_for(milliseconds(1));
          continue;
        }
        std::vector<std::string> ids;
        for (const auto& s : *leased) {
          ids.push_back(s.trade.buyer_account_id);
          ids.push_back(s.trade.seller_account_id);
        }
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        auto found = timed(op_accounts, [&] { return accounts.findMany(ids); });
        if (!found) continue;
        std::vector<sc::store::StateWrite> writes;
        writes.reserve(leased->size() * 6);
        for (const auto& s : *leased) addLifecycle(s, lifecycle_seq++, writes);
        auto applied = timed(op_write, [&] { return repo.write(writes); });
        if (!applied) {
          std::cerr << "sc-pg-limit: write: " << applied.error().message << "\n";
          continue;
        }
        uint64_t held = 0, done = 0;
        for (size_t i = 0; i < applied->size(); ++i) {
          if (!(*applied)[i]) continue;
          ++held;
          if (writes[i].next.status == sc::Status::kSettled) ++done;
        }
        transitions += held;
        settled += done;
      }
    });
  }

  std::thread relay([&] {
    while (!g_stop) {
      auto batch = timed(op_pending, [&] { return outbox.pending(o.relay_batch); });
      if (!batch || batch->empty()) {
        std::this_thread::sleep_for(milliseconds(50));  // relay_idle_poll_ms
        continue;
      }
      std::vector<int64_t> positions;
      for (const auto& e : *batch) positions.push_back(e.position);
      auto now = std::chrono::time_point_cast<sc::Duration>(system_clock::now());
      if (timed(op_mark, [&] { return outbox.markPublished(positions, now); }))
        published += positions.size();
    }
  });

  auto wait = [&](double s) {
    auto until = steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(s));
    while (!g_stop && steady_clock::now() < until) std::this_thread::sleep_for(milliseconds(50));
  };
  wait(o.warmup_s);
  auto t0 = steady_clock::now();
  uint64_t c0 = created, s0 = settled, p0 = published;
  double self0 = sc::bench::processCpuSeconds(getpid());
  auto m0 = sc::bench::machineTicks();
  wait(o.duration_s);
  double secs = duration<double>(steady_clock::now() - t0).count();
  uint64_t c1 = created, s1 = settled, p1 = published;
  double self1 = sc::bench::processCpuSeconds(getpid());
  auto m1 = sc::bench::machineTicks();
  bool interrupted = g_stop.load();
  g_stop = true;
  intake.join();
  for (auto& t : workers) t.join();
  relay.join();

  auto opJson = [](const char* name, Op& op) {
    std::lock_guard l(op.mu);
    return "\"" + std::string(name) + "\":{\"calls\":" + std::to_string(op.h.count()) +
           ",\"errors\":" + std::to_string(op.errors) +
           ",\"mean_ms\":" + fixed(op.h.mean() / 1000.0, 2) +
           ",\"p50_ms\":" + fixed(op.h.quantile(0.5) / 1000.0, 2) +
           ",\"p99_ms\":" + fixed(op.h.quantile(0.99) / 1000.0, 2) + "}";
  };
  std::string j = "{\"type\":\"pg_limit\",\"duration_s\":" + fixed(secs, 2);
  j += ",\"settled_per_s\":" + fixed(static_cast<double>(s1 - s0) / secs, 1);
  j += ",\"intake_per_s\":" + fixed(static_cast<double>(c1 - c0) / secs, 1);
  j += ",\"events_published_per_s\":" + fixed(static_cast<double>(p1 - p0) / secs, 1);
  j += ",\"intake_batch\":" + std::to_string(o.intake_batch);
  j += ",\"worker_batch\":" + std::to_string(o.worker_batch);
  j += ",\"workers\":" + std::to_string(o.workers);
  j += ",\"relay_batch\":" + std::to_string(o.relay_batch);
  j += ",\"client_cpu_pct\":" + fixed(100.0 * (self1 - self0) / secs, 1);
  j += ",\"machine_busy_pct\":" + fixed(sc::bench::busyPercent(m0, m1), 1);
  j += ",\"ops\":{" + opJson("intake", op_intake) + "," + opJson("lease_due", op_lease) + "," +
       opJson("find_accounts", op_accounts) + "," + opJson("write", op_write) + "," +
       opJson("outbox_pending", op_pending) + "," + opJson("mark_published", op_mark) + "}}";
  std::cout << j << std::endl;
  std::cerr << "sc-pg-limit: " << fixed(static_cast<double>(s1 - s0) / secs, 0)
            << " settlements/s (PostgreSQL only) over " << fixed(secs, 1) << " s\n";
  return interrupted ? 130 : 0;
}

// sc-ledger-compaction: the embedded ledger alone (no PostgreSQL, no Kafka), settling on several
// threads while its journal is compacted every few seconds. It measures what a compaction costs
// the commands that run meanwhile: how long each submit call waited, the throughput, and how long
// each compaction held the engine's lock, with the snapshot written by a forked child
// (LEDGER_COMPACT_IN_CHILD=true) and encoded under the lock (false), one after the other.
//
// The state compacted is that of --state-rounds settled rounds (5 commands each) plus what the
// measured phase adds. Before each compaction the ledger is pruned below its end of
// --prune-lag compactions before (0: never pruned, as while a backlog holds the service's
// watermark), so that the state stays about the same size, as in the service.
// Prints one JSON line per mode (type "ledger_compaction").
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "ledger/engine/embedded_ledger.h"

namespace {

using namespace sc;
using namespace sc::ledger;
using Clock = std::chrono::steady_clock;

struct Options {
  int state_rounds = 40000;
  double seconds = 20;
  int threads = 2;
  int batch = 20;  // rounds per submit call of a measuring thread
  double compact_every_s = 4;
  int prune_lag = 2;
  std::string modes = "child,here";
  std::string dir;
};

Options parse(int argc, char** argv) {
  Options o;
  bench::Args a("sc-ledger-compaction",
                "usage: sc-ledger-compaction [--state-rounds N] [--seconds S] [--threads T]\n"
                "       [--batch B] [--compact-every S] [--prune-lag N] [--modes child,here]\n"
                "       [--dir D]\n");
  a.add("--state-rounds", o.state_rounds);
  a.add("--seconds", o.seconds);
  a.add("--threads", o.threads);
  a.add("--batch", o.batch);
  a.add("--compact-every", o.compact_every_s);
  a.add("--prune-lag", o.prune_lag);
  a.add("--modes", o.modes);
  a.add("--dir", o.dir);
  a.parse(argc, argv);
  if (o.state_rounds < 0 || o.threads < 1 || o.batch < 1 || o.seconds <= 0 ||
      o.compact_every_s <= 0 || o.prune_lag < 0)
    a.fail(
        "--state-rounds and --prune-lag >= 0, --threads and --batch >= 1, --seconds and "
        "--compact-every > 0");
  return o;
}

[[noreturn]] void die(const std::string& what) {
  std::cerr << "sc-ledger-compaction: " << what << "\n";
  std::exit(1);
}

struct Parties {
  std::string buyer, seller;
};

// Settles `n` rounds named `<prefix><i>`, `batch` rounds per submit call and step; each call's
// latency (µs) goes into `latency` when given. Returns the commands run.
uint64_t settleRounds(EmbeddedLedger& l, const Parties& p, const std::string& prefix, int n,
                      int batch, bench::Histogram* latency) {
  uint64_t commands = 0;
  std::vector<Submission> subs;
  std::vector<std::string> dvps;
  auto submit = [&] {
    const auto t0 = Clock::now();
    auto results = l.submit(std::span<const Submission>(subs));
    if (latency) {
      latency->record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
    }
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i]) die(subs[i].command_id + ": " + results[i].error().message);
    }
    commands += results.size();
    return results;
  };
  for (int from = 0; from < n; from += batch) {
    const int count = std::min(batch, n - from);
    const int64_t floor = l.ledgerEnd();
    subs.clear();
    for (int i = 0; i < count; ++i) {
      CreateDvp c;
      c.buyer = p.buyer;
      c.seller = p.seller;
      c.security = "BNCH";
      c.cash_asset = "USDC";
      c.quantity = Decimal::parse("1").value();
      c.amount = Decimal::parse("10").value();
      c.settlement_date = std::chrono::sys_days{std::chrono::year{2026} / 12 / 7};
      subs.push_back({prefix + std::to_string(from + i) + ":initiate:0", c, floor});
    }
    auto created = submit();
    dvps.clear();
    for (auto& r : created) dvps.push_back(r->contract_id);
    auto step = [&](const char* name, auto make) {
      subs.clear();
      for (int i = 0; i < count; ++i) {
        subs.push_back(
            {prefix + std::to_string(from + i) + ":" + name + ":0", make(dvps[i]), floor});
      }
      submit();
    };
    step("lock_securities", [](const std::string& d) -> Command {
      return LockSecurities{d, Decimal::parse("1").value(), false};
    });
    step("lock_cash", [](const std::string& d) -> Command {
      return LockCash{d, Decimal::parse("10").value()};
    });
    step("reassign", [](const std::string& d) -> Command { return ReassignLocks{d}; });
    step("settle", [](const std::string& d) -> Command { return Settle{d}; });
  }
  return commands;
}

void runMode(const Options& o, bool in_child) {
  const std::string dir =
      (o.dir.empty() ? std::filesystem::temp_directory_path().string() : o.dir) +
      "/sc-ledger-compaction-" + std::to_string(::getpid()) + (in_child ? "-child" : "-here");
  std::filesystem::remove_all(dir);
  EmbeddedLedger::Options lo;
  lo.data_dir = dir;
  lo.compact_journal_bytes = 0;  // compacted by this tool, every --compact-every seconds
  lo.compact_in_child = in_child;
  lo.merge_holdings_above = 8;
  auto opened = EmbeddedLedger::open(lo);
  if (!opened) die("open " + dir + ": " + opened.error().message);
  auto& l = **opened;
  Parties p{l.allocateParty("buyer").value(), l.allocateParty("seller").value()};
  if (!l.credit(p.seller, "BNCH", Decimal::parse("1000000000").value(), "securities") ||
      !l.credit(p.buyer, "USDC", Decimal::parse("9000000000").value(), "cash"))
    die("funding failed");
  settleRounds(l, p, "state", o.state_rounds, 200, nullptr);
  const uint64_t journal_before = l.stats().bytes_written;

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commands{0};
  std::mutex mu;
  bench::Histogram latency, compaction_ms;
  std::vector<std::thread> threads;
  const auto started = Clock::now();
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      bench::Histogram mine;
      for (int round = 0; !stop; ++round) {
        commands += settleRounds(l, p, "t" + std::to_string(t) + "-" + std::to_string(round) + "-",
                                 o.batch, o.batch, &mine);
      }
      std::lock_guard g(mu);
      latency.merge(mine);
    });
  }
  std::thread compactor([&] {
    auto next = started;
    std::vector<int64_t> ends{l.ledgerEnd()};
    while (!stop) {
      next += std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(o.compact_every_s));
      while (!stop && Clock::now() < next)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (stop) break;
      if (o.prune_lag > 0 && ends.size() >= static_cast<size_t>(o.prune_lag)) {
        if (auto pr = l.prune(ends[ends.size() - static_cast<size_t>(o.prune_lag)]); !pr)
          die("prune: " + pr.error().message);
      }
      ends.push_back(l.ledgerEnd());
      const auto t0 = Clock::now();
      if (auto c = l.compact(); !c) die("compaction: " + c.error().message);
      compaction_ms.record(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()));
    }
  });
  while (Clock::now() - started < std::chrono::duration<double>(o.seconds))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop = true;
  for (auto& t : threads) t.join();
  compactor.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  const auto s = l.stats();
  const uint64_t journal_size = std::filesystem::file_size(dir + "/journal.log");
  opened->reset();
  std::filesystem::remove_all(dir);
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  std::cout << "{\"type\":\"ledger_compaction\",\"snapshot_in_child\":"
            << (in_child ? "true" : "false") << ",\"state_rounds\":" << o.state_rounds
            << ",\"prune_lag\":" << o.prune_lag << ",\"threads\":" << o.threads
            << ",\"batch\":" << o.batch << ",\"duration_s\":" << bench::fixed(elapsed)
            << ",\"commands_per_s\":" << bench::fixed(double(commands.load()) / elapsed, 0)
            << ",\"submit\":" << bench::percentilesJson(latency)
            << ",\"compactions\":" << s.compactions
            << ",\"compaction_lock_max_ms\":" << bench::fixed(s.compaction_lock_max_us / 1000.0, 1)
            << ",\"compaction_max_ms\":" << compaction_ms.max()
            << ",\"journal_bytes_written\":" << (s.bytes_written - journal_before)
            << ",\"journal_bytes_at_end\":" << journal_size
            << ",\"rss_peak_mib\":" << ru.ru_maxrss / 1024 << "}" << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  for (const char* mode : {"child", "here"}) {
    if (("," + o.modes + ",").find(std::string(",") + mode + ",") == std::string::npos) continue;
    runMode(o, std::string(mode) == "child");
  }
  return 0;
}

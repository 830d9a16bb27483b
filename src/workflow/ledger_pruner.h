#pragma once
// Prunes the embedded ledger below the coordinator's watermark (issue 12, DESIGN §5), on its own
// thread every LEDGER_PRUNE_INTERVAL_SECONDS. Never a plain TTL: the watermark is the least of
//  - the least ledger_offset_floor of the active settlements (every command they may still
//    submit, or resend after a lost answer, carries an after_offset at or above it);
//  - the least floor the workflow has read and not yet recorded (a row's first lease, an operator
//    retry: workflow/floor_reads.h), read before the database's;
//  - a ledger end read at least `lag` (SETTLEMENT_LEASE_SECONDS) ago: a margin for a floor read
//    outside this process, which floor_reads cannot see (there is none in embedded mode, whose
//    data directory is locked to one process);
//  - when the reconciler runs: its ledger position + 1 (it reads the movements after it), and
//    the least ledger_offset_floor of the settlements it has still to compare (their settles'
//    completions are read from there), so what it checks is pruned only once checked; but it
//    holds pruning back by at most `reconcile_window` offsets (LEDGER_RECONCILE_WINDOW) behind
//    the rest of the watermark: a reconciler that falls further behind would otherwise keep the
//    ledger's memory growing. What it then meets pruned it does not compare: settlements
//    (sc_reconciliation_pruned_unchecked_total) and offsets whose movements it skips (a
//    ledger_range_pruned finding, sc_reconciliation_pruned_offsets_total). It never runs a
//    command, so no money moves.
// The ledger then refuses any submission whose after_offset is below the watermark
// (ledger::kLedgerPruned), so a worker whose settlement finished meanwhile cannot run a command
// whose deduplication was pruned. Every instance may run one (embedded mode has one instance).
// Over a Canton participant (no engine: `engine` null) it prunes nothing: it publishes the same
// watermark (watermark(), GET /ledger/prune-watermark, sc_ledger_prune_watermark) for the
// participant's operator, who prunes through the participant's admin API, never past it. There
// the ledger end it keeps is read at least `publish_lag` ago: the other instances' floor reads,
// which this one cannot see, include those whose lease answer was lost, held for
// FloorReads::kDoubtful because the lease may still commit (README, "Pruning a participant").
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "common/metrics.h"
#include "common/periodic.h"
#include "domain/result.h"
#include "domain/time.h"
#include "ledger/engine/embedded_ledger.h"
#include "ledger/ledger.h"
#include "store/reconciliation.h"
#include "store/repository.h"
#include "workflow/floor_reads.h"

namespace sc::workflow {

struct LedgerPrunerOptions {
  std::chrono::milliseconds interval = std::chrono::seconds(10);
  std::chrono::milliseconds lag = std::chrono::seconds(15);  // at least the lease duration
  // Published only (Canton): the ledger end kept is read at least this long ago (and `lag`),
  // a margin for another instance's floor whose lease answer it lost (FloorReads::kDoubtful).
  std::chrono::milliseconds publish_lag = FloorReads::kDoubtful;
  int64_t reconcile_window = 1000000;  // ledger offsets
  // The reconciler runs on this instance (REC_ENABLED): its state bounds the watermark from the
  // start. Otherwise it bounds it once the reconciler has run on any instance (a pass recorded).
  bool reconciler_here = true;
};

struct LedgerPrunerMetrics {
  metrics::Probe probe{"ledger_pruner"};
  metrics::Counter passes = probe.counter("sc_ledger_prune_passes_total", "Ledger pruning passes");
  metrics::Counter failures =
      probe.counter("sc_ledger_prune_failures_total", "Ledger pruning passes that failed");
  metrics::Counter pruned_completions = probe.counter(
      "sc_ledger_pruned_completions_total", "Completions and fences pruned off the ledger");
  metrics::Gauge watermark =
      probe.gauge("sc_ledger_prune_watermark",
                  "Ledger offset below which nothing an active settlement may need remains "
                  "(0: not yet known)");
};

// The watermark of the last pass that computed one.
struct PruneWatermark {
  int64_t prune_before = 0;  // offsets below it may be pruned (Canton's pruneUpTo: one less)
  int64_t ledger_end = 0;    // the ledger end that pass read
  MonotonicClock::TimePoint computed_at{};
  bool applied = false;  // pruned by this instance (embedded), or only published (Canton)
};

class LedgerPruner {
 public:
  // `reconciliation`: the reconciler's state, when it runs (null: not followed). `ledger`: the
  // ledger the workflow submits to; `engine`: the same ledger when it is the embedded engine,
  // which is then pruned (null: the watermark is only published). `floor_reads`: the workflow's
  // (Workflow::floorReads()).
  LedgerPruner(store::SettlementRepository& settlements,
               store::ReconciliationRepository* reconciliation, ledger::Ledger& ledger,
               ledger::EmbeddedLedger* engine, const FloorReads& floor_reads,
               LedgerPrunerOptions options, const MonotonicClock& elapsed);
  ~LedgerPruner();  // stop()
  LedgerPruner(const LedgerPruner&) = delete;
  LedgerPruner& operator=(const LedgerPruner&) = delete;

  // One pass: the watermark it pruned below (or published), or nullopt while no ledger end it
  // read is `lag` (published only: `publish_lag`) old.
  Result<std::optional<int64_t>> runOnce();
  // The last watermark computed (nullopt: none yet). Thread-safe.
  std::optional<PruneWatermark> watermark() const;
  void start();  // a first pass at once, then one every interval until stop()
  void stop();

 private:
  Result<std::optional<int64_t>> pass();

  store::SettlementRepository& settlements_;
  store::ReconciliationRepository* reconciliation_;
  ledger::Ledger& ledger_;
  ledger::EmbeddedLedger* engine_;
  const FloorReads& floor_reads_;
  LedgerPrunerOptions options_;
  const MonotonicClock& elapsed_;
  // Ledger ends read by the passes, oldest first: the newest one at least `lag` (publish_lag)
  // old bounds the watermark; older ones are dropped.
  std::deque<std::pair<MonotonicClock::TimePoint, int64_t>> ends_;
  MonotonicClock::TimePoint last_trim_{};  // the last returnFreeMemory()
  mutable std::mutex watermark_mu_;
  std::optional<PruneWatermark> watermark_;
  Periodic periodic_;
  LedgerPrunerMetrics metrics_;
};

}  // namespace sc::workflow

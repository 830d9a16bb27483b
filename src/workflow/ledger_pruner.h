#pragma once
// Prunes the embedded ledger below the coordinator's watermark (issue 12, DESIGN §5), on its own
// thread every LEDGER_PRUNE_INTERVAL_SECONDS. Never a plain TTL: the watermark is the least of
//  - the least ledger_offset_floor of the active settlements (every command they may still
//    submit, or resend after a lost answer, carries an after_offset at or above it);
//  - the ledger end read at the previous pass: a row leased for the first time records a ledger
//    end read just before its lease, which a pass in between may not see in the database yet;
//  - the reconciler's ledger position + 1, when it runs (it reads the movements after it).
// The ledger then refuses any submission whose after_offset is below the watermark
// (ledger::kLedgerPruned), so a worker whose settlement finished meanwhile cannot run a command
// whose deduplication was pruned. Every instance may run one (embedded mode has one instance).
#include <chrono>
#include <optional>

#include "common/metrics.h"
#include "common/periodic.h"
#include "domain/result.h"
#include "ledger/engine/embedded_ledger.h"
#include "store/reconciliation.h"
#include "store/repository.h"

namespace sc::workflow {

struct LedgerPrunerOptions {
  std::chrono::milliseconds interval = std::chrono::minutes(1);
};

struct LedgerPrunerMetrics {
  metrics::Probe probe{"ledger_pruner"};
  metrics::Counter passes = probe.counter("sc_ledger_prune_passes_total", "Ledger pruning passes");
  metrics::Counter failures =
      probe.counter("sc_ledger_prune_failures_total", "Ledger pruning passes that failed");
  metrics::Counter pruned_completions = probe.counter(
      "sc_ledger_pruned_completions_total", "Completions and fences pruned off the ledger");
};

class LedgerPruner {
 public:
  // `reconciliation`: the reconciler's state, when it runs (null: not followed).
  LedgerPruner(store::SettlementRepository& settlements,
               store::ReconciliationRepository* reconciliation, ledger::EmbeddedLedger& ledger,
               LedgerPrunerOptions options);
  ~LedgerPruner();  // stop()
  LedgerPruner(const LedgerPruner&) = delete;
  LedgerPruner& operator=(const LedgerPruner&) = delete;

  // One pass: the watermark it pruned below, or nullopt on the first pass (which only reads the
  // ledger end the next one waits for).
  Result<std::optional<int64_t>> runOnce();
  void start();  // a first pass at once, then one every interval until stop()
  void stop();

 private:
  Result<std::optional<int64_t>> pass();

  store::SettlementRepository& settlements_;
  store::ReconciliationRepository* reconciliation_;
  ledger::EmbeddedLedger& ledger_;
  LedgerPrunerOptions options_;
  std::optional<int64_t> previous_end_;
  Periodic periodic_;
  LedgerPrunerMetrics metrics_;
};

}  // namespace sc::workflow

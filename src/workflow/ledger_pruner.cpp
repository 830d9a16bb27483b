#include "workflow/ledger_pruner.h"

#include <algorithm>

#include "common/free_memory.h"
#include "common/log.h"

namespace sc::workflow {

LedgerPruner::LedgerPruner(store::SettlementRepository& settlements,
                           store::ReconciliationRepository* reconciliation, ledger::Ledger& ledger,
                           ledger::EmbeddedLedger* engine, const FloorReads& floor_reads,
                           LedgerPrunerOptions options, const MonotonicClock& elapsed)
    : settlements_(settlements),
      reconciliation_(reconciliation),
      ledger_(ledger),
      engine_(engine),
      floor_reads_(floor_reads),
      options_(options),
      elapsed_(elapsed) {}

LedgerPruner::~LedgerPruner() { stop(); }

Result<std::optional<int64_t>> LedgerPruner::pass() {
  // The ledger end first: a row leased after this read records a floor at or above it.
  auto end = ledger_.knownLedgerEnd();
  if (!end) return end.error();
  // The floors read and not yet recorded, before the recorded ones: one released after this read
  // was committed before it, so the database read below sees it.
  const std::optional<int64_t> held = floor_reads_.least();
  auto floor = settlements_.leastActiveLedgerFloor();
  if (!floor) return floor.error();
  std::optional<int64_t> reconciled, to_compare;
  if (reconciliation_) {
    auto state = reconciliation_->state();
    if (!state) return state.error();
    if (options_.reconciler_here || state->passes > 0) {
      reconciled = state->ledger_offset + 1;
      auto least = reconciliation_->leastFloorToCompare(state->watermark);
      if (!least) return least.error();
      to_compare = *least;
    }
  }
  const auto now = elapsed_.now();
  const auto lag = engine_ ? options_.lag : std::max(options_.lag, options_.publish_lag);
  ends_.emplace_back(now, *end);
  while (ends_.size() > 1 && ends_[1].first <= now - lag) ends_.pop_front();
  if (ends_.front().first > now - lag) return std::optional<int64_t>();
  int64_t watermark = ends_.front().second;
  if (held) watermark = std::min(watermark, *held);
  if (*floor) watermark = std::min(watermark, **floor);
  // The reconciler holds it back by the window at most: what it then meets pruned it records as
  // not compared (the settlements it skips, the offsets whose movements it skips).
  const int64_t bound = watermark - options_.reconcile_window;
  if (reconciled) watermark = std::min(watermark, std::max(*reconciled, bound));
  if (to_compare) watermark = std::min(watermark, std::max(*to_compare, bound));
  auto publish = [&](bool applied) {
    metrics_.watermark.set(watermark);
    std::lock_guard l(watermark_mu_);
    watermark_ = PruneWatermark{watermark, *end, now, applied};
  };
  if (!engine_) {
    publish(false);
    return std::optional<int64_t>(watermark);
  }
  auto pruned = engine_->prune(watermark);
  if (!pruned) return pruned.error();
  metrics_.pruned_completions.inc(pruned->completions);
  if (pruned->completions + pruned->updates + pruned->movements + pruned->dvps > 0) {
    // malloc_trim walks every arena under its lock, pausing allocations meanwhile: at most once
    // a minute, not at every pass of a busy ledger.
    if (last_trim_ == MonotonicClock::TimePoint{} || now - last_trim_ >= std::chrono::minutes(1)) {
      last_trim_ = now;
      returnFreeMemory();
    }
    log::get("ledger")->info(
        "ledger pruned below offset {}: {} completions, {} updates, {} movements, {} DvPs",
        pruned->pruned_before, pruned->completions, pruned->updates, pruned->movements,
        pruned->dvps);
  }
  watermark = pruned->pruned_before;  // the engine's: never moves back
  publish(true);
  return std::optional<int64_t>(watermark);
}

Result<std::optional<int64_t>> LedgerPruner::runOnce() {
  metrics_.passes.inc();
  auto r = pass();
  if (!r) {
    metrics_.failures.inc();
    log::get("ledger")->warn(
        "ledger pruning failed (retried in {} s): {}",
        std::chrono::duration_cast<std::chrono::seconds>(options_.interval).count(),
        r.error().message);
  }
  return r;
}

std::optional<PruneWatermark> LedgerPruner::watermark() const {
  std::lock_guard l(watermark_mu_);
  return watermark_;
}

void LedgerPruner::start() {
  periodic_.start(options_.interval, [this] { (void)runOnce(); });
}

void LedgerPruner::stop() { periodic_.stop(); }

}  // namespace sc::workflow

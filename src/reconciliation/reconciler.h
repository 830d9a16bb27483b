#pragma once
// The reconciler (DESIGN §11): compares PostgreSQL with the ledger and with settlement.events and
// records every drift as a finding (store::Finding). It never changes a settlement, the ledger or
// the topic: a finding stays open until a later pass sees the drift gone (resolved) or an operator
// acknowledges it.
//
// A pass, bounded and incremental (REC_BATCH settlements, REC_LEDGER_BATCH ledger movements):
//  1. reads what arrived on settlement.events (EventTap) and matches it with the audit trail
//     (EventTracker: event_forged, event_out_of_order);
//  2. reads the ledger's settles and credits since its ledger offset: a settle whose command id
//     names no settlement of the database is ledger_settle_unknown; credits carry each asset's
//     expected total, which the ledger's totals must equal (ledger_total_changed); offsets the
//     ledger pruned before they were read are skipped and recorded (ledger_range_pruned);
//  3. walks the audit trail by position from its watermark, up to where it is final: each
//     settlement met is compared with the ledger (checks.h) once it rests (see Reconciler::rests
//     in reconciler.cpp: why this never races the workflow into a false finding), and each audit
//     row must have been seen on the topic (event_missing otherwise). The watermark stops at the
//     first audit row that cannot be judged yet;
//  4. re-checks the settlements of the oldest open findings, and resolves what is gone.
// Progress is kept in PostgreSQL (reconciliation_state), so a restart or another instance carries
// on where the last pass ended. With several instances, one reconciles at a time: the holder of a
// PostgreSQL advisory lock (electWith), as the outbox relay does.
//
// Concurrency: passes are serialised (the background thread and runPass() from the API share a
// mutex); status() and acknowledge() may be called from any thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "domain/result.h"
#include "domain/time.h"
#include "ledger/ledger.h"
#include "reconciliation/event_tap.h"
#include "reconciliation/event_tracker.h"
#include "reconciliation/findings.h"
#include "store/advisory_lock.h"
#include "store/reconciliation.h"
#include "store/repository.h"

namespace sc::reconciliation {

// How long a hole in the audit positions is waited for when the database cannot say at once that
// no running transaction may fill it (reconciler.cpp, visiblePrefix).
inline constexpr std::chrono::seconds kHoleWait{60};

// The fixed key of the reconciler's leadership ("SCRECN"); one reconciler per database holds it.
inline constexpr int64_t kReconcilerLockKey = 0x53435245434E;

struct ReconcilerOptions {
  bool enabled = true;                           // REC_ENABLED: the background passes
  std::chrono::milliseconds interval{5000};      // REC_INTERVAL_MS: between background passes
  int batch = 500;                               // REC_BATCH: settlements per pass
  int ledger_batch = 5000;                       // REC_LEDGER_BATCH: ledger movements per pass
  std::chrono::milliseconds event_grace{10000};  // REC_EVENT_GRACE_MS
  // REC_QUIET_MS: an active settlement is compared with the ledger only when no worker holds it
  // and none may lease it for at least this long (its next attempt is later), and the comparison
  // must finish within it.
  std::chrono::milliseconds quiet{10000};
  // Audit rows seen on the topic and not yet passed by the watermark, at most.
  size_t max_buffered_events = 200000;
  // How long one pass may read the topic to catch up with its end before judging a row missing.
  std::chrono::milliseconds catch_up{2000};
};

// One probe (STYLE 8): open findings per kind, passes, settlements checked, errors.
struct ReconcilerMetrics {
  metrics::Probe probe{"reconciliation"};
  metrics::Counter passes =
      probe.counter("sc_reconciliation_passes_total", "Reconciliation passes");
  metrics::Counter checked = probe.counter("sc_reconciliation_checked_total",
                                           "Settlements compared with the ledger and the events");
  metrics::Counter raised =
      probe.counter("sc_reconciliation_findings_raised_total", "Findings recorded");
  metrics::Counter resolved =
      probe.counter("sc_reconciliation_findings_resolved_total", "Findings a later pass saw gone");
  metrics::Counter unverifiable =
      probe.counter("sc_reconciliation_pruned_unchecked_total",
                    "Finished settlements not compared: the ledger was pruned past them first");
  metrics::Counter pruned_offsets =
      probe.counter("sc_reconciliation_pruned_offsets_total",
                    "Ledger offsets whose movements were pruned before the reconciler read them");
  metrics::Counter errors = probe.counter("sc_reconciliation_errors_total",
                                          "Passes that failed (database, ledger or Kafka)");
  metrics::Gauge watermark =
      probe.gauge("sc_reconciliation_watermark", "Audit position reconciled up to");
  std::map<std::string, metrics::Gauge, std::less<>> open;  // sc_reconciliation_findings{kind}
  ReconcilerMetrics();
};

// What one pass did.
struct PassReport {
  int checked = 0;   // settlements compared
  int raised = 0;    // new findings
  int resolved = 0;  // findings seen gone
  int64_t watermark = 0;
  int64_t ledger_offset = 0;
  std::string blocked;  // why the watermark stopped ("" when it reached the final audit rows)
};

struct ReconciliationStatus {
  store::ReconciliationState state;
  std::map<std::string, int64_t> open_by_kind;
  std::vector<store::Finding> findings;
  bool events_checked = false;  // Kafka configured: audit rows are compared with the topic
};

class Reconciler {
 public:
  using TapFactory = std::function<Result<std::unique_ptr<EventTap>>()>;

  // `tap`: opens a reader of settlement.events; empty when Kafka is not configured (then only the
  // ledger is compared). `clock` should be the database's (DatabaseClock): row times are its.
  Reconciler(store::ReconciliationRepository& repo, store::AccountRepository& accounts,
             ledger::Ledger& ledger, const Clock& clock, ReconcilerOptions options,
             TapFactory tap = {}, const MonotonicClock& elapsed = SteadyClock::instance());
  ~Reconciler();
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Before start(): reconcile only while holding `lock` (one reconciler per database).
  void electWith(std::unique_ptr<store::SessionAdvisoryLock> lock);
  // The background passes every REC_INTERVAL_MS (when enabled).
  void start();
  void stop();

  // One pass now (POST /reconciliation/run). Error kReconcilerStandby when another instance holds
  // the lock; database, ledger and Kafka errors as they come (the next pass starts over).
  Result<PassReport> runPass();
  Result<ReconciliationStatus> status(const store::FindingQuery& q);
  // An operator closes an open finding (the API audits who did it).
  Result<store::Finding> acknowledge(int64_t id, const std::string& actor, const std::string& note);

  // leader | standby (another instance reconciles) | off (REC_ENABLED=false and never run)
  std::string role() const;
  const ReconcilerMetrics& metrics() const { return metrics_; }

 private:
  struct Pass;
  Result<void> ensureLeader();
  Result<PassReport> pass();
  Result<void> openTap();
  Result<void> drainTap(Pass& p, int64_t watermark, size_t max_messages);
  Result<void> ledgerMovements(Pass& p);
  Result<void> ledgerTotals(Pass& p);
  Result<void> auditTrail(Pass& p);
  // How many of `events` (by position, after `from`) the watermark may pass: those without a
  // hole below them that a running transaction may still fill.
  Result<size_t> visiblePrefix(const std::vector<SettlementEvent>& events, int64_t from,
                               std::string& blocked);
  Result<bool> raise(Pass& p, const Draft& d);
  // Marks an open finding resolved with `resolution` (counted when this call resolved it).
  Result<void> resolve(Pass& p, int64_t finding_id, const nlohmann::json& resolution);
  Result<void> resolveLateMissing(Pass& p, const SettlementEvent& e);
  void refreshGauges();
  void loop();

  store::ReconciliationRepository& repo_;
  store::AccountRepository& accounts_;
  ledger::Ledger& ledger_;
  const Clock& clock_;
  const MonotonicClock& elapsed_;
  ReconcilerOptions opt_;
  TapFactory tap_factory_;

  std::mutex pass_mu_;  // one pass at a time; guards everything below but the thread's state
  std::unique_ptr<store::SessionAdvisoryLock> lock_;
  std::unique_ptr<EventTap> tap_;
  std::optional<EventTracker> tracker_;
  // Holes in the audit positions above the watermark, and since when they are seen.
  std::map<int64_t, MonotonicClock::TimePoint> holes_;
  std::atomic<int> role_{0};  // 0 off, 1 leader, 2 standby

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  ReconcilerMetrics metrics_;
};

}  // namespace sc::reconciliation

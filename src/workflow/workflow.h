#pragma once
// Drives settlements through the lifecycle of DESIGN §4 on a Ledger, recording every state change
// through guarded store writes. One call of runOnce() leases a batch of due settlements, advances
// each as far as it can go (several ledger rounds, each one group-committed batch), and commits
// all resulting writes in one database transaction.
//
// Crash safety: every ledger command carries the id "<settlement>:<step>:<round>", so re-running a
// step after a crash between the ledger commit and the database commit is deduplicated by the
// ledger and yields the same outcome: nothing settles twice, nothing is lost.
#include <array>
#include <functional>
#include <mutex>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "domain/result.h"
#include "domain/settlement.h"
#include "domain/time.h"
#include "ledger/ledger.h"
#include "store/repository.h"
#include "workflow/commands.h"
#include "workflow/floor_reads.h"
#include "workflow/throughput.h"

namespace sc::workflow {

struct WorkflowOptions {
  int batch_size = 100;
  int retry_attempts = 3;                           // per step, retryable errors only
  Duration retry_delay = std::chrono::seconds(30);  // backoff base
  // The longest backoff: doubling from the base would otherwise put a step that met many
  // transient errors (a participant restart, then contention) hours past its deadline.
  Duration retry_max_delay = std::chrono::minutes(5);
  Duration timeout = std::chrono::seconds(300);  // deadline per settlement
  Duration lease = std::chrono::seconds(15);
  std::string dvp_template_id = "Settlement.DeliveryVsPayment:DeliveryVsPayment";
  uint64_t jitter_seed = 0;  // 0: random
};

// The workflow's probe (STYLE 8): one per Workflow, its series removed with it.
struct WorkflowMetrics {
  metrics::Probe probe{"workflow"};
  metrics::Counter batches = probe.counter("sc_workflow_batches_total", "Batches leased");
  metrics::Counter transitions =
      probe.counter("sc_workflow_transitions_total", "State transitions committed");
  metrics::Counter retries_scheduled = probe.counter(
      "sc_workflow_retries_scheduled_total", "Step retries scheduled after a retryable error");
  metrics::Counter failures =
      probe.counter("sc_workflow_failures_total", "Settlements that failed");
  metrics::Counter partial_fills =
      probe.counter("sc_workflow_partial_fills_total", "Partial settlements");
  metrics::Counter guard_conflicts =
      probe.counter("sc_workflow_guard_conflicts_total", "Writes whose status guard did not hold");
  metrics::Counter store_errors =
      probe.counter("sc_workflow_store_errors_total", "Batches whose database write failed");
  metrics::Counter ledger_errors =
      probe.counter("sc_workflow_ledger_errors_total", "Ledger command errors");
  // Attempts of a step that is never given up (a failing settlement's fence or release, a
  // committed one's verification) that the ledger refused permanently (ledger_pruned: the
  // participant was pruned past the round's floor): retried at the longest backoff until an
  // operator acts; the settlement's last_error names the refusal.
  metrics::Counter parked = probe.counter(
      "sc_workflow_parked_steps_total",
      "Never-abandoned steps (fences, releases, verifications) the ledger refused permanently, "
      "parked at the longest backoff");
  metrics::Counter settled =
      probe.counter("sc_workflow_settled_total", "Settlements that reached SETTLED");
  metrics::Counter confirmed =
      probe.counter("sc_workflow_confirmed_total", "Settlements that reached CONFIRMED");
  // Trade accepted (created_at) -> CONFIRMED (confirmed_at), the settlement's own timestamps,
  // observed once the CONFIRMED transition is committed.
  metrics::Histogram confirmation_latency =
      probe.histogram("sc_confirmation_latency_seconds",
                      "Trade accepted to settlement confirmed (committed CONFIRMED transitions)",
                      metrics::latencyBuckets());
  metrics::Histogram batch_size = metrics::batchSize(probe, "workflow");  // settlements leased

  // sc_ledger_step_seconds{command}: how long the ledger took to complete a command the workflow
  // submitted (the whole group-committed round it went in); command is the step of its id.
  void observeStep(std::string_view command, std::chrono::duration<double> took);
  // Observes what a committed transition measures (the confirmation latency of a CONFIRMED one).
  void committed(const Settlement& next);
  metrics::Histogram step(std::string_view command) {
    return probe.histogram("sc_ledger_step_seconds",
                           "Ledger command round trip, per command the workflow submits",
                           metrics::latencyBuckets(), {{"command", std::string(command)}});
  }
  // One series per step name of a command id (work.h), created up front so every one is listed.
  std::array<std::pair<std::string_view, metrics::Histogram>, 7> steps{{
      {"initiate", step("initiate")},
      {"lock_securities", step("lock_securities")},
      {"lock_cash", step("lock_cash")},
      {"reassign", step("reassign")},
      {"settle", step("settle")},
      {"release", step("release")},
      {"fence", step("fence")},
  }};
};

class Workflow final : public SettlementCommands {
 public:
  // `elapsed` measures how long a batch has held its lease (the steady clock unless a test
  // injects one).
  Workflow(store::SettlementRepository& settlements, store::AccountRepository& accounts,
           ledger::Ledger& ledger, const Clock& clock, WorkflowOptions options,
           const MonotonicClock& elapsed = SteadyClock::instance());

  // Leases one batch of due settlements and advances them. Returns how many were leased.
  Result<int> runOnce();

  Result<Settlement> retry(const Uuid& id, const std::string& reason) override;

  const WorkflowMetrics& metrics() const { return metrics_; }
  // The floors its workers and retries have read and not yet recorded (the ledger pruner's).
  const FloorReads& floorReads() const { return floor_reads_; }

  // Called after a batch committed at least one transition (its events are in the outbox), e.g.
  // to wake the outbox relay. Set before the workers start.
  void setOnCommitted(std::function<void()> fn) { on_committed_ = std::move(fn); }
  // Counts committed transitions to CONFIRMED (with their latency from acceptance) and SETTLED in
  // `throughput` (GET /overview). Set before the workers start.
  void setThroughput(Throughput* throughput) { throughput_ = throughput; }

 private:
  struct Work;
  // Advances a leased batch; `leased_at` is when the lease was asked for (it was granted after).
  void advance(std::vector<Work>& batch, MonotonicClock::TimePoint leased_at);
  void planStep(Work& w, std::vector<ledger::Submission>& out, std::vector<Work*>& owners,
                int depth = 0);
  // Applies, in order, the completions the ledger already holds for this round's next steps
  // (a PARTIALLY_SETTLED one's next round included). True if one of them was a settle: that part
  // is final. An error when the ledger could not be asked: nothing is known about what follows.
  Result<bool> catchUp(Work& w);
  // PARTIALLY_SETTLED → INITIATED in the next round: the remainder is locked again.
  void recycle(Work& w);
  void fail(Work& w, std::string_view fence_detail, const std::string& fence_ref);
  void applyOutcome(Work& w, const Result<ledger::Outcome>& r);
  void onRetryable(Work& w, const Error& e);
  // A failing round's release refused for good (ledger_pruned): submitted once more, from the
  // participant's pruned offset, in the batch's next round. False when that cannot help.
  bool releaseFromThePrunedOffset(Work& w);
  void beginFailure(Work& w, const std::string& code, const std::string& reason);
  void moveTo(Work& w, Status to, std::string details);
  Duration backoff(int attempt);

  store::SettlementRepository& settlements_;
  store::AccountRepository& accounts_;
  ledger::Ledger& ledger_;
  const Clock& clock_;
  const MonotonicClock& elapsed_;
  WorkflowOptions opt_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  WorkflowMetrics metrics_;
  std::function<void()> on_committed_;
  Throughput* throughput_ = nullptr;
  FloorReads floor_reads_;
};

}  // namespace sc::workflow

#pragma once
// Drives settlements through the lifecycle of DESIGN §4 on a Ledger, recording every state change
// through guarded store writes. One call of runOnce() leases a batch of due settlements, advances
// each as far as it can go (several ledger rounds, each one group-committed batch), and commits
// all resulting writes in one database transaction.
//
// Crash safety: every ledger command carries the id "<settlement>:<step>:<round>", so re-running a
// step after a crash between the ledger commit and the database commit is deduplicated by the
// ledger and yields the same outcome: nothing settles twice, nothing is lost.
#include <functional>
#include <mutex>
#include <random>
#include <vector>

#include "common/metrics.h"
#include "domain/result.h"
#include "domain/settlement.h"
#include "domain/time.h"
#include "ledger/ledger.h"
#include "store/repository.h"
#include "workflow/commands.h"

namespace sc::workflow {

struct WorkflowOptions {
  int batch_size = 100;
  int retry_attempts = 3;                           // per step, retryable errors only
  Duration retry_delay = std::chrono::seconds(30);  // backoff base
  Duration timeout = std::chrono::seconds(300);     // deadline per settlement
  Duration lease = std::chrono::seconds(15);
  std::string dvp_template_id = "Settlement.DeliveryVsPayment:DeliveryVsPayment";
  uint64_t jitter_seed = 0;  // 0: random
};

struct WorkflowMetrics {
  metrics::Counter batches, transitions, retries_scheduled, failures, partial_fills,
      guard_conflicts, store_errors, ledger_errors, settled, confirmed;
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

  // Called after a batch committed at least one transition (its events are in the outbox), e.g.
  // to wake the outbox relay. Set before the workers start.
  void setOnCommitted(std::function<void()> fn) { on_committed_ = std::move(fn); }

  // Step names used in command ids and failed_step.
  static std::string commandId(const Settlement& s, std::string_view step);

 private:
  struct Work;
  // Advances a leased batch; `leased_at` is when the lease was asked for (it was granted after).
  void advance(std::vector<Work>& batch, MonotonicClock::TimePoint leased_at);
  void planStep(Work& w, std::vector<ledger::Submission>& out, std::vector<Work*>& owners,
                int depth = 0);
  // The ledger command step that follows a status ("" when none).
  static std::string_view nextLedgerStep(Status s);
  // Applies, in order, the completions the ledger already holds for this round's next steps
  // (a PARTIALLY_SETTLED one's next round included). True if one of them was a settle: that part
  // is final. An error when the ledger could not be asked: nothing is known about what follows.
  Result<bool> catchUp(Work& w);
  // PARTIALLY_SETTLED → INITIATED in the next round: the remainder is locked again.
  void recycle(Work& w);
  void fail(Work& w, std::string_view fence_detail, const std::string& fence_ref);
  void applyOutcome(Work& w, const Result<ledger::Outcome>& r);
  void onRetryable(Work& w, const Error& e);
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
};

}  // namespace sc::workflow

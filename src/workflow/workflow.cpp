#include "workflow/workflow.h"

#include <algorithm>

#include "workflow/errors.h"
#include "workflow/event_details.h"
#include "workflow/work.h"

namespace sc::workflow {

namespace L = sc::ledger;

Workflow::Workflow(store::SettlementRepository& settlements, store::AccountRepository& accounts,
                   L::Ledger& ledger, const Clock& clock, WorkflowOptions options,
                   const MonotonicClock& elapsed)
    : settlements_(settlements),
      accounts_(accounts),
      ledger_(ledger),
      clock_(clock),
      elapsed_(elapsed),
      opt_(std::move(options)),
      rng_(opt_.jitter_seed ? opt_.jitter_seed : std::random_device{}()),
      floor_reads_(elapsed) {}

void WorkflowMetrics::observeStep(std::string_view command, std::chrono::duration<double> took) {
  for (auto& [name, h] : steps) {
    if (name != command) continue;
    h.observe(took);
    return;
  }
}

void WorkflowMetrics::committed(const Settlement& next) {
  if (next.status == Status::kConfirmed && next.confirmed_at)
    confirmation_latency.observe(*next.confirmed_at - next.created_at);
}

Duration Workflow::backoff(int attempt) {
  // Exponential, base retry_delay, at most retry_max_delay, with "equal jitter": uniformly in
  // [d/2, d].
  auto base = opt_.retry_delay.count();
  int shift = std::clamp(attempt - 1, 0, 20);
  int64_t d = std::min<int64_t>(base << shift, opt_.retry_max_delay.count());
  if (d <= 1) return Duration(d);
  std::lock_guard l(rng_mu_);
  std::uniform_int_distribution<int64_t> dist(d / 2, d);
  return Duration(dist(rng_));
}

Result<Settlement> Workflow::retry(const Uuid& id, const std::string& reason) {
  auto found = settlements_.find(id);
  if (!found) return found.error();
  if (!*found)
    return Error::permanent(std::string(workflow::kSettlementNotFound),
                            "no settlement " + id.prefixed(kSettlementPrefix));
  Settlement s = std::move(**found);
  if (s.status != Status::kFailed && s.status != Status::kPartiallySettled) {
    return Error::permanent(std::string(workflow::kInvalidState),
                            "settlement is " + std::string(toString(s.status)) +
                                "; only failed or partially_settled settlements can be retried");
  }
  // Resume at the earliest step whose ledger effect is not in place: locks are always released
  // before FAILED, so that is INITIATED when the (remainder) DvP contract is active, else PENDING.
  Status to = Status::kPending;
  if (!s.dvp_contract_id.empty()) {
    auto dvp = ledger_.dvp(s.dvp_contract_id);
    if (!dvp) return dvp.error();
    if (*dvp && (*dvp)->active) to = Status::kInitiated;
  }
  if (s.status == Status::kPartiallySettled && to != Status::kInitiated) {
    return Error::transient(std::string(workflow::kLedgerInconsistent),
                            "the remainder DvP contract " + s.dvp_contract_id + " is not active");
  }
  // The new round's command ids were never submitted: its lookups and commands start at the
  // ledger end now (read before the write), not at the first round's floor, which the ledger may
  // have pruned past since (ledger_pruned).
  // Held until the write below returns: the pruner must not pass it meanwhile (floor_reads.h).
  auto end = floor_reads_.read([&] { return ledger_.knownLedgerEnd(); });
  if (!end) return end.error();
  Timestamp now = clock_.now();
  Status from = s.status;
  Settlement next = s;
  next.step_offset_floor = std::max(next.step_offset_floor, end->floor());
  next.status = to;
  next.round++;
  next.retry_count++;
  next.step_attempt = 0;
  next.failure_code.clear();
  next.failure_reason.clear();
  next.failed_step.clear();
  next.last_error.clear();
  next.locked_quantity = Decimal();
  next.locked_amount = Decimal();
  next.updated_at = now;
  next.next_attempt_at = now;
  next.deadline_at = now + opt_.timeout;
  if (to == Status::kPending) {
    next.dvp_contract_id.clear();
  }
  store::StateWrite w{next, from, workflow::retriedDetails(next, reason, to)};
  auto applied = settlements_.write(std::span<const store::StateWrite>(&w, 1));
  if (!applied) {
    // An answer lost (a retryable error) leaves the write's outcome unknown: it may still commit.
    // A refusal (history_dropped, a constraint) rolled it back.
    if (applied.error().retryable) end->keepFor(FloorReads::kDoubtful);
    return applied.error();
  }
  if (!(*applied)[0]) {
    return Error::permanent(std::string(workflow::kInvalidState),
                            "settlement changed concurrently; try again");
  }
  logger()->info("settlement {} trade {} retried ({}): resumes at {}", next.settlementId(),
                 next.trade.trade_id, reason, toString(to));
  return next;
}

}  // namespace sc::workflow

// Batch running: runOnce() leases a batch, advance() runs its ledger rounds, applyOutcome() turns
// each ledger answer into the next state (or a retry, or a failure begun), and the batch's writes
// commit in one transaction.
#include <algorithm>
#include <unordered_map>

#include "workflow/errors.h"
#include "workflow/event_details.h"
#include "workflow/work.h"
#include "workflow/workflow.h"

namespace sc::workflow {
namespace {

namespace L = sc::ledger;

constexpr int kMaxRoundsPerBatch = 12;
// An attempt number whose backoff is the longest (SETTLEMENT_RETRY_MAX_DELAY_SECONDS, jittered).
constexpr int kLongestBackoff = 64;

// A committed transition, as the dashboard's throughput counts it: confirmations with their
// latency from acceptance, settlements.
void countThroughput(Throughput& t, const Settlement& s, Timestamp now) {
  if (s.status == Status::kConfirmed)
    t.confirmed(now, s.confirmed_at.value_or(now) - s.created_at);
  else if (s.status == Status::kSettled)
    t.settled(now);
}

}  // namespace

void Workflow::moveTo(Work& w, Status to, std::string details) {
  Status from = w.cur.status;
  Timestamp now = clock_.now();
  w.cur.status = to;
  w.cur.updated_at = now;
  switch (to) {
    case Status::kInitiated:
      if (!w.cur.initiated_at) w.cur.initiated_at = now;
      break;
    case Status::kConfirmed:
      w.cur.confirmed_at = now;
      break;
    case Status::kSettled:
      w.cur.settled_at = now;
      break;
    case Status::kFailed:
      w.cur.failed_at = now;
      break;
    default:
      break;
  }
  w.writes.push_back(store::StateWrite{w.cur, from, std::move(details)});
  w.dirty = false;
}

void Workflow::beginFailure(Work& w, const std::string& code, const std::string& reason) {
  Settlement& s = w.cur;
  // Steps of this round may have committed on the ledger without the database knowing (a lost
  // commit, an unknown outcome, a worker whose lease expired): the ledger decides first, and a
  // committed settle is never reported as a failure (the caller plans again from it).
  // (A catch-up that could not ask the ledger is repeated after the round is fenced.)
  if (auto settled = catchUp(w); settled && *settled) return;
  if (s.status == Status::kConfirmed) return;  // committed and irreversible: never FAILED
  if (s.failure_code.empty()) {
    s.failure_code = code;
    s.failure_reason = reason;
    s.failed_step = std::string(toString(s.status));
    w.dirty = true;
    logger()->warn("settlement {} trade {} failing at {}: {}", s.settlementId(), s.trade.trade_id,
                   s.failed_step, reason);
  }
}

void Workflow::onRetryable(Work& w, const Error& e) {
  Settlement& s = w.cur;
  Timestamp now = clock_.now();
  s.last_error = e.code + ": " + e.message;
  w.dirty = true;
  if (!s.failure_code.empty() || s.status == Status::kConfirmed) {
    // Releasing locks of a failing settlement, or verifying a committed one: never give up. A
    // permanent refusal (ledger_pruned: the participant was pruned past the round's floor) will
    // not pass by itself. A release is submitted once more from the pruned offset; what that
    // cannot settle is parked at the longest backoff (jittered, so parked rows do not come back
    // together), counted and logged for an operator.
    if (e.code == L::kLedgerPruned && w.step == steps::kRelease && w.release_floor == 0 &&
        releaseFromThePrunedOffset(w))
      return;  // not done: the next round submits it
    if (e.code != L::kLedgerPruned) {
      s.next_attempt_at = now + backoff(std::min(s.step_attempt + 1, 6));
    } else {
      s.next_attempt_at = now + backoff(kLongestBackoff);
      metrics_.parked.inc();
      logger()->error(
          "settlement {} round {}: the ledger refused its {} step permanently ({}); retried "
          "within {} s (jittered) until an operator acts (README, \"Pruning a participant\")",
          s.settlementId(), s.round, w.step, s.last_error,
          std::chrono::duration_cast<std::chrono::seconds>(opt_.retry_max_delay).count());
    }
    s.step_attempt = std::min(s.step_attempt + 1, 1000);
    w.done = true;
    metrics_.retries_scheduled.inc();
    return;
  }
  if (now >= s.deadline_at && s.status != Status::kPartiallySettled) {
    // (What settled of a PARTIALLY_SETTLED trade is final; its remainder has the deadline of the
    // round that recycles it.)
    beginFailure(w, std::string(workflow::kSettlementTimeout),
                 "deadline passed while retrying " + std::string(toString(s.status)) +
                     " step; last error: " + e.message);
    return;
  }
  if (s.step_attempt >= opt_.retry_attempts) {
    beginFailure(w, e.code,
                 e.message + " (gave up after " + std::to_string(s.step_attempt) + " retries)");
    return;
  }
  s.step_attempt++;
  s.retry_count++;
  s.next_attempt_at = std::min(now + backoff(s.step_attempt), s.deadline_at);
  w.done = true;
  metrics_.retries_scheduled.inc();
}

// A failing round's release was refused because the participant pruned past its floor (the
// round's step floor): it can no longer tell whether the release already ran. Its floor for one
// more submission, in the next round of this batch, is the first offset the participant still
// has (applyOutcome decides from what that submission does). False when that would not be later.
bool Workflow::releaseFromThePrunedOffset(Work& w) {
  auto pruned = ledger_.prunedUpTo();
  if (!pruned) return false;
  const int64_t first_kept = *pruned + 1;
  if (first_kept <= w.cur.stepFloor()) return false;  // not refused for the pruning
  w.release_floor = first_kept;
  logger()->warn(
      "settlement {} round {}: its release was refused below the pruned offset {}; submitted "
      "once more from offset {}",
      w.cur.settlementId(), w.cur.round, *pruned, first_kept);
  return true;
}

Result<bool> Workflow::catchUp(Work& w) {
  bool settled = false;
  for (;;) {
    if (w.cur.status == Status::kPartiallySettled) {
      // A batch that recycled the remainder may have locked it on the ledger in the next round
      // and lost its database commit.
      Settlement next = w.cur;
      next.round++;
      auto done =
          ledger_.completionAfter(commandId(next, steps::kLockSecurities), w.cur.stepFloor());
      if (!done) return done.error();
      if (!*done) return settled;
      recycle(w);
      continue;
    }
    std::string_view step = nextLedgerStep(w.cur.status);
    if (step.empty()) return settled;
    auto done = ledger_.completionAfter(commandId(w.cur, step), w.cur.stepFloor());
    if (!done) return done.error();
    if (!*done && step == steps::kReassign) {
      // A reassignment that had nothing to move (every lock already on the DvP's synchronizer)
      // leaves no completion on a participant: the adapter submits no command for it. Whether the
      // round went on to settle is then the settle's own completion; if it did, the reassignment
      // is taken as done (it changed nothing) and the settle applied.
      auto settle = ledger_.completionAfter(commandId(w.cur, steps::kSettle), w.cur.stepFloor());
      if (!settle) return settle.error();
      if (!*settle) return settled;
      L::Outcome moved_nothing;  // no update: the step floor stays
      moved_nothing.contract_id = w.cur.dvp_contract_id;
      moved_nothing.synchronizer = (*settle)->synchronizer;
      w.step = step;
      applyOutcome(w, moved_nothing);
      step = steps::kSettle;  // then the settle, already read
      done = std::move(settle);
    }
    if (!*done) return settled;
    Status before = w.cur.status;
    w.step = step;
    applyOutcome(w, **done);
    if (w.cur.status == before) return settled;
    if (w.cur.status == Status::kConfirmed || w.cur.status == Status::kPartiallySettled)
      settled = true;
  }
}

void Workflow::recycle(Work& w) {
  Settlement& s = w.cur;
  s.round++;
  s.retry_count++;
  s.step_attempt = 0;
  s.deadline_at = clock_.now() + opt_.timeout;
  moveTo(w, Status::kInitiated, workflow::recycledDetails(s));
}

// The round is fenced on the ledger (its DvP released and archived, or its create command id
// taken by a fence): record FAILED with what settled before.
void Workflow::fail(Work& w, std::string_view fence_detail, const std::string& fence_ref) {
  Settlement& s = w.cur;
  s.locked_quantity = Decimal();
  s.locked_amount = Decimal();
  moveTo(w, Status::kFailed, workflow::failedDetails(s, fence_detail, fence_ref));
  metrics_.failures.inc();
  w.done = true;
}

void Workflow::applyOutcome(Work& w, const Result<L::Outcome>& r) {
  Settlement& s = w.cur;
  if (!r) {
    metrics_.ledger_errors.inc();
    // For a trade that allows partial settlement, a seller with nothing to deliver right now is
    // waited for (DESIGN §4: insufficient holdings are permanent only when partial is not allowed).
    bool wait_for_seller = s.trade.allow_partial && w.step == steps::kLockSecurities &&
                           r.error().code == L::kInsufficientSecurities;
    // A fence or release is never given up: a permanent answer to one is retried like an outage
    // rather than turned into a failure of what is already failing.
    bool fencing = w.step == steps::kRelease || w.step == steps::kFence;
    if (r.error().retryable || wait_for_seller || fencing)
      onRetryable(w, r.error());
    else
      beginFailure(w, r.error().code, r.error().message);
    return;
  }
  const L::Outcome& o = *r;
  s.step_attempt = 0;
  if (w.step == steps::kFence) {
    if (o.fenced) {
      fail(w, "fenced_command_id", commandId(s, steps::kInitiate));
      return;
    }
    // The round's create had committed (its answer was lost, or a worker whose lease expired
    // made it): apply it and whatever followed; the DvP is then released and archived.
    w.step = steps::kInitiate;
    applyOutcome(w, r);
    (void)catchUp(w);  // what it cannot learn now, the catch-up after the release does
    return;
  }
  if (w.step == steps::kRelease && w.release_floor > 0) {
    // The release submitted again from the first offset the participant still has. Only a run
    // now tells anything: a transaction that released the DvP's locks or archived it, both of
    // which exist only while the DvP is active (a settle consumes them), so nothing settled it,
    // and now nothing can: the round ends FAILED. No catch-up is needed (the database's status
    // may lag the ledger's steps, but a failed round keeps no lock), nor possible (its steps'
    // completions may be pruned).
    // An answer from an earlier run is no proof: on Canton the id's completion can be a
    // reassignment a release made first, before a settle consumed the locks; and a run that
    // found nothing to release (the DvP archived inside the pruned range, by a release or by a
    // settle whose completion is gone) tells nothing either. Never FAILED on that guess: parked.
    if (!o.deduplicated && !o.update_id.empty()) {
      fail(w, "locks_released_update_id", o.update_id);
    } else {
      onRetryable(
          w, Error::permanent(std::string(L::kLedgerPruned),
                              "the release, submitted again from offset " +
                                  std::to_string(w.release_floor) +
                                  ", found nothing to release: whether the round settled or was "
                                  "released inside the participant's pruned range cannot be told"));
    }
    return;
  }
  if (w.step == steps::kRelease) {
    // The locks are released and the DvP archived: no command can use this round's DvP any
    // more. Whatever of the round committed before that (a settle whose outcome was unknown, a
    // worker whose lease expired, a recycle whose commit was lost) is now final and known: apply
    // it, and fail only if no part of it settled.
    auto settled = catchUp(w);
    if (!settled) {
      // Whether a part of the round settled is unknown: never record FAILED on a guess. The
      // release is repeated (deduplicated) and the ledger asked again.
      onRetryable(w, settled.error());
      return;
    }
    if (*settled) {
      w.done = s.status == Status::kPartiallySettled;
      return;
    }
    fail(w, "locks_released_update_id", o.update_id);
    return;
  }
  // The step's command completed at o.offset. Every command of a later step is planned from the
  // status this outcome leads to, so it is submitted after o.offset: lookups of those read the
  // ledger from there (Settlement::step_offset_floor), whoever submitted them.
  // Only a completion's offset: an outcome that moved nothing (a reassignment with every lock in
  // place) carries no update, and the offset the adapter saw then, which may be past a settle a
  // worker whose lease expired committed meanwhile.
  auto stepDone = [&] {
    if (!o.update_id.empty()) s.step_offset_floor = std::max(s.step_offset_floor, o.offset);
  };
  switch (s.status) {
    case Status::kPending:
      stepDone();
      s.dvp_contract_id = o.contract_id;
      s.dvp_contract_template_id = opt_.dvp_template_id;
      moveTo(w, Status::kInitiated, workflow::initiatedDetails(s, o));
      return;
    case Status::kInitiated:
      stepDone();
      s.locked_quantity = o.quantity;
      s.seller_securities_ledger_ref = o.contract_id;
      moveTo(w, Status::kSellerSecuritiesLocked, workflow::securitiesLockedDetails(o));
      return;
    case Status::kSellerSecuritiesLocked:
      stepDone();
      s.locked_amount = o.amount;
      s.buyer_cash_ledger_ref = o.contract_id;
      moveTo(w, Status::kBuyerCashLocked, workflow::cashLockedDetails(o));
      return;
    case Status::kBuyerCashLocked:
      stepDone();
      moveTo(w, Status::kExecuting, workflow::executingDetails(s, o));
      return;
    case Status::kExecuting: {
      stepDone();
      s.dvp_atomic_transaction_id = o.update_id;
      s.buyer_securities_ledger_ref = o.buyer_securities_contract_id;
      s.seller_cash_ledger_ref = o.seller_cash_contract_id;
      s.settled_quantity = *s.settled_quantity.add(o.quantity);
      s.settled_amount = *s.settled_amount.add(o.amount);
      s.locked_quantity = Decimal();
      s.locked_amount = Decimal();
      std::string details = workflow::settleDetails(s, o);
      if (!o.remainder_dvp_contract_id.empty()) {
        s.dvp_contract_id = o.remainder_dvp_contract_id;
        // Clear the failure intent, if any: the part that settled is final. A later failure in
        // this batch must be committed anew before it fences anything.
        s.failure_code.clear();
        s.failure_reason.clear();
        s.failed_step.clear();
        w.failure_durable = false;
        moveTo(w, Status::kPartiallySettled, std::move(details));
        s.next_attempt_at = clock_.now() + backoff(1);
        w.dirty = true;
        w.done = true;
        metrics_.partial_fills.inc();
        return;
      }
      s.failure_code.clear();
      s.failure_reason.clear();
      s.failed_step.clear();
      w.failure_durable = false;
      moveTo(w, Status::kConfirmed, std::move(details));
      metrics_.confirmed.inc();
      return;
    }
    default:
      logger()->error("settlement {}: unexpected ledger outcome in status {}", s.settlementId(),
                      toString(s.status));
      w.done = true;
      return;
  }
}

void Workflow::advance(std::vector<Work>& batch, MonotonicClock::TimePoint leased_at) {
  Timestamp now = clock_.now();
  // Deadline: an active settlement that has not committed its settle by then fails (and its
  // locks are released). CONFIRMED and PARTIALLY_SETTLED parts are final and exempt.
  for (Work& w : batch) {
    Settlement& s = w.cur;
    if (s.failure_code.empty() && now >= s.deadline_at && s.status != Status::kConfirmed &&
        s.status != Status::kPartiallySettled) {
      beginFailure(
          w, std::string(workflow::kSettlementTimeout),
          "SETTLEMENT_TIMEOUT_SECONDS deadline passed at step " + std::string(toString(s.status)));
    }
  }
  // A worker whose lease ran out is fenced from the database, and from the ledger only once the
  // settlement fails: never start a ledger round after half the lease has gone, counted from
  // when the lease was asked for (what is left continues in the next batch).
  const auto budget =
      std::chrono::duration_cast<MonotonicClock::TimePoint::duration>(opt_.lease / 2);
  for (int round = 0; round < kMaxRoundsPerBatch; ++round) {
    if (elapsed_.now() - leased_at > budget) {
      logger()->warn("batch of {} used half its lease; the rest continues in the next batch",
                     batch.size());
      break;
    }
    std::vector<L::Submission> subs;
    std::vector<Work*> owners;
    for (Work& w : batch)
      if (!w.done) planStep(w, subs, owners);
    if (subs.empty()) break;
    const auto submitted_at = elapsed_.now();
    auto results = ledger_.submit(subs);
    const auto took = elapsed_.now() - submitted_at;
    for (Work* w : owners) metrics_.observeStep(w->step, took);
    for (size_t i = 0; i < results.size(); ++i) applyOutcome(*owners[i], results[i]);
  }
}

Result<int> Workflow::runOnce() {
  Timestamp now = clock_.now();
  const auto leased_at = elapsed_.now();
  // Read before the lease, so before any command of a row leased for the first time: the row's
  // ledger_offset_floor, from which a lookup of what its command ids did reads the ledger (until a
  // step completes: then from its step_offset_floor).
  // Held until the lease has returned: the pruner must not pass it meanwhile (floor_reads.h).
  auto leased = [&]() -> Result<std::vector<Settlement>> {
    auto floor = floor_reads_.read([&] { return ledger_.knownLedgerEnd(); });
    if (!floor) return floor.error();
    auto rows = settlements_.leaseDue(now, opt_.batch_size, opt_.lease, floor->floor());
    if (!rows) floor->keepFor(FloorReads::kDoubtful);  // the lease may still commit
    return rows;
  }();
  if (!leased) {
    metrics_.store_errors.inc();
    return leased.error();
  }
  if (leased->empty()) return 0;
  metrics_.batches.inc();
  metrics_.batch_size.observe(static_cast<double>(leased->size()));

  std::vector<Work> batch;
  batch.reserve(leased->size());
  std::vector<std::string> account_ids;
  for (Settlement& s : *leased) {
    Work w;
    w.cur = std::move(s);
    w.failure_durable = !w.cur.failure_code.empty();
    if (w.cur.status == Status::kPending) {
      account_ids.push_back(w.cur.trade.buyer_account_id);
      account_ids.push_back(w.cur.trade.seller_account_id);
    }
    batch.push_back(std::move(w));
  }
  if (!account_ids.empty()) {
    std::sort(account_ids.begin(), account_ids.end());
    account_ids.erase(std::unique(account_ids.begin(), account_ids.end()), account_ids.end());
    auto accounts = accounts_.findMany(account_ids);
    if (!accounts) {
      metrics_.store_errors.inc();
      return accounts.error();
    }
    std::unordered_map<std::string, const Account*> by_id;
    for (const Account& a : *accounts) by_id[a.account_id] = &a;
    for (Work& w : batch) {
      if (w.cur.status != Status::kPending) continue;
      auto b = by_id.find(w.cur.trade.buyer_account_id);
      auto se = by_id.find(w.cur.trade.seller_account_id);
      w.accounts_known = b != by_id.end() && se != by_id.end();
      if (!w.accounts_known) continue;
      w.buyer_party = b->second->canton_party;
      w.seller_party = se->second->canton_party;
      w.buyer_active = b->second->status == AccountStatus::kActive;
      w.seller_active = se->second->status == AccountStatus::kActive;
    }
  }

  advance(batch, leased_at);

  std::vector<store::StateWrite> writes;
  writes.reserve(batch.size() * 3);
  for (Work& w : batch) {
    if (!w.done && w.writes.empty()) {
      // Ran out of rounds: keep going in the next batch.
      w.dirty = true;
    }
    if (w.dirty || w.writes.empty()) {
      if (!w.writes.empty() && w.writes.back().next.status == w.cur.status) {
        w.writes.back().next = w.cur;  // fold a reschedule into the last transition
      } else {
        w.writes.push_back(store::StateWrite{w.cur, w.cur.status, "{}"});
      }
    }
    for (auto& sw : w.writes) writes.push_back(std::move(sw));
  }
  auto applied = settlements_.write(writes);
  if (!applied) {
    metrics_.store_errors.inc();
    logger()->error("batch write of {} settlements failed: {}", batch.size(),
                    applied.error().message);
    return applied.error();
  }
  int transitions = 0;
  for (size_t i = 0; i < applied->size(); ++i) {
    if (!(*applied)[i]) {
      metrics_.guard_conflicts.inc();
      logger()->warn("settlement {}: status guard {} did not hold", writes[i].next.settlementId(),
                     toString(writes[i].expected));
    } else if (writes[i].next.status != writes[i].expected) {
      metrics_.transitions.inc();
      metrics_.committed(writes[i].next);
      ++transitions;
      if (throughput_) countThroughput(*throughput_, writes[i].next, clock_.now());
    }
  }
  if (transitions > 0 && on_committed_) on_committed_();
  return static_cast<int>(batch.size());
}

}  // namespace sc::workflow

#include "workflow/workflow.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/log.h"
#include "workflow/errors.h"

namespace sc {
namespace {

using nlohmann::json;
namespace L = sc::ledger;

constexpr int kMaxRoundsPerBatch = 12;

// Step names, as they appear in command ids.
constexpr std::string_view kStepInitiate = "initiate";
constexpr std::string_view kStepLockSecurities = "lock_securities";
constexpr std::string_view kStepLockCash = "lock_cash";
constexpr std::string_view kStepReassign = "reassign";
constexpr std::string_view kStepSettle = "settle";
constexpr std::string_view kStepRelease = "release";
// Not a command-id step: a FenceCommand is submitted under the round's kStepInitiate id.
constexpr std::string_view kStepFence = "fence";
// planStep re-plans after a decision (a failure begun, a part recycled); more than this many times
// for one settlement in one call is a bug, and the settlement is parked rather than spun on.
constexpr int kMaxPlanDepth = 8;

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("workflow");
  return l;
}

}  // namespace

struct Workflow::Work {
  Settlement cur;
  std::vector<StateWrite> writes;
  bool done = false;   // nothing more to do in this batch
  bool dirty = false;  // cur changed since the last write snapshot
  bool buyer_active = false, seller_active = false;
  std::string buyer_party, seller_party;
  bool accounts_known = false;
  // The failure intent (failure_code) was already committed when this batch leased it.
  bool failure_durable = false;
  // The step of the command last submitted for it (tells a release outcome from a settle one).
  std::string_view step;
};

Workflow::Workflow(SettlementRepository& settlements, AccountRepository& accounts,
                   L::Ledger& ledger, const Clock& clock, WorkflowOptions options,
                   const MonotonicClock& elapsed)
    : settlements_(settlements),
      accounts_(accounts),
      ledger_(ledger),
      clock_(clock),
      elapsed_(elapsed),
      opt_(std::move(options)),
      rng_(opt_.jitter_seed ? opt_.jitter_seed : std::random_device{}()) {
  metrics::registerCounter("sc_workflow_batches_total", "Batches leased", &metrics_.batches);
  metrics::registerCounter("sc_workflow_transitions_total", "State transitions committed",
                           &metrics_.transitions);
  metrics::registerCounter("sc_workflow_retries_scheduled_total",
                           "Step retries scheduled after a retryable error",
                           &metrics_.retries_scheduled);
  metrics::registerCounter("sc_workflow_failures_total", "Settlements that failed",
                           &metrics_.failures);
  metrics::registerCounter("sc_workflow_partial_fills_total", "Partial settlements",
                           &metrics_.partial_fills);
  metrics::registerCounter("sc_workflow_guard_conflicts_total",
                           "Writes whose status guard did not hold", &metrics_.guard_conflicts);
  metrics::registerCounter("sc_workflow_store_errors_total", "Batches whose database write failed",
                           &metrics_.store_errors);
  metrics::registerCounter("sc_workflow_ledger_errors_total", "Ledger command errors",
                           &metrics_.ledger_errors);
  metrics::registerCounter("sc_workflow_settled_total", "Settlements that reached SETTLED",
                           &metrics_.settled);
  metrics::registerCounter("sc_workflow_confirmed_total", "Settlements that reached CONFIRMED",
                           &metrics_.confirmed);
}

std::string Workflow::commandId(const Settlement& s, std::string_view step) {
  std::string id = s.settlementId();
  id += ':';
  id += step;
  id += ':';
  id += std::to_string(s.round);
  return id;
}

Duration Workflow::backoff(int attempt) {
  // Exponential, base retry_delay, with "equal jitter": uniformly in [d/2, d].
  auto base = opt_.retry_delay.count();
  int shift = std::clamp(attempt - 1, 0, 20);
  int64_t d = base << shift;
  if (d <= 1) return Duration(d);
  std::lock_guard l(rng_mu_);
  std::uniform_int_distribution<int64_t> dist(d / 2, d);
  return Duration(dist(rng_));
}

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
  w.writes.push_back(StateWrite{w.cur, from, std::move(details)});
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
    // Releasing locks of a failing settlement, or verifying a committed one: never give up.
    s.next_attempt_at = now + backoff(std::min(s.step_attempt + 1, 6));
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

std::string_view Workflow::nextLedgerStep(Status s) {
  switch (s) {
    case Status::kPending:
      return kStepInitiate;
    case Status::kInitiated:
      return kStepLockSecurities;
    case Status::kSellerSecuritiesLocked:
      return kStepLockCash;
    case Status::kBuyerCashLocked:
      return kStepReassign;
    case Status::kExecuting:
      return kStepSettle;
    default:
      return {};
  }
}

Result<bool> Workflow::catchUp(Work& w) {
  bool settled = false;
  for (;;) {
    if (w.cur.status == Status::kPartiallySettled) {
      // A batch that recycled the remainder may have locked it on the ledger in the next round
      // and lost its database commit.
      Settlement next = w.cur;
      next.round++;
      auto done = ledger_.completion(commandId(next, kStepLockSecurities));
      if (!done) return done.error();
      if (!*done) return settled;
      recycle(w);
      continue;
    }
    std::string_view step = nextLedgerStep(w.cur.status);
    if (step.empty()) return settled;
    auto done = ledger_.completion(commandId(w.cur, step));
    if (!done) return done.error();
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
  moveTo(w, Status::kInitiated,
         json{{"recycled", true},
              {"remaining_quantity", s.trade.quantity.sub(s.settled_quantity)->toString()},
              {"retry_count", s.retry_count},
              {"dvp_contract_id", s.dvp_contract_id}}
             .dump());
}

// The round is fenced on the ledger (its DvP released and archived, or its create command id
// taken by a fence): record FAILED with what settled before.
void Workflow::fail(Work& w, std::string_view fence_detail, const std::string& fence_ref) {
  Settlement& s = w.cur;
  s.locked_quantity = Decimal();
  s.locked_amount = Decimal();
  json details{{"failure_code", s.failure_code},
               {"failure_reason", s.failure_reason},
               {"failed_step", s.failed_step},
               {"retry_count", s.retry_count},
               {"settled_quantity", s.settled_quantity.toString()},
               {"settled_amount", s.settled_amount.toString()}};
  details[std::string(fence_detail)] = fence_ref;
  moveTo(w, Status::kFailed, details.dump());
  metrics_.failures.inc();
  w.done = true;
}

void Workflow::planStep(Work& w, std::vector<L::Submission>& out, std::vector<Work*>& owners,
                        int depth) {
  Settlement& s = w.cur;
  Timestamp now = clock_.now();
  if (depth > kMaxPlanDepth) {
    // Every re-plan follows a decision that changes the settlement; getting here is a bug. Park
    // it (an operator sees last_error) instead of spinning a worker.
    logger()->critical("settlement {}: no decision after {} plans at {}; parked", s.settlementId(),
                       depth, toString(s.status));
    s.last_error = "internal: workflow made no decision at " + std::string(toString(s.status));
    s.next_attempt_at = now + opt_.retry_delay;
    w.dirty = true;
    w.done = true;
    return;
  }
  auto replan = [&] { planStep(w, out, owners, depth + 1); };
  auto submit = [&](std::string_view step, L::Command c) {
    out.push_back(L::Submission{commandId(s, step), std::move(c)});
    owners.push_back(&w);
    w.step = step;
  };

  // A failing settlement fences its round on the ledger, giving back its locks, then becomes
  // FAILED. The ledger decides what of the round already happened (a lost commit, a worker whose
  // lease expired), and nothing of the round can happen after the fence.
  if (!s.failure_code.empty() && isActive(s.status) && s.status != Status::kConfirmed) {
    if (!w.failure_durable) {
      // Commit the decision before fencing or undoing anything. Were the fence to commit on the
      // ledger and FAILED not in the database, a later batch would redo this round's steps and
      // the ledger would answer them from their completions, locks that no longer exist included.
      s.next_attempt_at = now;
      w.dirty = true;
      w.done = true;
      return;
    }
    if (s.dvp_contract_id.empty()) {
      // No DvP is known (PENDING): take the round's create command id, so that no worker can
      // start the round any more; if the create already ran, the fence returns its DvP.
      submit(kStepInitiate, L::FenceCommand{w.buyer_party, w.seller_party});
      w.step = kStepFence;
      return;
    }
    // The release's id names the DvP: a partial settle replaces the DvP within one round, and a
    // release of the settled DvP must not answer for the remainder's.
    out.push_back(L::Submission{commandId(s, kStepRelease) + ":" + s.dvp_contract_id,
                                L::ReleaseLocks{s.dvp_contract_id, /*archive_dvp=*/true}});
    owners.push_back(&w);
    w.step = kStepRelease;
    return;
  }

  switch (s.status) {
    case Status::kPending: {
      if (!w.accounts_known) {
        beginFailure(w, std::string(workflow::kUnknownAccount),
                     "buyer or seller account no longer exists");
        return replan();
      }
      if (!w.buyer_active || !w.seller_active) {
        beginFailure(w, std::string(workflow::kInactiveAccount),
                     std::string(!w.buyer_active ? "buyer account " + s.trade.buyer_account_id
                                                 : "seller account " + s.trade.seller_account_id) +
                         " is inactive");
        return replan();
      }
      // What is still due: all of it, or after a failed partial settlement, the remainder.
      submit(kStepInitiate,
             L::CreateDvp{w.buyer_party, w.seller_party, s.trade.securityAsset(),
                          s.trade.cashAsset(), *s.trade.quantity.sub(s.settled_quantity),
                          *s.trade.amount.sub(s.settled_amount), s.trade.settlement_date});
      return;
    }
    case Status::kInitiated: {
      auto remaining = s.trade.quantity.sub(s.settled_quantity);
      submit(kStepLockSecurities,
             L::LockSecurities{s.dvp_contract_id, *remaining, s.trade.allow_partial});
      return;
    }
    case Status::kSellerSecuritiesLocked: {
      Decimal remaining_qty = *s.trade.quantity.sub(s.settled_quantity);
      Decimal remaining_amount = *s.trade.amount.sub(s.settled_amount);
      Decimal cash;
      if (s.locked_quantity == remaining_qty) {
        cash = remaining_amount;  // the last part takes the exact remainder
      } else {
        // Pro rata of what is still due, exactly as the (remainder) DvP computes what it pays.
        auto pro_rata = remaining_amount.mulDiv(s.locked_quantity, remaining_qty);
        if (!pro_rata) {
          beginFailure(w, pro_rata.error().code, pro_rata.error().message);
          return replan();
        }
        cash = *pro_rata;
      }
      submit(kStepLockCash, L::LockCash{s.dvp_contract_id, cash});
      return;
    }
    case Status::kBuyerCashLocked:
      submit(kStepReassign, L::ReassignLocks{s.dvp_contract_id});
      return;
    case Status::kExecuting:
      submit(kStepSettle, L::Settle{s.dvp_contract_id});
      return;
    case Status::kConfirmed: {
      if (dateOf(now) < s.trade.settlement_date) {
        s.next_attempt_at = startOf(s.trade.settlement_date);
        w.dirty = true;
        w.done = true;
        return;
      }
      auto update = ledger_.updateById(s.dvp_atomic_transaction_id);
      if (!update) {
        onRetryable(w, update.error());
        return;
      }
      if (!*update) {
        metrics_.ledger_errors.inc();
        logger()->error("settlement {}: settle update {} not found on the ledger; will re-verify",
                        s.settlementId(), s.dvp_atomic_transaction_id);
        onRetryable(w, Error::transient(std::string(workflow::kUpdateNotFound),
                                        "settle update " + s.dvp_atomic_transaction_id +
                                            " not found on the ledger"));
        return;
      }
      s.step_attempt = 0;
      moveTo(w, Status::kSettled,
             json{{"dvp_atomic_transaction_id", s.dvp_atomic_transaction_id},
                  {"ledger_offset", (*update)->offset},
                  {"settlement_date", formatDate(s.trade.settlement_date)}}
                 .dump());
      metrics_.settled.inc();
      w.done = true;
      return;
    }
    case Status::kPartiallySettled: {
      if (s.retry_count >= opt_.retry_attempts) {
        beginFailure(w, std::string(workflow::kPartialSettlementIncomplete),
                     "only " + s.settled_quantity.toString() + " of " +
                         s.trade.quantity.toString() + " settled after " +
                         std::to_string(s.retry_count) + " retries");
        return replan();
      }
      recycle(w);
      return replan();
    }
    case Status::kSettled:
    case Status::kFailed:
      w.done = true;
      return;
  }
}

void Workflow::applyOutcome(Work& w, const Result<L::Outcome>& r) {
  Settlement& s = w.cur;
  if (!r) {
    metrics_.ledger_errors.inc();
    // For a trade that allows partial settlement, a seller with nothing to deliver right now is
    // waited for (DESIGN §4: insufficient holdings are permanent only when partial is not allowed).
    bool wait_for_seller = s.trade.allow_partial && w.step == kStepLockSecurities &&
                           r.error().code == L::kInsufficientSecurities;
    // A fence or release is never given up: a permanent answer to one is retried like an outage
    // rather than turned into a failure of what is already failing.
    bool fencing = w.step == kStepRelease || w.step == kStepFence;
    if (r.error().retryable || wait_for_seller || fencing)
      onRetryable(w, r.error());
    else
      beginFailure(w, r.error().code, r.error().message);
    return;
  }
  const L::Outcome& o = *r;
  s.step_attempt = 0;
  if (w.step == kStepFence) {
    if (o.fenced) {
      fail(w, "fenced_command_id", commandId(s, kStepInitiate));
      return;
    }
    // The round's create had committed (its answer was lost, or a worker whose lease expired
    // made it): apply it and whatever followed; the DvP is then released and archived.
    w.step = kStepInitiate;
    applyOutcome(w, r);
    (void)catchUp(w);  // what it cannot learn now, the catch-up after the release does
    return;
  }
  if (w.step == kStepRelease) {
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
  switch (s.status) {
    case Status::kPending:
      s.dvp_contract_id = o.contract_id;
      s.dvp_contract_template_id = opt_.dvp_template_id;
      moveTo(w, Status::kInitiated,
             json{{"trade_id", s.trade.trade_id},
                  {"buyer_account_id", s.trade.buyer_account_id},
                  {"seller_account_id", s.trade.seller_account_id},
                  {"symbol", s.trade.symbol},
                  {"quantity", s.trade.quantity.toString()},
                  {"amount", s.trade.amount.toString()},
                  {"settlement_date", formatDateAsTimestamp(s.trade.settlement_date)},
                  {"dvp_contract_id", o.contract_id},
                  {"synchronizer", o.synchronizer},
                  {"update_id", o.update_id}}
                 .dump());
      return;
    case Status::kInitiated:
      s.locked_quantity = o.quantity;
      s.seller_securities_ledger_ref = o.contract_id;
      moveTo(w, Status::kSellerSecuritiesLocked,
             json{{"seller_securities_ledger_ref", o.contract_id},
                  {"locked_quantity", o.quantity.toString()},
                  {"synchronizer", o.synchronizer},
                  {"update_id", o.update_id}}
                 .dump());
      return;
    case Status::kSellerSecuritiesLocked:
      s.locked_amount = o.amount;
      s.buyer_cash_ledger_ref = o.contract_id;
      moveTo(w, Status::kBuyerCashLocked,
             json{{"buyer_cash_ledger_ref", o.contract_id},
                  {"locked_amount", o.amount.toString()},
                  {"synchronizer", o.synchronizer},
                  {"update_id", o.update_id}}
                 .dump());
      return;
    case Status::kBuyerCashLocked:
      moveTo(w, Status::kExecuting,
             json{{"synchronizer", o.synchronizer},
                  {"dvp_contract_id", s.dvp_contract_id},
                  {"quantity", s.locked_quantity.toString()},
                  {"amount", s.locked_amount.toString()}}
                 .dump());
      return;
    case Status::kExecuting: {
      s.dvp_atomic_transaction_id = o.update_id;
      s.buyer_securities_ledger_ref = o.buyer_securities_contract_id;
      s.seller_cash_ledger_ref = o.seller_cash_contract_id;
      s.settled_quantity = *s.settled_quantity.add(o.quantity);
      s.settled_amount = *s.settled_amount.add(o.amount);
      s.locked_quantity = Decimal();
      s.locked_amount = Decimal();
      json details{{"dvp_atomic_transaction_id", o.update_id},
                   {"buyer_securities_ledger_ref", o.buyer_securities_contract_id},
                   {"seller_cash_ledger_ref", o.seller_cash_contract_id},
                   {"ledger_offset", o.offset},
                   {"quantity", o.quantity.toString()},
                   {"amount", o.amount.toString()},
                   {"settled_quantity", s.settled_quantity.toString()},
                   {"settled_amount", s.settled_amount.toString()}};
      if (!o.remainder_dvp_contract_id.empty()) {
        s.dvp_contract_id = o.remainder_dvp_contract_id;
        details["remaining_quantity"] = s.trade.quantity.sub(s.settled_quantity)->toString();
        details["remaining_amount"] = s.trade.amount.sub(s.settled_amount)->toString();
        details["remainder_dvp_contract_id"] = o.remainder_dvp_contract_id;
        // Clear the failure intent, if any: the part that settled is final. A later failure in
        // this batch must be committed anew before it fences anything.
        s.failure_code.clear();
        s.failure_reason.clear();
        s.failed_step.clear();
        w.failure_durable = false;
        moveTo(w, Status::kPartiallySettled, details.dump());
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
      moveTo(w, Status::kConfirmed, details.dump());
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
    auto results = ledger_.submit(subs);
    for (size_t i = 0; i < results.size(); ++i) applyOutcome(*owners[i], results[i]);
  }
}

Result<int> Workflow::runOnce() {
  Timestamp now = clock_.now();
  const auto leased_at = elapsed_.now();
  auto leased = settlements_.leaseDue(now, opt_.batch_size, opt_.lease);
  if (!leased) {
    metrics_.store_errors.inc();
    return leased.error();
  }
  if (leased->empty()) return 0;
  metrics_.batches.inc();

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

  std::vector<StateWrite> writes;
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
        w.writes.push_back(StateWrite{w.cur, w.cur.status, "{}"});
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
      ++transitions;
    }
  }
  if (transitions > 0 && on_committed_) on_committed_();
  return static_cast<int>(batch.size());
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
  Timestamp now = clock_.now();
  Status from = s.status;
  Settlement next = s;
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
  StateWrite w{next, from,
               json{{"retry", true},
                    {"reason", reason},
                    {"retry_count", next.retry_count},
                    {"resumed_at", toString(to)}}
                   .dump()};
  auto applied = settlements_.write(std::span<const StateWrite>(&w, 1));
  if (!applied) return applied.error();
  if (!(*applied)[0]) {
    return Error::permanent(std::string(workflow::kInvalidState),
                            "settlement changed concurrently; try again");
  }
  logger()->info("settlement {} trade {} retried ({}): resumes at {}", next.settlementId(),
                 next.trade.trade_id, reason, toString(to));
  return next;
}

WorkerPool::WorkerPool(Workflow& workflow, int threads, Duration idle_poll)
    : workflow_(workflow), threads_(threads), idle_poll_(idle_poll) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this, i] { loop(i); });
}

void WorkerPool::wake() {
  {
    std::lock_guard l(mu_);
    ++wakeups_;
  }
  cv_.notify_all();
}

void WorkerPool::stop() {
  stopping_ = true;
  cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void WorkerPool::loop(int index) {
  auto log = log::get("workflow");
  int consecutive_errors = 0;
  while (!stopping_) {
    uint64_t seen;
    {
      std::lock_guard l(mu_);
      seen = wakeups_;
    }
    auto n = workflow_.runOnce();
    if (!n) {
      if (consecutive_errors++ % 50 == 0)
        log->error("worker {}: {} (will keep retrying)", index, n.error().message);
    } else {
      consecutive_errors = 0;
      if (*n > 0) continue;  // more may be due right away
    }
    std::unique_lock l(mu_);
    cv_.wait_for(l, idle_poll_, [&] { return stopping_ || wakeups_ != seen; });
  }
}

}  // namespace sc

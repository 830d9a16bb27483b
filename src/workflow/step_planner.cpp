// Step planning: from a settlement's status (and failure intent), the next ledger command of
// its round, or a decision that needs none (park, reschedule, verify SETTLED, recycle a part).
#include "domain/time.h"
#include "workflow/errors.h"
#include "workflow/event_details.h"
#include "workflow/work.h"
#include "workflow/workflow.h"

namespace sc::workflow {
namespace {

namespace L = sc::ledger;

// planStep re-plans after a decision (a failure begun, a part recycled); more than this many times
// for one settlement in one call is a bug, and the settlement is parked rather than spun on.
constexpr int kMaxPlanDepth = 8;

}  // namespace

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
    out.push_back(L::Submission{commandId(s, step), std::move(c), s.stepFloor()});
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
      submit(steps::kInitiate, L::FenceCommand{w.buyer_party, w.seller_party});
      w.step = steps::kFence;
      return;
    }
    // The release's id names the DvP: a partial settle replaces the DvP within one round, and a
    // release of the settled DvP must not answer for the remainder's. Its floor is the round's,
    // or, submitted again after a refusal below the participant's pruning, the first offset the
    // participant still has (Work::release_floor).
    out.push_back(L::Submission{commandId(s, steps::kRelease) + ":" + s.dvp_contract_id,
                                L::ReleaseLocks{s.dvp_contract_id, /*archive_dvp=*/true},
                                w.release_floor > 0 ? w.release_floor : s.stepFloor()});
    owners.push_back(&w);
    w.step = steps::kRelease;
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
      submit(steps::kInitiate,
             L::CreateDvp{w.buyer_party, w.seller_party, s.trade.securityAsset(),
                          s.trade.cashAsset(), *s.trade.quantity.sub(s.settled_quantity),
                          *s.trade.amount.sub(s.settled_amount), s.trade.settlement_date});
      return;
    }
    case Status::kInitiated: {
      auto remaining = s.trade.quantity.sub(s.settled_quantity);
      submit(steps::kLockSecurities,
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
      submit(steps::kLockCash, L::LockCash{s.dvp_contract_id, cash});
      return;
    }
    case Status::kBuyerCashLocked:
      submit(steps::kReassign, L::ReassignLocks{s.dvp_contract_id});
      return;
    case Status::kExecuting:
      submit(steps::kSettle, L::Settle{s.dvp_contract_id});
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
      moveTo(w, Status::kSettled, workflow::settledDetails(s, (*update)->offset));
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

}  // namespace sc::workflow

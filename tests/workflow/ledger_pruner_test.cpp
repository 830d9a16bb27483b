// LedgerPruner (workflow/ledger_pruner.h) over the real workflow, store and embedded ledger: the
// watermark waits for the active settlements, what they resend after pruning is still
// deduplicated, what a finished one resends is refused, and the work goes on to the end.
#include "workflow/ledger_pruner.h"

#include <gtest/gtest.h>

#include <functional>
#include <utility>

#include "domain/command_ids.h"
#include "store/reconciliation_repository.h"
#include "support/fake_clock.h"
#include "support/memory_reconciliation.h"
#include "workflow_fixture.h"

namespace sc::test {
namespace {

using S = Status;

class LedgerPrunerTest : public WorkflowTest {
 protected:
  void SetUp() override {
    WorkflowTest::SetUp();
    if (canton_) GTEST_SKIP() << "the pruner prunes the embedded ledger (embedded mode only)";
    workflow::LedgerPrunerOptions o;
    o.lag = kLag;
    pruner_ = std::make_unique<workflow::LedgerPruner>(repo(), nullptr, *ledger_, ledger_,
                                                       no_reads_, o, pruner_time_);
  }

  // A pass after the lag: the ledger end it read `kLag` ago bounds the watermark.
  Result<std::optional<int64_t>> passLater() {
    pruner_time_.advance(kLag);
    return pruner_->runOnce();
  }

  // Resends a command of the settlement as its worker would after a lost answer.
  Result<ledger::Outcome> resend(const Settlement& s, std::string_view step,
                                 ledger::Command command) {
    ledger::Submission sub{commandId(s, step), std::move(command), s.stepFloor()};
    return ledger_->submit(std::span<const ledger::Submission>(&sub, 1)).front();
  }

  // The reconciler's state on the store under test.
  std::unique_ptr<store::ReconciliationRepository> reconciliation() {
    if (onPostgres()) return std::make_unique<store::PgReconciliationRepository>(database_->pool());
    return std::make_unique<MemoryReconciliation>(*memory_);
  }

  static constexpr std::chrono::seconds kLag{15};
  workflow::FloorReads no_reads_;  // tests whose passes run while no worker is in a lease
  FakeElapsed pruner_time_;
  std::unique_ptr<workflow::LedgerPruner> pruner_;
};

TEST_F(LedgerPrunerTest, TheWatermarkWaitsForTheActiveSettlementsAndTheWorkGoesOnAfterIt) {
  credit("acc_seller", "AAPL", "150", "securities");
  credit("acc_buyer", "USDC", "30000", "cash");
  ScriptedLedger scripted(*ledger_);
  auto flow = makeWorkflow(nullptr, &scripted);
  Settlement done = driveToRest(submit("trd_done", "50", "7524.00"), flow.get());
  ASSERT_EQ(done.status, S::kSettled);

  // A settlement stopped with its locks taken: the settlement synchronizer goes down just before
  // its reassignment.
  scripted.beforeFirst<ledger::ReassignLocks>([&] { ledger_->setOutage("settlement", true); });
  Settlement waiting = submit("trd_waiting", "50", "7524.00");
  drain(flow.get());
  waiting = load(waiting);
  ASSERT_EQ(waiting.status, S::kBuyerCashLocked);
  ASSERT_GT(waiting.ledger_offset_floor, done.ledger_offset_floor);

  // The first pass only reads the ledger end, and so does any pass before that end is `lag` old;
  // the one after prunes up to the waiting one's floor.
  auto first = pruner_->runOnce();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(*first);
  pruner_time_.advance(kLag - std::chrono::seconds(1));
  auto early = pruner_->runOnce();
  ASSERT_TRUE(early) << early.error().message;
  EXPECT_FALSE(*early);
  EXPECT_EQ(ledger_->prunedBefore(), 0);
  auto second = passLater();
  ASSERT_TRUE(second) << second.error().message;
  ASSERT_TRUE(*second);
  // Its floor is where its next lookups and commands start: past its first lease's floor once
  // its locks are taken (the completions below are its own, which it never asks for again).
  EXPECT_EQ(**second, waiting.stepFloor());
  EXPECT_GT(waiting.stepFloor(), waiting.ledger_offset_floor);
  EXPECT_EQ(ledger_->prunedBefore(), waiting.stepFloor());

  // The waiting settlement's lock, resent after a lost answer, is still deduplicated.
  auto again =
      resend(waiting, steps::kLockCash, ledger::LockCash{waiting.dvp_contract_id, D("7524")});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->deduplicated);
  // The finished one's settle, resent by a stale worker, is refused: it could not be deduplicated.
  // (Its worker holds the row as it leased it: no step had completed, its floor the first.)
  Settlement as_leased = done;
  as_leased.step_offset_floor = 0;
  auto stale = resend(as_leased, steps::kSettle, ledger::Settle{done.dvp_contract_id});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ledger::kLedgerPruned);
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50")) << "delivered once";

  // The synchronizer comes back: the waiting settlement finishes, then so does a new one.
  ledger_->setOutage("settlement", false);
  waiting = driveToRest(waiting, flow.get());
  EXPECT_EQ(waiting.status, S::kSettled) << waiting.failure_code << ": " << waiting.failure_reason;
  // Nothing active: the watermark follows the ledger end read `lag` ago.
  const int64_t end = ledger_->ledgerEnd();
  ASSERT_TRUE(passLater());
  auto caught_up = passLater();
  ASSERT_TRUE(caught_up && *caught_up);
  EXPECT_EQ(**caught_up, end);
  Settlement later = driveToRest(submit("trd_later", "50", "7524.00"), flow.get());
  EXPECT_EQ(later.status, S::kSettled) << later.failure_code << ": " << later.failure_reason;
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("150"));
  EXPECT_EQ(free("acc_seller", "USDC"), D("22572"));
  expectLegalPath(eventStatuses(waiting));
  expectLedgerConserved();
}

// A row leased for the first time after a pass read the ledger end records a floor at or above
// that end; later passes prune no further than that end until it is `lag` old, even before the
// row is in the database.
TEST_F(LedgerPrunerTest, TheWatermarkNeverPassesALedgerEndReadLessThanTheLagAgo) {
  creditTheStandardTrade();
  ASSERT_TRUE(pruner_->runOnce());
  const int64_t read_end = ledger_->ledgerEnd();
  // Work committed between the passes moves the ledger end on.
  Settlement s = driveToRest(submit("trd_between", "50", "7524.00"));
  ASSERT_EQ(s.status, S::kSettled);
  ASSERT_GT(ledger_->ledgerEnd(), read_end);
  auto second = passLater();  // reads the later end; the earlier one is `lag` old
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(**second, read_end);
  EXPECT_GE(s.ledger_offset_floor, read_end);
}

// Runs a hook once, before the first leaseDue or the first write it is given for: the window
// between a floor read and the commit that records it, stretched as a stalled worker or a slow
// database stretches it.
class StallFirst final : public ForwardingSettlementRepository {
 public:
  using ForwardingSettlementRepository::ForwardingSettlementRepository;
  std::function<void()> before_lease, before_write;
  Result<std::vector<Settlement>> leaseDue(Timestamp now, int limit, Duration lease,
                                           int64_t ledger_offset) override {
    if (auto hook = std::exchange(before_lease, nullptr)) hook();
    return real_.leaseDue(now, limit, lease, ledger_offset);
  }
  Result<std::vector<bool>> write(std::span<const store::StateWrite> writes) override {
    if (auto hook = std::exchange(before_write, nullptr)) hook();
    return real_.write(writes);
  }
};

class LedgerPrunerFloorReadTest : public LedgerPrunerTest {
 protected:
  // The stall: the ledger moves on past the floor just read, and two passes a lag apart run
  // with the workflow's floor reads. Records the floor and where the second pass pruned.
  void moveOnAndPrune(const workflow::Workflow& flow) {
    read_floor_ = ledger_->ledgerEnd();
    credit("acc_seller", "AAPL", "1", "securities");
    ASSERT_GT(ledger_->ledgerEnd(), read_floor_);
    workflow::LedgerPrunerOptions o;
    o.lag = kLag;
    workflow::LedgerPruner pruner(repo(), nullptr, *ledger_, ledger_, flow.floorReads(), o,
                                  pruner_time_);
    ASSERT_TRUE(pruner.runOnce());
    pruner_time_.advance(kLag);
    auto p = pruner.runOnce();
    ASSERT_TRUE(p && *p) << (p ? "no pass after the lag" : p.error().message);
    pruned_meanwhile_ = *p;
  }
  int64_t read_floor_ = -1;
  std::optional<int64_t> pruned_meanwhile_;
};

// A first lease that commits later than the lag after its worker read the floor: the passes in
// between read ledger ends past that floor and see no row holding it, yet must not prune past it
// (the floor is held until the lease returns, workflow/floor_reads.h). Pruned past, the row's
// first command would be refused with ledger_pruned at every attempt and it would never settle.
TEST_F(LedgerPrunerFloorReadTest, AFirstLeaseThatCommitsLateStillFindsItsFloorUnpruned) {
  creditTheStandardTrade();
  StallFirst stalled(repo());
  auto flow = makeWorkflow(&stalled);
  stalled.before_lease = [&] { moveOnAndPrune(*flow); };
  Settlement s = driveToRest(submit("trd_late_lease", "50", "7524.00"), flow.get());
  ASSERT_TRUE(pruned_meanwhile_) << "the stall did not run";
  EXPECT_LE(*pruned_meanwhile_, read_floor_) << "pruned past a floor read and not yet recorded";
  EXPECT_EQ(s.ledger_offset_floor, read_floor_);
  EXPECT_EQ(s.status, S::kSettled) << s.failure_code << ": " << s.failure_reason;
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  expectLedgerConserved();
}

// Answers the first lease with an error before it commits, and commits it later (commit_late),
// as a client whose I/O timeout ended the wait while the server was still committing (a stalled
// flush).
class LoseFirstLeaseAnswer final : public ForwardingSettlementRepository {
 public:
  using ForwardingSettlementRepository::ForwardingSettlementRepository;
  Result<std::vector<Settlement>> leaseDue(Timestamp now, int limit, Duration lease,
                                           int64_t ledger_offset) override {
    if (!std::exchange(lost_, true)) {
      commit_late = [=, this] { ASSERT_TRUE(real_.leaseDue(now, limit, lease, ledger_offset)); };
      return Error::transient("database_unavailable", "the answer to the lease was lost");
    }
    return real_.leaseDue(now, limit, lease, ledger_offset);
  }
  std::function<void()> commit_late;

 private:
  bool lost_ = false;
};

// A lease whose answer was lost may still commit: its floor stays held for FloorReads::kDoubtful,
// so the passes before that commit do not prune past it, and the settlement settles once. Every
// hold is released in the end (a leaked one would stop pruning silently).
TEST_F(LedgerPrunerFloorReadTest, AFloorWhoseLeaseAnswerWasLostStaysHeldUntilItsLateCommit) {
  creditTheStandardTrade();
  LoseFirstLeaseAnswer lossy(repo());
  FakeElapsed flow_time;
  auto flow = makeWorkflow(&lossy, nullptr, &flow_time);
  Settlement s = submit("trd_lost_lease", "50", "7524.00");
  ASSERT_FALSE(flow->runOnce()) << "the lease's answer is lost";
  ASSERT_TRUE(lossy.commit_late);
  moveOnAndPrune(*flow);  // two passes a lag apart, the ledger moved on past the floor
  ASSERT_TRUE(pruned_meanwhile_);
  EXPECT_LE(*pruned_meanwhile_, read_floor_) << "pruned past a floor a late commit records";
  lossy.commit_late();
  EXPECT_EQ(load(s).ledger_offset_floor, read_floor_) << "the lease committed late";
  clock_.advance(options_.lease + std::chrono::seconds(1));  // and expired
  s = driveToRest(s, flow.get());
  EXPECT_EQ(s.status, S::kSettled) << s.failure_code << ": " << s.failure_reason;
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  expectLedgerConserved();
  flow_time.advance(workflow::FloorReads::kDoubtful);
  EXPECT_EQ(flow->floorReads().least(), std::nullopt) << "every hold released";
}

// The same for an operator retry, which starts its new round's floor at a ledger end read before
// its write.
TEST_F(LedgerPrunerFloorReadTest, ARetryWhoseWriteCommitsLateStillFindsItsFloorUnpruned) {
  credit("acc_seller", "AAPL", "10", "securities");
  credit("acc_buyer", "USDC", "7524", "cash");
  StallFirst stalled(repo());
  auto flow = makeWorkflow(&stalled);
  Settlement s = driveToRest(submit("trd_late_retry", "50", "7524.00"), flow.get());
  ASSERT_EQ(s.status, S::kFailed);
  credit("acc_seller", "AAPL", "40", "securities");
  stalled.before_write = [&] { moveOnAndPrune(*flow); };
  auto r = flow->retry(s.id, "holdings credited");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(pruned_meanwhile_) << "the stall did not run";
  EXPECT_LE(*pruned_meanwhile_, read_floor_) << "pruned past a floor read and not yet recorded";
  EXPECT_EQ(r->step_offset_floor, read_floor_);
  s = driveToRest(load(s), flow.get());
  EXPECT_EQ(s.status, S::kSettled) << s.failure_code << ": " << s.failure_reason;
  EXPECT_EQ(free("acc_buyer", "AAPL"), D("50"));
  expectLedgerConserved();
}

// With the reconciler running, what it has still to compare is pruned only once compared: the
// watermark waits for the first-lease floor of every settlement with audit rows past its
// watermark, and for its ledger position.
TEST_F(LedgerPrunerTest, TheWatermarkWaitsForWhatTheReconcilerHasStillToCompare) {
  creditTheStandardTrade();
  std::unique_ptr<store::ReconciliationRepository> rec = reconciliation();
  workflow::LedgerPrunerOptions o;
  o.lag = kLag;
  workflow::LedgerPruner pruner(repo(), rec.get(), *ledger_, ledger_, no_reads_, o, pruner_time_);
  Settlement s = driveToRest(submit("trd_to_compare", "50", "7524.00"));
  ASSERT_EQ(s.status, S::kSettled);
  auto state = rec->state();
  ASSERT_TRUE(state) << state.error().message;
  state->ledger_offset = ledger_->ledgerEnd();  // every movement read, no audit row compared
  ASSERT_TRUE(rec->saveState(*state));
  ASSERT_TRUE(pruner.runOnce());
  pruner_time_.advance(kLag);
  auto waiting = pruner.runOnce();
  ASSERT_TRUE(waiting && *waiting) << (waiting ? "" : waiting.error().message);
  EXPECT_EQ(**waiting, s.ledger_offset_floor);
  {
    // A reconciler further behind than the window holds pruning back by the window only.
    workflow::LedgerPrunerOptions narrow = o;
    narrow.reconcile_window = 2;
    workflow::LedgerPruner bounded(repo(), rec.get(), *ledger_, ledger_, no_reads_, narrow,
                                   pruner_time_);
    ASSERT_TRUE(bounded.runOnce());
    pruner_time_.advance(kLag);
    auto w = bounded.runOnce();
    ASSERT_TRUE(w && *w);
    EXPECT_EQ(**w, ledger_->ledgerEnd() - 2);
    EXPECT_GT(**w, s.ledger_offset_floor);
  }
  // Compared: its audit rows are behind the reconciler's watermark.
  int64_t last = 0;
  for (const auto& e : events(s)) last = std::max(last, e.position);
  state->watermark = last;
  ASSERT_TRUE(rec->saveState(*state));
  pruner_time_.advance(kLag);
  auto after = pruner.runOnce();
  ASSERT_TRUE(after && *after);
  EXPECT_GT(**after, s.stepFloor() - 1);
}

// A reconciler whose ledger position is further behind than the window (turned on late, or
// stalled) holds pruning back by the window only: it then skips what was pruned and records the
// range (ledger_range_pruned). Before, its position held the watermark without a bound.
TEST_F(LedgerPrunerTest, AReconcilerFarBehindOnTheLedgerHoldsPruningBackByTheWindowOnly) {
  creditTheStandardTrade();
  std::unique_ptr<store::ReconciliationRepository> rec = reconciliation();
  Settlement s = driveToRest(submit("trd_far_behind", "50", "7524.00"));
  ASSERT_EQ(s.status, S::kSettled);
  auto state = rec->state();
  ASSERT_TRUE(state) << state.error().message;
  state->ledger_offset = 0;  // no movement read
  for (const auto& e : events(s)) state->watermark = std::max(state->watermark, e.position);
  ASSERT_TRUE(rec->saveState(*state));
  const int64_t end = ledger_->ledgerEnd();
  ASSERT_GT(end, 3);
  for (int64_t window : {int64_t{1000}, int64_t{2}}) {
    workflow::LedgerPrunerOptions o;
    o.lag = kLag;
    o.reconcile_window = window;
    workflow::LedgerPruner pruner(repo(), rec.get(), *ledger_, ledger_, no_reads_, o, pruner_time_);
    ASSERT_TRUE(pruner.runOnce());
    pruner_time_.advance(kLag);
    auto w = pruner.runOnce();
    ASSERT_TRUE(w && *w) << (w ? "no pass after the lag" : w.error().message);
    EXPECT_EQ(**w, std::max<int64_t>(1, end - window)) << "window " << window;
  }
}

// Over a Canton participant (no engine to prune) the pruner publishes the watermark it would
// prune below, for the participant's operator, and prunes nothing. Runs in both modes: in canton
// mode it reads the ledger end through the adapter.
class LedgerPrunerPublishTest : public WorkflowTest {};

TEST_F(LedgerPrunerPublishTest, WithoutAnEngineTheWatermarkIsPublishedAndNothingIsPruned) {
  creditTheStandardTrade();
  FakeElapsed time;
  workflow::LedgerPrunerOptions o;
  o.lag = std::chrono::seconds(15);
  o.publish_lag = o.lag;       // ThePublishedWatermarkKeepsALedgerEndReadTheDoubtfulHoldAgo
  workflow::FloorReads reads;  // a worker's, between its floor read and its lease's commit
  workflow::LedgerPruner pruner(repo(), nullptr, workflowLedger(), nullptr, reads, o, time);
  EXPECT_EQ(pruner.watermark(), std::nullopt);
  Settlement s = driveToRest(submit("trd_published", "50", "7524.00"));
  ASSERT_EQ(s.status, S::kSettled);
  const int64_t end = ledger_->ledgerEnd();
  auto first = pruner.runOnce();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, std::nullopt) << "no ledger end is a lag old yet";
  EXPECT_EQ(pruner.watermark(), std::nullopt);
  // A floor read for a lease not yet committed holds the published watermark too.
  auto hold = reads.read([] { return Result<int64_t>(int64_t{2}); });
  ASSERT_TRUE(hold);
  time.advance(o.lag);
  auto held = pruner.runOnce();
  ASSERT_TRUE(held && *held) << (held ? "no watermark" : held.error().message);
  EXPECT_EQ(**held, 2);
  { auto released = std::move(*hold); }
  time.advance(o.lag);
  auto second = pruner.runOnce();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ(**second, end) << "nothing active: the ledger end read a lag ago";
  auto w = pruner.watermark();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->prune_before, end);
  EXPECT_EQ(w->ledger_end, end);
  EXPECT_FALSE(w->applied);
  EXPECT_EQ(ledger_->prunedBefore(), 0) << "published, not pruned";
  auto pruned = workflowLedger().prunedUpTo();
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(*pruned, 0);
}

// Over Canton another instance may have lost the answer to a lease write that still commits: it
// holds that floor for FloorReads::kDoubtful, unseen here. So the published watermark keeps a
// ledger end read that long ago, not only a lease ago.
TEST_F(LedgerPrunerPublishTest, ThePublishedWatermarkKeepsALedgerEndReadTheDoubtfulHoldAgo) {
  creditTheStandardTrade();
  FakeElapsed time;
  workflow::LedgerPrunerOptions o;  // publish_lag: FloorReads::kDoubtful by default
  o.lag = std::chrono::seconds(15);
  workflow::FloorReads reads;
  workflow::LedgerPruner pruner(repo(), nullptr, workflowLedger(), nullptr, reads, o, time);
  const int64_t start = ledger_->ledgerEnd();
  ASSERT_TRUE(pruner.runOnce());
  Settlement s = driveToRest(submit("trd_publish_lag", "50", "7524.00"));
  ASSERT_EQ(s.status, S::kSettled);
  ASSERT_GT(ledger_->ledgerEnd(), start);
  time.advance(o.lag);
  auto lease_old = pruner.runOnce();
  ASSERT_TRUE(lease_old) << lease_old.error().message;
  EXPECT_EQ(*lease_old, std::nullopt) << "a ledger end a lease old is not enough over Canton";
  time.advance(workflow::FloorReads::kDoubtful - o.lag);
  auto doubtful_old = pruner.runOnce();
  ASSERT_TRUE(doubtful_old && *doubtful_old);
  EXPECT_EQ(**doubtful_old, start) << "the ledger end read ten minutes ago";
  time.advance(workflow::FloorReads::kDoubtful);
  auto later = pruner.runOnce();
  ASSERT_TRUE(later && *later);
  EXPECT_EQ(**later, ledger_->ledgerEnd());
}

// An instance that does not run the reconciler (REC_ENABLED=false) still follows its state once
// it has run on any instance: the reconciler's position is shared in the database.
TEST_F(LedgerPrunerTest, AReconcilerRunElsewhereBoundsTheWatermarkOnceItHasRun) {
  creditTheStandardTrade();
  std::unique_ptr<store::ReconciliationRepository> rec = reconciliation();
  Settlement s = driveToRest(submit("trd_rec_elsewhere", "50", "7524.00"));
  ASSERT_EQ(s.status, S::kSettled);
  const int64_t end = ledger_->ledgerEnd();
  ASSERT_GT(end, 3);
  auto state = rec->state();
  ASSERT_TRUE(state) << state.error().message;
  ASSERT_EQ(state->passes, 0);
  workflow::LedgerPrunerOptions o;
  o.lag = kLag;
  o.publish_lag = kLag;
  o.reconciler_here = false;
  {
    workflow::LedgerPruner pruner(repo(), rec.get(), *ledger_, nullptr, no_reads_, o, pruner_time_);
    ASSERT_TRUE(pruner.runOnce());
    pruner_time_.advance(kLag);
    auto w = pruner.runOnce();
    ASSERT_TRUE(w && *w);
    EXPECT_EQ(**w, end) << "no reconciler has ever run: nothing to wait for";
  }
  state->passes = 1;
  state->ledger_offset = 2;  // movements read up to 2; every audit row compared
  for (const auto& e : events(s)) state->watermark = std::max(state->watermark, e.position);
  ASSERT_TRUE(rec->saveState(*state));
  workflow::LedgerPruner pruner(repo(), rec.get(), *ledger_, nullptr, no_reads_, o, pruner_time_);
  ASSERT_TRUE(pruner.runOnce());
  pruner_time_.advance(kLag);
  auto w = pruner.runOnce();
  ASSERT_TRUE(w && *w);
  EXPECT_EQ(**w, 3) << "the reconciler's position + 1";
}

// Embedded mode publishes what the engine pruned below, which never moves back, not a lower
// watermark a later pass computed (a floor read that moment).
TEST_F(LedgerPrunerTest, EmbeddedModePublishesWhatTheEnginePrunedBelow) {
  creditTheStandardTrade();
  Settlement s = driveToRest(submit("trd_published_applied", "50", "7524.00"));
  ASSERT_EQ(s.status, S::kSettled);
  const int64_t end = ledger_->ledgerEnd();
  ASSERT_TRUE(pruner_->runOnce());
  auto pruned = passLater();
  ASSERT_TRUE(pruned && *pruned);
  ASSERT_EQ(**pruned, end);
  auto hold = no_reads_.read([] { return Result<int64_t>(int64_t{2}); });
  ASSERT_TRUE(hold);
  auto again = passLater();
  ASSERT_TRUE(again && *again);
  EXPECT_EQ(**again, end);
  auto w = pruner_->watermark();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->prune_before, end) << "the ledger is pruned below " << end << ", not 2";
  EXPECT_TRUE(w->applied);
}

}  // namespace
}  // namespace sc::test

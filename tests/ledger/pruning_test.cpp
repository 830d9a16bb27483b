// Pruning below the coordinator's watermark and journal compaction (EmbeddedLedger::prune,
// Options::compact_journal_bytes): what a live settlement may repeat is still deduplicated, what
// a finished one repeats is refused rather than run again, and a snapshot replays to the same
// ledger.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "ledger/engine/embedded_ledger.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

// One settlement's commands as the workflow submits them: every id carries the ledger end read
// before the settlement's first command (its ledger_offset_floor).
struct Round {
  std::string name;
  int64_t floor = 0;
  std::vector<Submission> sent;  // in order, each accepted
  std::vector<Outcome> outcomes;
};

class PruningTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen(uint64_t compact_bytes = 0, size_t merge_above = 0) {
    ledger_.reset();
    auto o = options(dir_.path());
    o.compact_journal_bytes = compact_bytes;
    o.merge_holdings_above = merge_above;
    o.compact_in_child = in_child_;
    auto r = EmbeddedLedger::open(o);
    ASSERT_TRUE(r) << r.error().message;
    ledger_ = std::move(r).value();
    buyer_ = ledger_->allocateParty("buyer").value();
    seller_ = ledger_->allocateParty("seller").value();
  }

  bool in_child_ = true;

  void fund() {
    ASSERT_TRUE(ledger_->credit(seller_, "AAPL", LedgerAmount(D("1000")), "securities"));
    ASSERT_TRUE(ledger_->credit(buyer_, "USDC", LedgerAmount(D("1000000")), "cash"));
  }

  Round start(const std::string& name) {
    Round r;
    r.name = name;
    r.floor = ledger_->ledgerEnd();
    return r;
  }

  // Submits the next step of the round; returns its outcome.
  Outcome step(Round& r, const std::string& step, Command c) {
    Submission s{r.name + ":" + step + ":0", std::move(c), r.floor};
    auto out = ledger_->submit(std::span<const Submission>(&s, 1)).front();
    EXPECT_TRUE(out) << s.command_id << ": " << out.error().message;
    r.sent.push_back(s);
    r.outcomes.push_back(out ? *out : Outcome{});
    return r.outcomes.back();
  }

  // A whole settlement, from DvP to settle.
  Round settleOne(const std::string& name) {
    Round r = start(name);
    auto dvp = step(r, "create", dvpCommand(buyer_, seller_, "1", "150")).contract_id;
    step(r, "lock_securities", LockSecurities{dvp, D("1"), false});
    step(r, "lock_cash", LockCash{dvp, D("150")});
    step(r, "reassign", ReassignLocks{dvp});
    step(r, "settle", Settle{dvp});
    return r;
  }

  // Resends every command of the round: each must come back deduplicated with its first outcome
  // and change nothing.
  void expectDeduplicated(const Round& r) {
    const auto before = snapshot(*ledger_);
    for (size_t i = 0; i < r.sent.size(); ++i) {
      auto again = ledger_->submit(std::span<const Submission>(&r.sent[i], 1)).front();
      ASSERT_TRUE(again) << r.sent[i].command_id << ": " << again.error().message;
      EXPECT_TRUE(again->deduplicated) << r.sent[i].command_id << " ran a second time";
      EXPECT_EQ(again->update_id, r.outcomes[i].update_id) << r.sent[i].command_id;
      EXPECT_EQ(again->contract_id, r.outcomes[i].contract_id) << r.sent[i].command_id;
      if (r.outcomes[i].fenced) continue;  // a fence is no completion
      auto looked = ledger_->completionAfter(r.sent[i].command_id, r.floor);
      ASSERT_TRUE(looked) << looked.error().message;
      ASSERT_TRUE(*looked) << r.sent[i].command_id << "'s completion is gone";
      EXPECT_EQ((*looked)->update_id, r.outcomes[i].update_id);
    }
    EXPECT_EQ(snapshot(*ledger_), before) << r.name << "'s resends changed the ledger";
  }

  // Resends every command of a round that finished below the watermark: each is refused, none
  // runs.
  void expectRefused(const Round& r) {
    const auto before = snapshot(*ledger_);
    for (const auto& s : r.sent) {
      auto again = ledger_->submit(std::span<const Submission>(&s, 1)).front();
      ASSERT_FALSE(again) << s.command_id << " was accepted below the pruned offset";
      EXPECT_EQ(again.error().code, kLedgerPruned) << again.error().message;
      EXPECT_FALSE(again.error().retryable);
    }
    EXPECT_EQ(snapshot(*ledger_), before) << r.name << "'s resends changed the ledger";
  }

  TempDir dir_;
  std::unique_ptr<EmbeddedLedger> ledger_;
  std::string buyer_, seller_;
};

// The test: the watermark is the least floor of the settlements still running. Every
// command those may repeat (whatever step they reached, a fence included) is still deduplicated
// after pruning, after a restart and after a compaction; every command of a settlement that
// finished below the watermark is refused, so a stale worker cannot settle it twice.
TEST_F(PruningTest, APrunedLedgerStillDeduplicatesEveryCommandALiveSettlementMayRepeat) {
  fund();
  std::vector<Round> finished;
  for (int i = 0; i < 5; ++i) finished.push_back(settleOne("done" + std::to_string(i)));

  // Live settlements, stopped at every step (the lowest floor is the watermark).
  std::vector<Round> live;
  {
    Round r = start("live-created");
    step(r, "create", dvpCommand(buyer_, seller_, "2", "300"));
    live.push_back(r);
  }
  // A settlement that finished after the first live one started: above the watermark, kept.
  Round finished_later = settleOne("done-later");
  {
    Round r = start("live-locked");
    auto dvp = step(r, "create", dvpCommand(buyer_, seller_, "3", "450")).contract_id;
    step(r, "lock_securities", LockSecurities{dvp, D("3"), false});
    step(r, "lock_cash", LockCash{dvp, D("450")});
    live.push_back(r);
  }
  {
    Round r = start("live-fenced");
    step(r, "create", FenceCommand{buyer_, seller_});
    ASSERT_TRUE(r.outcomes.back().fenced);
    live.push_back(r);
  }
  {
    Round r = start("live-settled-unconfirmed");  // settled on the ledger, not yet confirmed
    auto dvp = step(r, "create", dvpCommand(buyer_, seller_, "4", "600")).contract_id;
    step(r, "lock_securities", LockSecurities{dvp, D("4"), false});
    step(r, "lock_cash", LockCash{dvp, D("600")});
    step(r, "reassign", ReassignLocks{dvp});
    step(r, "settle", Settle{dvp});
    live.push_back(r);
  }
  int64_t watermark = live.front().floor;
  for (const auto& r : live) watermark = std::min(watermark, r.floor);
  ASSERT_GT(watermark, finished.back().floor);

  auto pruned = ledger_->prune(watermark);
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(pruned->pruned_before, watermark);
  // The watermark is the last finished round's settle: that settle, its movement and its DvP
  // (archived at it) are at the watermark, so kept.
  EXPECT_EQ(watermark, finished.back().outcomes.back().offset);
  EXPECT_EQ(pruned->completions, 5u * 5u - 1) << "the finished rounds' completions are dropped";
  EXPECT_GT(pruned->updates, 0u);
  EXPECT_EQ(pruned->movements, 4u + 2u) << "four settles and the two credits";
  EXPECT_EQ(pruned->dvps, 4u);

  auto check = [&](const char* when) {
    SCOPED_TRACE(when);
    EXPECT_EQ(ledger_->prunedBefore(), watermark);
    for (const auto& r : live) expectDeduplicated(r);
    expectDeduplicated(finished_later);
    for (const auto& r : finished) expectRefused(r);
    // The fence still holds: the live round can never start under its id.
    Submission late{"live-fenced:create:0", dvpCommand(buyer_, seller_, "1", "1"), live[2].floor};
    auto r = ledger_->submit(std::span<const Submission>(&late, 1)).front();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, kCommandFenced);
    ASSERT_TRUE(ledger_->verifyIntegrity());
  };
  check("after pruning");
  const auto state = snapshot(*ledger_);
  reopen();
  EXPECT_EQ(snapshot(*ledger_), state);
  check("after a restart (the prune is journaled)");
  ASSERT_TRUE(ledger_->compact());
  reopen();
  EXPECT_EQ(snapshot(*ledger_), state);
  check("after a compaction and a restart (replayed from the snapshot)");

  // The live rounds finish as they would have.
  auto& locked = live[1];
  Submission reassign{"live-locked:reassign:0", ReassignLocks{locked.outcomes[0].contract_id},
                      locked.floor};
  Submission settle{"live-locked:settle:0", Settle{locked.outcomes[0].contract_id}, locked.floor};
  ASSERT_TRUE(ledger_->submit(std::span<const Submission>(&reassign, 1)).front());
  auto s = ledger_->submit(std::span<const Submission>(&settle, 1)).front();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->quantity, D("3"));
}

TEST_F(PruningTest, ReadsThatStartBelowThePrunedOffsetFailInsteadOfAnsweringWithAHole) {
  fund();
  Round old = settleOne("old");
  const int64_t watermark = ledger_->ledgerEnd();
  ASSERT_TRUE(ledger_->prune(watermark));
  auto c = ledger_->completionAfter(old.sent.back().command_id, old.floor);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, kLedgerPruned);
  auto m = ledger_->movementsSince(watermark - 2, 10);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, kLedgerPruned);
  auto from = ledger_->movementsSince(watermark - 1, 10);
  ASSERT_TRUE(from) << from.error().message;
  ASSERT_EQ(from->movements.size(), 1u) << "the settle at the watermark is kept";
  EXPECT_EQ(from->movements[0].offset, watermark);
  EXPECT_TRUE(from->at_end);
  // A settlement started now reads and submits from above the watermark.
  Round next = settleOne("next");
  auto page = ledger_->movementsSince(watermark - 1, 10);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->movements.size(), 2u);
  EXPECT_EQ(page->movements[1].buyer, buyer_);
  expectDeduplicated(next);
}

TEST_F(PruningTest, AWatermarkPastTheLedgerEndIsRefusedAndAnOlderOneChangesNothing) {
  fund();
  settleOne("a");
  auto past = ledger_->prune(ledger_->ledgerEnd() + 1);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, kInvalidCommand);
  EXPECT_EQ(ledger_->prunedBefore(), 0);
  ASSERT_TRUE(ledger_->prune(4));
  auto older = ledger_->prune(2);
  ASSERT_TRUE(older);
  EXPECT_EQ(older->pruned_before, 4);
  EXPECT_EQ(older->completions + older->updates + older->movements + older->dvps, 0u);
}

// Compaction alone (no pruning) replays to the same ledger: holdings in creation order, locks
// in flight, archived DvPs, completions, fences, updates and movements.
TEST_F(PruningTest, ACompactedJournalReplaysToTheSameLedger) {
  fund();
  std::vector<Round> rounds;
  for (int i = 0; i < 3; ++i) rounds.push_back(settleOne("s" + std::to_string(i)));
  Round partial = start("in-flight");
  auto dvp = step(partial, "create", dvpCommand(buyer_, seller_, "5", "750")).contract_id;
  step(partial, "lock_securities", LockSecurities{dvp, D("5"), false});
  step(partial, "lock_cash", LockCash{dvp, D("750")});
  ledger_->setOutage("settlement", true);
  Submission stuck{"in-flight:reassign:0", ReassignLocks{dvp}, partial.floor};
  ASSERT_FALSE(ledger_->submit(std::span<const Submission>(&stuck, 1)).front());
  ledger_->setOutage("settlement", false);
  Round fenced = start("fenced");
  step(fenced, "create", FenceCommand{buyer_, seller_});
  Round archived = start("archived");
  auto adv = step(archived, "create", dvpCommand(buyer_, seller_, "1", "1")).contract_id;
  step(archived, "archive", ArchiveDvp{adv});

  const auto state = snapshot(*ledger_);
  auto movements = ledger_->movementsSince(0, 100).value();
  const uint64_t before = std::filesystem::file_size(dir_.path() + "/journal.log");
  ASSERT_TRUE(ledger_->compact());
  EXPECT_EQ(ledger_->stats().compactions, 1u);
  EXPECT_EQ(snapshot(*ledger_), state);
  reopen();
  EXPECT_EQ(snapshot(*ledger_), state);
  EXPECT_LT(std::filesystem::file_size(dir_.path() + "/journal.log"), before + 4096);
  ASSERT_TRUE(ledger_->verifyIntegrity());
  auto again = ledger_->movementsSince(0, 100).value();
  ASSERT_EQ(again.movements.size(), movements.movements.size());
  for (size_t i = 0; i < again.movements.size(); ++i) {
    EXPECT_EQ(again.movements[i].update_id, movements.movements[i].update_id);
    EXPECT_EQ(again.movements[i].offset, movements.movements[i].offset);
    EXPECT_EQ(again.movements[i].buyer, movements.movements[i].buyer);
    EXPECT_EQ(again.movements[i].quantity, movements.movements[i].quantity);
    EXPECT_EQ(again.movements[i].credited, movements.movements[i].credited);
  }
  for (const auto& r : rounds) expectDeduplicated(r);
  expectDeduplicated(fenced);
  expectDeduplicated(archived);
  auto dv = ledger_->dvp(adv).value();
  ASSERT_TRUE(dv);
  EXPECT_FALSE(dv->active);
  // The lock in flight finishes its reassignment and settles after the restart.
  auto r = ledger_->submit(std::span<const Submission>(&stuck, 1)).front();
  ASSERT_TRUE(r) << r.error().message;
  Submission settle{"in-flight:settle:0", Settle{dvp}, partial.floor};
  auto s = ledger_->submit(std::span<const Submission>(&settle, 1)).front();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->amount, D("750"));
  // New ids do not collide with the snapshot's (a new epoch, as after any open).
  EXPECT_FALSE(ledger_->updateById(s->update_id).value()->update_id.empty());
}

// A command id whose completion was pruned runs again when it is resubmitted from an offset the
// ledger still has (the workflow resubmits a failing round's release so); its new completion
// deduplicates it from then on, after a restart too (the pruned one must not hide it on replay).
TEST_F(PruningTest, AnIdResubmittedAfterItsCompletionWasPrunedKeepsItsNewCompletion) {
  fund();
  Round r = start("x");
  auto dvp = step(r, "create", dvpCommand(buyer_, seller_, "1", "150")).contract_id;
  step(r, "lock_cash", LockCash{dvp, D("150")});
  Submission release{"x:release:0", ReleaseLocks{dvp, false}, r.floor};
  ASSERT_TRUE(ledger_->submit(std::span<const Submission>(&release, 1)).front());
  settleOne("later");
  ASSERT_TRUE(ledger_->prune(ledger_->ledgerEnd()));
  release.after_offset = ledger_->prunedBefore();
  auto again = ledger_->submit(std::span<const Submission>(&release, 1)).front();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->deduplicated) << "answered from the pruned completion";
  for (int restart = 0; restart < 2; ++restart) {
    auto third = ledger_->submit(std::span<const Submission>(&release, 1)).front();
    ASSERT_TRUE(third) << third.error().message;
    EXPECT_TRUE(third->deduplicated) << "ran a third time (restart " << restart << ")";
    reopen();
  }
}

// A pruning pass drops what it pruned in chunks, releasing the lock between them: one that has
// more to drop than a chunk still drops all of it before it returns.
TEST_F(PruningTest, APruneWithMoreThanAChunkToDropDropsItAll) {
  fund();
  std::vector<Round> rounds;
  for (int i = 0; i < 1000; ++i) rounds.push_back(settleOne("r" + std::to_string(i)));
  auto pruned = ledger_->prune(ledger_->ledgerEnd());
  ASSERT_TRUE(pruned) << pruned.error().message;
  // Five commands a round; the last settle is at the ledger end, which is kept.
  EXPECT_EQ(pruned->completions, 4999u);
  EXPECT_EQ(pruned->dvps, 999u);
  auto again = ledger_->prune(ledger_->ledgerEnd());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->completions + again->updates + again->movements + again->dvps, 0u)
      << "the first pass left some of what it pruned";
  for (int i : {0, 500, 999}) expectRefused(rounds[static_cast<size_t>(i)]);
}

// A compaction holds the engine's lock only to take its snapshot (a fork, or the snapshot
// encoded in memory): commands go on while it is written, and what they commit meanwhile
// follows the snapshot in the new journal, so a restart replays them too.
TEST_F(PruningTest, CommandsCommittedWhileTheSnapshotIsWrittenFollowItInTheNewJournal) {
  for (bool in_child : {true, false}) {
    SCOPED_TRACE(in_child ? "snapshot written by a child process" : "snapshot written here");
    in_child_ = in_child;
    reopen();
    fund();
    std::vector<Round> before, during;
    const std::string run = in_child ? "child-" : "here-";
    for (int i = 0; i < 5; ++i) before.push_back(settleOne(run + "before" + std::to_string(i)));
    const auto compactions = ledger_->stats().compactions;
    ledger_->setCompactionHook([&] {
      // Another thread: the compacting one holds only the compaction's own mutex now.
      std::thread t([&] {
        for (int i = 0; i < 5; ++i) during.push_back(settleOne(run + "during" + std::to_string(i)));
      });
      t.join();
    });
    // The hook refers to this iteration's locals: cleared before any assertion can leave.
    const auto compacted = ledger_->compact();
    ledger_->setCompactionHook({});
    ASSERT_TRUE(compacted);
    ASSERT_EQ(during.size(), 5u) << "commands waited for the compaction";
    EXPECT_EQ(ledger_->stats().compactions, compactions + 1);
    const auto state = snapshot(*ledger_);
    reopen();
    EXPECT_EQ(snapshot(*ledger_), state) << "the records committed meanwhile were lost";
    ASSERT_TRUE(ledger_->verifyIntegrity());
    for (const auto& r : before) expectDeduplicated(r);
    for (const auto& r : during) expectDeduplicated(r);
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      EXPECT_EQ(e.path().filename().string().find("journal.log.compact"), std::string::npos)
          << e.path() << " was left behind";
    }
  }
}

// More than a MiB committed while the snapshot is written is appended to it in rounds without the
// lock, before the last records are under it; all of it replays.
TEST_F(PruningTest, ManyRecordsCommittedWhileTheSnapshotIsWrittenFollowItInRounds) {
  for (bool in_child : {true, false}) {
    SCOPED_TRACE(in_child ? "snapshot written by a child process" : "snapshot written here");
    in_child_ = in_child;
    reopen();
    fund();
    std::vector<Round> during;
    const std::string run = in_child ? "child-" : "here-";
    const auto rounds = ledger_->stats().compaction_tail_rounds;
    ledger_->setCompactionHook([&] {
      std::thread t([&] {
        const uint64_t from = ledger_->stats().bytes_written;
        while (ledger_->stats().bytes_written - from < (3u << 19) && during.size() < 20000)
          during.push_back(settleOne(run + "during" + std::to_string(during.size())));
      });
      t.join();
    });
    // The hook refers to this iteration's locals: cleared before any assertion can leave.
    const auto compacted = ledger_->compact();
    ledger_->setCompactionHook({});
    ASSERT_TRUE(compacted);
    EXPECT_GE(ledger_->stats().compaction_tail_rounds, rounds + 1)
        << during.size() << " rounds committed meanwhile were all appended under the lock";
    const auto state = snapshot(*ledger_);
    reopen();
    EXPECT_EQ(snapshot(*ledger_), state) << "the records committed meanwhile were lost";
    ASSERT_TRUE(ledger_->verifyIntegrity());
    for (const auto& r : during) expectDeduplicated(r);
  }
}

// With compaction, merging and a watermark that follows the work, the journal and the live
// contracts stay bounded however many settlements run: the journal is rewritten whenever it
// doubles past the snapshot, and each owner's holdings of an asset are merged past 8.
TEST_F(PruningTest, WithPruningAndMergingTheCompactedJournalStaysBounded) {
  reopen(16 * 1024, 8);
  fund();
  uint64_t largest = 0;
  for (int i = 0; i < 400; ++i) {
    Round r = settleOne("r" + std::to_string(i));
    if (i % 10 == 9) ASSERT_TRUE(ledger_->prune(ledger_->ledgerEnd()));
    largest = std::max<uint64_t>(largest, std::filesystem::file_size(dir_.path() + "/journal.log"));
  }
  EXPECT_GE(ledger_->stats().compactions, 10u);
  // Uncompacted, these 400 rounds take about 250 KiB; compacted they cycle below 2 × 21 KiB.
  EXPECT_LT(largest, 64u * 1024) << "the journal grew past its compaction bound";
  EXPECT_LE(ledger_->allHoldings().size(), 4u * 9u) << "two owners, two assets, 9 at most each";
  const auto state = snapshot(*ledger_);
  reopen(16 * 1024, 8);
  EXPECT_EQ(snapshot(*ledger_), state);
  ASSERT_TRUE(ledger_->verifyIntegrity());
  EXPECT_EQ(freeOf(*ledger_, buyer_, "AAPL"), LedgerAmount(D("400")));
}

}  // namespace
}  // namespace sc::test

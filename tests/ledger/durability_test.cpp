// Durability: state survives close/reopen, a torn tail is truncated, and every submit reported
// committed before a kill -9 is there after restart.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "ledger/engine/embedded_ledger.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

// Runs a few complete and incomplete settlements; returns the command ids that succeeded.
std::vector<std::string> populate(EmbeddedLedger& l) {
  auto buyer = l.allocateParty("buyer").value();
  auto seller = l.allocateParty("seller").value();
  EXPECT_TRUE(l.credit(seller, "AAPL", D("100"), "securities"));
  EXPECT_TRUE(l.credit(buyer, "USDC", D("20000"), "cash"));
  std::vector<std::string> done;
  auto run = [&](const std::string& id, Command c) -> std::string {
    auto r = l.submitOne(id, std::move(c));
    EXPECT_TRUE(r) << id << ": " << r.error().message;
    done.push_back(id);
    return r ? r->contract_id : std::string();
  };
  auto d1 = run("s1:create", dvpCommand(buyer, seller, "50", "7524"));
  run("s1:lock_sec", LockSecurities{d1, D("50"), false});
  run("s1:lock_cash", LockCash{d1, D("7524")});
  run("s1:reassign", ReassignLocks{d1});
  run("s1:settle", Settle{d1});
  auto d2 = run("s2:create", dvpCommand(buyer, seller, "80", "8000"));
  run("s2:lock_sec", LockSecurities{d2, D("80"), true});  // partial: 50 left
  run("s2:lock_cash", LockCash{d2, D("8000")});
  l.setOutage("settlement", true);
  EXPECT_FALSE(l.submitOne("s2:reassign", ReassignLocks{d2}));  // leaves locks in flight
  l.setOutage("settlement", false);
  auto d3 = run("s3:create", dvpCommand(buyer, seller, "1", "1"));
  run("s3:archive", ArchiveDvp{d3});
  return done;
}

void expectSameState(EmbeddedLedger& a, EmbeddedLedger& b, const std::vector<std::string>& ids) {
  EXPECT_EQ(snapshot(a), snapshot(b));
  for (const auto& id : ids) {
    auto ca = a.completion(id).value();
    auto cb = b.completion(id).value();
    ASSERT_TRUE(ca) << id;
    ASSERT_TRUE(cb) << id;
    EXPECT_EQ(ca->update_id, cb->update_id);
    EXPECT_EQ(ca->offset, cb->offset);
    EXPECT_EQ(ca->contract_id, cb->contract_id);
    EXPECT_EQ(ca->quantity, cb->quantity);
    EXPECT_EQ(ca->amount, cb->amount);
    EXPECT_EQ(ca->remainder_dvp_contract_id, cb->remainder_dvp_contract_id);
    if (!ca->update_id.empty()) {
      EXPECT_TRUE(b.updateById(ca->update_id).value());
    }
  }
}

TEST(LedgerDurability, ReopenRestoresHoldingsTotalsCompletionsAndParties) {
  TempDir dir;
  auto ledger = openLedger(dir.path());
  auto ids = populate(*ledger);
  auto buyer = ledger->allocateParty("buyer").value();
  // A reference ledger kept open, compared with the reopened one.
  auto before = snapshot(*ledger);
  std::vector<Outcome> outcomes;
  for (const auto& id : ids) outcomes.push_back(*ledger->completion(id).value());
  ledger.reset();

  auto reopened = openLedger(dir.path());
  EXPECT_EQ(snapshot(*reopened), before);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto c = reopened->completion(ids[i]).value();
    ASSERT_TRUE(c) << ids[i];
    EXPECT_EQ(c->update_id, outcomes[i].update_id);
    EXPECT_EQ(c->contract_id, outcomes[i].contract_id);
  }
  EXPECT_EQ(reopened->allocateParty("buyer").value(), buyer);
  EXPECT_TRUE(reopened->verifyIntegrity());
  // In-flight contracts stay in flight and the reassignment can complete after restart.
  bool any_in_flight = false;
  for (const auto& h : reopened->allHoldings()) any_in_flight |= h.in_flight;
  EXPECT_TRUE(any_in_flight);
  auto dup = reopened->submitOne("s1:settle", Settle{outcomes[0].contract_id});
  ASSERT_TRUE(dup);
  EXPECT_TRUE(dup->deduplicated);
  // New ids after reopen do not collide with old ones.
  auto fresh = reopened->submitOne(
      "s4:create", dvpCommand(buyer, reopened->allocateParty("seller").value(), "1", "1"));
  ASSERT_TRUE(fresh);
  EXPECT_GT(fresh->offset, before.ledger_end);
  EXPECT_FALSE(reopened->dvp(fresh->contract_id).value()->contract_id.empty());
}

TEST(LedgerDurability, ReopenTwiceGivesTheSameState) {
  TempDir dir;
  std::vector<std::string> ids;
  {
    auto l = openLedger(dir.path());
    ids = populate(*l);
  }
  TempDir copy;
  std::filesystem::copy(
      dir.path(), copy.path(),
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  auto a = openLedger(dir.path());
  auto b = openLedger(copy.path());
  expectSameState(*a, *b, ids);
}

TEST(LedgerDurability, GarbageTailIsTruncatedAndIgnored) {
  TempDir dir;
  std::vector<std::string> ids;
  Snapshot before;
  {
    auto l = openLedger(dir.path());
    ids = populate(*l);
    before = snapshot(*l);
  }
  const std::string path = dir.path() + "/journal.log";
  auto good_size = std::filesystem::file_size(path);
  {
    std::ofstream f(path, std::ios::app | std::ios::binary);
    f << "\x30\x00\x00\x00garbage-from-a-torn-write";
  }
  auto l = openLedger(dir.path());
  EXPECT_EQ(snapshot(*l), before);
  EXPECT_GT(l->stats().tail_bytes_truncated, 0u);
  EXPECT_EQ(std::filesystem::file_size(path), good_size);
  // Still writable after recovery, and the new record survives the next reopen.
  ASSERT_TRUE(l->submitOne("after", dvpCommand(l->allocateParty("buyer").value(),
                                               l->allocateParty("seller").value(), "1", "1")));
  l.reset();
  l = openLedger(dir.path());
  EXPECT_TRUE(l->completion("after").value());
  EXPECT_EQ(l->stats().tail_bytes_truncated, 0u);
}

TEST(LedgerDurability, RecordTornAtEveryByteRecoversThePrefix) {
  TempDir dir;
  Snapshot before_last;
  std::string buyer, seller;
  uintmax_t size_before = 0;
  {
    auto l = openLedger(dir.path());
    buyer = l->allocateParty("buyer").value();
    seller = l->allocateParty("seller").value();
    ASSERT_TRUE(l->credit(seller, "AAPL", D("100"), "securities"));
    before_last = snapshot(*l);
    size_before = std::filesystem::file_size(dir.path() + "/journal.log");
    ASSERT_TRUE(l->submitOne("last", dvpCommand(buyer, seller, "1", "1")));
  }
  const std::string path = dir.path() + "/journal.log";
  std::string full;
  {
    std::ifstream f(path, std::ios::binary);
    full.assign(std::istreambuf_iterator<char>(f), {});
  }
  for (size_t cut = size_before; cut < full.size(); ++cut) {
    TempDir torn;
    {
      std::ofstream f(torn.path() + "/journal.log", std::ios::binary);
      f.write(full.data(), static_cast<std::streamsize>(cut));
    }
    auto l = openLedger(torn.path());
    EXPECT_EQ(snapshot(*l), before_last) << "cut at " << cut;
    EXPECT_FALSE(l->completion("last").value());
  }
  // A flipped bit inside the last record is detected by the checksum.
  full[full.size() - 3] ^= 0x10;
  TempDir flipped;
  {
    std::ofstream f(flipped.path() + "/journal.log", std::ios::binary);
    f.write(full.data(), static_cast<std::streamsize>(full.size()));
  }
  auto l = openLedger(flipped.path());
  EXPECT_EQ(snapshot(*l), before_last);
}

TEST(LedgerDurability, SecondInstanceOnTheSameJournalIsRefused) {
  TempDir dir;
  auto first = openLedger(dir.path());
  auto second = EmbeddedLedger::open(options(dir.path()));
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("in use"), std::string::npos);
  first.reset();
  EXPECT_TRUE(EmbeddedLedger::open(options(dir.path())));
}

TEST(LedgerDurability, JournalReferencingAnUnknownSynchronizerFailsToOpen) {
  TempDir dir;
  {
    auto l = openLedger(dir.path());
    ASSERT_TRUE(l->credit(l->allocateParty("a").value(), "AAPL", D("1"), "cash"));
  }
  auto o = options(dir.path());
  o.synchronizers = {"securities", "settlement"};
  auto r = EmbeddedLedger::open(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cash"), std::string::npos);
}

// Child: opens the ledger and runs settlements forever, reporting each committed command's
// index through the pipe only after submit() returned (i.e. after fdatasync).
[[noreturn]] void childLoop(const std::string& dir, int fd) {
  auto opened = EmbeddedLedger::open(options(dir));
  if (!opened) _exit(2);
  auto& l = **opened;
  auto buyer = l.allocateParty("buyer").value();
  auto seller = l.allocateParty("seller").value();
  if (!l.credit(seller, "AAPL", D("1000000"), "securities")) _exit(3);
  if (!l.credit(buyer, "USDC", D("1000000"), "cash")) _exit(3);
  int32_t ready = -1;
  if (write(fd, &ready, sizeof ready) != sizeof ready) _exit(4);
  for (int32_t i = 0;; ++i) {
    std::string p = "k" + std::to_string(i);
    auto d = l.submitOne(p + ":create", dvpCommand(buyer, seller, "1", "2"));
    if (!d) _exit(5);
    std::vector<Submission> batch{{p + ":ls", LockSecurities{d->contract_id, D("1"), false}},
                                  {p + ":lc", LockCash{d->contract_id, D("2")}},
                                  {p + ":ra", ReassignLocks{d->contract_id}},
                                  {p + ":st", Settle{d->contract_id}}};
    for (auto& r : l.submit(batch)) {
      if (!r) _exit(6);
    }
    if (write(fd, &i, sizeof i) != sizeof i) _exit(4);
  }
}

// SIGKILL keeps the page cache, so this passes with durable=false too: it checks the replay of a
// process crash, not fdatasync. sync_failure_test.cpp's power-loss tests tell the two apart.
TEST(LedgerDurability, KillNineLosesNoReportedCommit) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    childLoop(dir.path(), fds[1]);
  }
  close(fds[1]);
  int32_t last = -2;
  const int32_t kTarget = 200;
  while (last < kTarget) {
    int32_t v;
    ssize_t n = read(fds[0], &v, sizeof v);
    ASSERT_EQ(n, static_cast<ssize_t>(sizeof v)) << "child died early";
    last = v;
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto l = openLedger(dir.path());
  for (int32_t i = 0; i <= last; ++i) {
    std::string p = "k" + std::to_string(i);
    for (const char* step : {":create", ":ls", ":lc", ":ra", ":st"}) {
      ASSERT_TRUE(l->completion(p + step).value()) << p << step;
    }
  }
  EXPECT_EQ(total(*l, "AAPL"), D("1000000"));
  EXPECT_EQ(total(*l, "USDC"), D("1000000"));
  auto buyer = l->allocateParty("buyer").value();
  EXPECT_GE(freeOf(*l, buyer, "AAPL"), Decimal::fromInteger(last + 1).value());
  EXPECT_TRUE(l->verifyIntegrity());
}

}  // namespace
}  // namespace sc::test

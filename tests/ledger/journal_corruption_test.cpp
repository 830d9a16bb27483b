// Journal corruption (issue 8, defect 3): only a torn final record is truncated; corruption
// anywhere else refuses the open, names file and offset and leaves the file byte-for-byte
// unchanged; ids stay unique after an operator's truncation; an oversized record is refused at
// write time; the sc-ledger-journal tool verifies and truncates.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <set>

#include "ledger/engine/embedded_ledger.h"
#include "ledger/engine/journal.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

// A few settlements, so the journal holds records of every kind.
void populate(EmbeddedLedger& l) {
  auto buyer = l.allocateParty("buyer").value();
  auto seller = l.allocateParty("seller").value();
  ASSERT_TRUE(l.credit(seller, "AAPL", D("100"), "securities"));
  ASSERT_TRUE(l.credit(buyer, "USDC", D("20000"), "cash"));
  for (int i = 0; i < 3; ++i) {
    const std::string p = "s" + std::to_string(i);
    auto d = l.submitOne(p + ":create", dvpCommand(buyer, seller, "10", "1000")).value();
    ASSERT_TRUE(l.submitOne(p + ":ls", LockSecurities{d.contract_id, D("10"), false}));
    ASSERT_TRUE(l.submitOne(p + ":lc", LockCash{d.contract_id, D("1000")}));
    ASSERT_TRUE(l.submitOne(p + ":ra", ReassignLocks{d.contract_id}));
    ASSERT_TRUE(l.submitOne(p + ":st", Settle{d.contract_id}));
  }
}

// Start offsets of the journal's records.
std::vector<uint64_t> recordStarts(const std::string& path) {
  std::vector<uint64_t> starts;
  auto rep = journal::scanFile(path, [&](journal::Record&&, uint64_t at) -> Result<void> {
    starts.push_back(at);
    return {};
  });
  EXPECT_TRUE(rep);
  EXPECT_EQ(rep->tail, journal::ScanReport::Tail::kClean);
  return starts;
}

// The update ids and contract ids the commands' completions name.
std::set<std::string> completionIds(EmbeddedLedger& l, const std::vector<std::string>& commands) {
  std::set<std::string> ids;
  for (const auto& c : commands) {
    auto o = l.completion(c).value();
    if (!o) continue;
    for (const auto* id : {&o->update_id, &o->contract_id, &o->buyer_securities_contract_id,
                           &o->seller_cash_contract_id, &o->remainder_dvp_contract_id}) {
      if (!id->empty()) ids.insert(*id);
    }
  }
  return ids;
}

std::vector<std::string> populatedCommands() {
  std::vector<std::string> out;
  for (int i = 0; i < 3; ++i) {
    for (const char* s : {":create", ":ls", ":lc", ":ra", ":st"}) {
      out.push_back("s" + std::to_string(i) + s);
    }
  }
  return out;
}

// A closed data folder whose journal holds the populate() history.
struct PopulatedJournal {
  TempDir dir;
  std::string path;
  std::string bytes;             // the journal as written
  std::vector<uint64_t> starts;  // offsets of its records
};
std::unique_ptr<PopulatedJournal> populatedJournal() {
  auto j = std::make_unique<PopulatedJournal>();
  {
    auto l = openLedger(j->dir.path());
    populate(*l);
  }
  j->path = j->dir.path() + "/journal.log";
  j->bytes = readBytes(j->path);
  j->starts = recordStarts(j->path);
  return j;
}

TEST(LedgerJournalCorruption, AnyByteFlippedInAMiddleRecordRefusesTheOpenAndChangesNothing) {
  auto j = populatedJournal();
  const auto& dir = j->dir;
  const std::string& path = j->path;
  std::string good = j->bytes;
  const auto& starts = j->starts;
  ASSERT_GT(starts.size(), 6u);
  const uint64_t start = starts[starts.size() / 2];
  const uint64_t end = starts[starts.size() / 2 + 1];
  for (uint64_t at = start; at < end; ++at) {
    std::string bad = good;
    bad[at] ^= 0x01;
    writeBytes(path, bad);
    auto r = EmbeddedLedger::open(options(dir.path()));
    ASSERT_FALSE(r) << "flip at " << at << " was not detected";
    EXPECT_EQ(r.error().code, journal::kJournalCorrupt) << at;
    EXPECT_FALSE(r.error().retryable);
    EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("byte offset " + std::to_string(start) + ":"),
              std::string::npos)
        << "flip at " << at << ": " << r.error().message;
    ASSERT_EQ(readBytes(path), bad) << "the journal was changed after a flip at " << at;
  }
  // A bit flipped in the LAST record's payload is a torn final write: truncated, as before.
  writeBytes(path, good);
  auto l = openLedger(dir.path());
  EXPECT_EQ(l->stats().records_replayed, starts.size());
}

TEST(LedgerJournalCorruption, ValidRecordsAfterATornLookingRecordMakeItCorruption) {
  // A length field that runs past the end of the file looks like a torn final record, unless a
  // valid record follows it: then it was a middle record and nothing may be truncated.
  auto j = populatedJournal();
  const auto& dir = j->dir;
  const std::string& path = j->path;
  std::string bytes = j->bytes;
  const auto& starts = j->starts;
  const uint64_t victim = starts[2];
  bytes[victim + 3] = static_cast<char>(0x03);  // length ~50 MiB, past the end
  writeBytes(path, bytes);
  auto r = EmbeddedLedger::open(options(dir.path()));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("byte offset " + std::to_string(victim)), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("valid record follows at offset " + std::to_string(starts[3])),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(readBytes(path), bytes);
}

TEST(LedgerJournalCorruption, AZeroFilledTailIsTornAndZerosBeforeValidRecordsAreCorruption) {
  // A power loss can leave the file longer than what reached the disk, the rest reading as
  // zeros: that tail is truncated. Zeros with valid records after them are not a tail.
  auto j = populatedJournal();
  std::string tail = j->bytes + std::string(4096, '\0');
  writeBytes(j->path, tail);
  {
    auto l = openLedger(j->dir.path());
    EXPECT_EQ(l->stats().records_replayed, j->starts.size());
    EXPECT_EQ(l->stats().tail_bytes_truncated, 4096u);
  }
  EXPECT_EQ(readBytes(j->path), j->bytes);
  std::string holed = j->bytes;
  const uint64_t at = j->starts[4];
  std::fill(holed.begin() + static_cast<std::ptrdiff_t>(at),
            holed.begin() + static_cast<std::ptrdiff_t>(j->starts[5]), '\0');
  writeBytes(j->path, holed);
  auto r = EmbeddedLedger::open(options(j->dir.path()));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("byte offset " + std::to_string(at) + ": bad record length 0"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(readBytes(j->path), holed);
}

TEST(LedgerJournalCorruption, IdsStayUniqueAfterAnOperatorTruncation) {
  TempDir dir;
  std::set<std::string> before;
  uint32_t epoch_before = 0;
  {
    auto l = openLedger(dir.path());
    populate(*l);
    before = completionIds(*l, populatedCommands());
    for (const auto& h : l->allHoldings()) before.insert(h.contract_id);
    epoch_before = l->stats().epoch;
  }
  const std::string path = dir.path() + "/journal.log";
  auto starts = recordStarts(path);
  // Drop the second half of the history: its offsets will be used again.
  auto cut = journal::truncateAt(path, starts[starts.size() / 2]);
  ASSERT_TRUE(cut) << cut.error().message;
  EXPECT_GT(*cut, 0u);

  auto l = openLedger(dir.path());
  EXPECT_GT(l->stats().epoch, epoch_before);
  // Run the same workload again: the same offsets, contract positions and command shapes.
  std::vector<std::string> again;
  auto buyer = l->allocateParty("buyer").value();
  auto seller = l->allocateParty("seller").value();
  ASSERT_TRUE(l->credit(seller, "AAPL", D("100"), "securities"));
  ASSERT_TRUE(l->credit(buyer, "USDC", D("20000"), "cash"));
  for (int i = 0; i < 3; ++i) {
    const std::string p = "again" + std::to_string(i);
    auto d = l->submitOne(p + ":create", dvpCommand(buyer, seller, "10", "1000")).value();
    ASSERT_TRUE(l->submitOne(p + ":ls", LockSecurities{d.contract_id, D("10"), false}));
    ASSERT_TRUE(l->submitOne(p + ":lc", LockCash{d.contract_id, D("1000")}));
    ASSERT_TRUE(l->submitOne(p + ":ra", ReassignLocks{d.contract_id}));
    ASSERT_TRUE(l->submitOne(p + ":st", Settle{d.contract_id}));
    for (const char* s : {":create", ":ls", ":lc", ":ra", ":st"}) again.push_back(p + s);
  }
  // Every id these new transactions handed out is new: none was used before the truncation
  // (without the epoch, the reused offsets gave the same update and contract ids).
  auto after = completionIds(*l, again);
  ASSERT_GT(after.size(), 20u);
  for (const auto& id : after) EXPECT_FALSE(before.count(id)) << "id " << id << " reused";
}

TEST(LedgerJournalCorruption, ARecordOverTheSizeLimitIsRefusedAndNothingIsWritten) {
  TempDir dir;
  auto o = options(dir.path());
  o.max_record_bytes = 1000;
  auto opened = EmbeddedLedger::open(o);
  ASSERT_TRUE(opened) << opened.error().message;
  auto& l = **opened;
  auto buyer = l.allocateParty("buyer").value();
  auto seller = l.allocateParty("seller").value();
  const std::string path = dir.path() + "/journal.log";
  const std::string journal_before = readBytes(path);
  const auto snap = snapshot(l);
  const std::string big_id(1200, 'x');
  auto r = l.submitOne(big_id, dvpCommand(buyer, seller, "1", "1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kInvalidCommand);
  EXPECT_FALSE(r.error().retryable);
  EXPECT_NE(r.error().message.find("over the journal limit of 1000"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(readBytes(path), journal_before);
  EXPECT_EQ(snapshot(l), snap);
  EXPECT_FALSE(l.completion(big_id).value());
  // The ledger carries on: a normal command commits and survives a reopen.
  ASSERT_TRUE(l.submitOne("small", dvpCommand(buyer, seller, "1", "1")));
  opened->reset();
  auto again = openLedger(dir.path());
  EXPECT_TRUE(again->completion("small").value());
  EXPECT_FALSE(again->completion(big_id).value());
}

TEST(LedgerJournalCorruption, AMaxRecordBytesOutsideTheFormatLimitIsRefused) {
  for (size_t bad : {size_t{0}, size_t{journal::kMaxRecordBytes} + 1}) {
    auto o = options("");
    o.max_record_bytes = bad;
    auto r = EmbeddedLedger::open(o);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("max_record_bytes"), std::string::npos);
  }
}

TEST(LedgerJournalCorruption, TheEpochGrowsAtEveryOpen) {
  TempDir dir;
  uint32_t last = 0;
  for (int i = 0; i < 3; ++i) {
    auto l = openLedger(dir.path());
    EXPECT_GT(l->stats().epoch, last);
    last = l->stats().epoch;
  }
  writeBytes(dir.path() + "/ledger.epoch", "not a number\n");
  auto r = EmbeddedLedger::open(options(dir.path()));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("ledger.epoch"), std::string::npos) << r.error().message;
}

// ---- the data folder lock ----

TEST(LedgerDataDirLock, ASecondOpenInTheSameProcessIsRefusedNamingTheFolder) {
  TempDir dir;
  auto first = openLedger(dir.path());
  auto second = EmbeddedLedger::open(options(dir.path()));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, journal::kDataDirInUse);
  EXPECT_NE(second.error().message.find("ledger data folder " + dir.path() + " is in use"),
            std::string::npos)
      << second.error().message;
  first.reset();
  EXPECT_TRUE(EmbeddedLedger::open(options(dir.path())));
}

TEST(LedgerDataDirLock, ASecondProcessOnTheSameFolderIsRefused) {
  TempDir dir;
  auto first = openLedger(dir.path());
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto r = EmbeddedLedger::open(options(dir.path()));
    std::string msg = r ? "opened" : r.error().code + ": " + r.error().message;
    if (write(fds[1], msg.data(), msg.size()) < 0) _exit(3);
    _exit(r ? 0 : 1);
  }
  close(fds[1]);
  std::string msg;
  std::array<char, 512> buf{};
  for (ssize_t n; (n = read(fds[0], buf.data(), buf.size())) > 0;) msg.append(buf.data(), n);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << msg;
  EXPECT_NE(msg.find(journal::kDataDirInUse), std::string::npos) << msg;
  EXPECT_NE(msg.find(dir.path()), std::string::npos) << msg;
}

// ---- sc-ledger-journal ----

struct ToolRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

ToolRun runTool(const std::string& args) {
  ToolRun r;
  const std::string cmd = std::string(SC_LEDGER_JOURNAL_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 512> buf{};
  for (size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(LedgerJournalTool, VerifyReportsRecordsAndTheFirstProblemWithItsOffset) {
  auto j = populatedJournal();
  const auto& dir = j->dir;
  const std::string& path = j->path;
  std::string good = j->bytes;
  const auto& starts = j->starts;
  auto clean = runTool("verify " + dir.path());
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_NE(clean.output.find("records: " + std::to_string(starts.size()) + "\n"),
            std::string::npos)
      << clean.output;
  EXPECT_NE(clean.output.find("last good offset: " + std::to_string(good.size()) + "\n"),
            std::string::npos)
      << clean.output;
  EXPECT_NE(clean.output.find("status: ok"), std::string::npos) << clean.output;

  std::string bad = good;
  const uint64_t victim = starts[5];
  bad[victim + 12] ^= 0x40;
  writeBytes(path, bad);
  auto corrupt = runTool("verify " + path);
  EXPECT_EQ(corrupt.exit_code, 1) << corrupt.output;
  EXPECT_NE(corrupt.output.find("records: 5\n"), std::string::npos) << corrupt.output;
  EXPECT_NE(corrupt.output.find("corrupt at offset " + std::to_string(victim) + ": checksum"),
            std::string::npos)
      << corrupt.output;
  EXPECT_EQ(readBytes(path), bad);

  // A torn final record is reported, but the ledger would open: exit 0.
  writeBytes(path, good.substr(0, good.size() - 5));
  auto torn = runTool("verify " + path);
  EXPECT_EQ(torn.exit_code, 0) << torn.output;
  EXPECT_NE(torn.output.find("torn final record at offset " + std::to_string(starts.back())),
            std::string::npos)
      << torn.output;

  auto usage = runTool("verify");
  EXPECT_EQ(usage.exit_code, 2);
  auto missing = runTool("verify " + dir.path() + "/nope.log");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}

TEST(LedgerJournalTool, TruncateCutsAtARecordBoundaryOnlyAndNotWhileALedgerRuns) {
  auto j = populatedJournal();
  const auto& dir = j->dir;
  const std::string& path = j->path;
  std::string bytes = j->bytes;
  const auto& starts = j->starts;
  const uint64_t victim = starts[7];
  bytes[victim + 9] ^= 0x01;
  writeBytes(path, bytes);
  ASSERT_FALSE(EmbeddedLedger::open(options(dir.path())));

  // Not a record start: refused, nothing changed.
  auto mid = runTool("truncate --at " + std::to_string(victim - 3) + " " + path);
  EXPECT_EQ(mid.exit_code, 1) << mid.output;
  EXPECT_NE(mid.output.find("not the start of a valid record"), std::string::npos) << mid.output;
  // Past the corruption: the scan cannot vouch for record boundaries there.
  auto past = runTool("truncate --at " + std::to_string(starts[9]) + " " + path);
  EXPECT_EQ(past.exit_code, 1) << past.output;
  auto junk = runTool("truncate --at 12x " + path);
  EXPECT_EQ(junk.exit_code, 2) << junk.output;
  EXPECT_EQ(readBytes(path), bytes);

  // While a ledger holds the folder: refused.
  {
    TempDir other;
    auto running = openLedger(other.path());
    auto busy = runTool("truncate --at 0 " + other.path());
    EXPECT_EQ(busy.exit_code, 1) << busy.output;
    EXPECT_NE(busy.output.find("in use"), std::string::npos) << busy.output;
  }

  auto cut = runTool("truncate --at " + std::to_string(victim) + " " + dir.path());
  EXPECT_EQ(cut.exit_code, 0) << cut.output;
  EXPECT_NE(cut.output.find(std::to_string(bytes.size() - victim) + " bytes removed"),
            std::string::npos)
      << cut.output;
  EXPECT_EQ(readBytes(path), bytes.substr(0, victim));
  EXPECT_EQ(runTool("verify " + path).exit_code, 0);
  auto l = openLedger(dir.path());
  EXPECT_EQ(l->stats().records_replayed, 7u);
  EXPECT_TRUE(l->verifyIntegrity());
}

}  // namespace
}  // namespace sc::test

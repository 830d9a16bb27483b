// The journal's format versions: a journal written by the previous version (1: DECIMAL(18,8)
// amounts as 8-byte counts of 10^-8 units) replays, converted exactly, and new records of version
// 2 (Numeric 10 amounts, 16 bytes of 10^-10 units) follow it; an unknown version is refused with
// a message naming it. The version-1 journal is written here by an encoder of the old layout
// (the encoder of journal.cpp at commit f01ee6c, field for field), from a real ledger history.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "ledger/engine/journal.h"
#include "ledger_test_util.h"

namespace sc::test {
namespace {

using namespace sc::ledger;

using journal::Record;

// ---- the version-1 encoding (little endian; strings as u32 length + bytes) ----
struct V1Writer {
  std::string& out;
  void u8(uint8_t v) { out.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out.append(s);
  }

  // Version 1 could only hold DECIMAL(18,8) amounts: `units` must be a multiple of 100.
  void op(const journal::Op& any) {
    if (auto* o = std::get_if<journal::GenesisOp>(&any)) {
      u8(1);
      u64(o->salt);
    } else if (auto* o = std::get_if<journal::PartyOp>(&any)) {
      u8(2);
      str(o->hint);
      str(o->party_id);
    } else if (auto* o = std::get_if<journal::CreateHoldingOp>(&any)) {
      EXPECT_TRUE(o->units % 100 == 0) << "not a version-1 amount";
      u8(3);
      str(o->contract_id);
      str(o->owner);
      str(o->asset);
      i64(static_cast<int64_t>(o->units / 100));
      str(o->synchronizer);
      str(o->lock_dvp);
      u8(static_cast<uint8_t>(o->lock_kind));
    } else if (auto* o = std::get_if<journal::CreateDvpOp>(&any)) {
      u8(4);
      for (const auto* s : {&o->contract_id, &o->buyer, &o->seller, &o->issuer, &o->provider,
                            &o->security, &o->cash_asset})
        str(*s);
      i64(o->quantity_units);
      i64(o->amount_units);
      u32(static_cast<uint32_t>(o->settlement_date_days));
      str(o->synchronizer);
    } else if (auto* o = std::get_if<journal::ArchiveOp>(&any)) {
      u8(5);
      str(o->contract_id);
      u8(o->dvp ? 1 : 0);
    } else if (auto* o = std::get_if<journal::UnassignOp>(&any)) {
      u8(6);
      str(o->contract_id);
      str(o->target);
    } else if (auto* o = std::get_if<journal::AssignOp>(&any)) {
      u8(7);
      str(o->contract_id);
      str(o->target);
    } else {
      u8(8);  // FenceOp
    }
  }

  void record(const Record& r, uint8_t version = 1) {
    u8(version);
    i64(r.offset);
    str(r.update_id);
    i64(r.recorded_at_us);
    str(r.command_id);
    u32(static_cast<uint32_t>(r.ops.size()));
    for (const auto& o : r.ops) op(o);
    u8(r.completion ? 1 : 0);
    if (r.completion) {
      const Outcome& o = *r.completion;
      str(o.update_id);
      i64(o.offset);
      str(o.contract_id);
      str(o.synchronizer);
      i64(o.quantity.units());
      i64(o.amount.units());
      str(o.buyer_securities_contract_id);
      str(o.seller_cash_contract_id);
      str(o.remainder_dvp_contract_id);
    }
  }
};

void frame(std::string_view payload, std::string& out) {
  V1Writer w{out};
  w.u32(static_cast<uint32_t>(payload.size()));
  w.u32(journal::crc32(payload.data(), payload.size()));
  out.append(payload);
}

// Rewrites every record of `from`'s journal in version 1 into `to`/journal.log.
void writeV1Copy(const std::string& from, const std::string& to, uint8_t version = 1) {
  std::string bytes;
  auto rep = journal::scanFile(from + "/journal.log", [&](Record&& r, uint64_t) -> Result<void> {
    std::string payload;
    V1Writer{payload}.record(r, version);
    frame(payload, bytes);
    return {};
  });
  ASSERT_TRUE(rep) << rep.error().message;
  ASSERT_GT(rep->records, 3u);
  std::filesystem::create_directories(to);
  writeBytes(to + "/journal.log", bytes);
}

// A history with credits, a full and a partial settlement (a remainder DvP), on the old scale.
struct History {
  std::string alice, bob;
};
History makeHistory(EmbeddedLedger& l) {
  History h{l.allocateParty("alice").value(), l.allocateParty("bob").value()};
  EXPECT_TRUE(l.credit(h.alice, "AAPL", D("100.5"), "securities"));
  EXPECT_TRUE(l.credit(h.bob, "USDC", D("1000000.12345678"), "cash"));
  auto full = l.submit(
      std::vector<Submission>{{"s1:create:1", dvpCommand(h.bob, h.alice, "10", "1500.25")}});
  const std::string dvp = full[0].value().contract_id;
  std::vector<Submission> steps{{"s1:sec:1", LockSecurities{dvp, D("10")}},
                                {"s1:cash:1", LockCash{dvp, D("1500.25")}},
                                {"s1:reassign:1", ReassignLocks{dvp}},
                                {"s1:settle:1", Settle{dvp}}};
  for (auto& r : l.submit(steps)) EXPECT_TRUE(r) << r.error().message;
  auto part = l.submit(
      std::vector<Submission>{{"s2:create:1", dvpCommand(h.bob, h.alice, "200", "3.00000001")}});
  const std::string dvp2 = part[0].value().contract_id;
  std::vector<Submission> partial{{"s2:sec:1", LockSecurities{dvp2, D("200"), true}},
                                  {"s2:cash:1", LockCash{dvp2, D("3.00000001")}},
                                  {"s2:reassign:1", ReassignLocks{dvp2}},
                                  {"s2:settle:1", Settle{dvp2}}};
  for (auto& r : l.submit(partial)) EXPECT_TRUE(r) << r.error().message;
  return h;
}

TEST(JournalVersions, AVersionOneJournalReplaysConvertedExactly) {
  TempDir dir;
  const std::string v2 = dir.path() + "/v2", v1 = dir.path() + "/v1";
  Snapshot before;
  History h;
  {
    auto l = openLedger(v2);
    h = makeHistory(*l);
    before = snapshot(*l);
  }
  writeV1Copy(v2, v1);
  ASSERT_NO_FATAL_FAILURE();
  auto l = openLedger(v1);
  EXPECT_EQ(snapshot(*l), before);
  EXPECT_TRUE(l->verifyIntegrity());
  // The figures: a partial settlement of 90.5 of 200 for 3.00000001 pays 1.35750000 (half-even).
  EXPECT_EQ(freeOf(*l, h.alice, "AAPL"), D("0"));
  EXPECT_EQ(freeOf(*l, h.alice, "USDC"), D("1501.6075"));
  EXPECT_EQ(total(*l, "USDC"), D("1000000.12345678"));
  EXPECT_EQ(total(*l, "AAPL"), D("100.5"));
  EXPECT_EQ(l->completion("s2:settle:1").value()->amount, D("1.3575"));
}

TEST(JournalVersions, VersionTwoRecordsFollowAVersionOneJournal) {
  TempDir dir;
  const std::string v2 = dir.path() + "/v2", v1 = dir.path() + "/v1";
  History h;
  {
    auto l = openLedger(v2);
    h = makeHistory(*l);
  }
  writeV1Copy(v2, v1);
  ASSERT_NO_FATAL_FAILURE();
  const auto ten_decimals = LedgerAmount::parse("12345678901234567890.0000000001").value();
  Snapshot after;
  {
    auto l = openLedger(v1);
    ASSERT_TRUE(l->credit(h.bob, "USDC", ten_decimals, "cash"));
    after = snapshot(*l);
  }
  // The file now holds records of both versions; a reopen replays both.
  uint8_t last_version = 0;
  std::set<uint8_t> versions;
  const std::string bytes = readBytes(v1 + "/journal.log");
  for (size_t pos = 0; pos + 8 < bytes.size();) {
    uint32_t len = 0;
    for (int i = 0; i < 4; ++i) len |= uint32_t(static_cast<uint8_t>(bytes[pos + i])) << (8 * i);
    last_version = static_cast<uint8_t>(bytes[pos + 8]);
    versions.insert(last_version);
    pos += 8 + len;
  }
  EXPECT_EQ(versions, (std::set<uint8_t>{journal::kFormatV1, journal::kFormatVersion}));
  EXPECT_EQ(last_version, journal::kFormatVersion);
  auto l = openLedger(v1);
  EXPECT_EQ(snapshot(*l), after);
  EXPECT_EQ(total(*l, "USDC"), ten_decimals.add(LedgerAmount(D("1000000.12345678"))).value());
}

TEST(JournalVersions, AnUnknownVersionIsRefusedByName) {
  TempDir dir;
  const std::string v2 = dir.path() + "/v2", v9 = dir.path() + "/v9";
  {
    auto l = openLedger(v2);
    makeHistory(*l);
  }
  writeV1Copy(v2, v9, /*version=*/9);
  ASSERT_NO_FATAL_FAILURE();
  const std::string bytes = readBytes(v9 + "/journal.log");
  auto l = EmbeddedLedger::open(options(v9));
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, journal::kJournalCorrupt);
  EXPECT_NE(l.error().message.find("record format version 9 is not one this build reads"),
            std::string::npos)
      << l.error().message;
  EXPECT_NE(l.error().message.find("byte offset 0"), std::string::npos) << l.error().message;
  EXPECT_EQ(readBytes(v9 + "/journal.log"), bytes);  // left unchanged
}

TEST(JournalVersions, ADvpFigureOutsideDecimal18_8IsRefusedAtOpen) {
  // A record with a valid checksum whose DvP quantity is not a trade figure (a buggy writer, a
  // crafted file): the ledger does not open on it, rather than fail later when it shows the DvP.
  TempDir dir;
  const std::string good = dir.path() + "/good", bad = dir.path() + "/bad";
  {
    auto l = openLedger(good);
    makeHistory(*l);
  }
  std::string bytes;
  bool mutated = false;
  auto rep = journal::scanFile(good + "/journal.log", [&](Record&& r, uint64_t) -> Result<void> {
    for (auto& op : r.ops) {
      if (auto* d = std::get_if<journal::CreateDvpOp>(&op); d && !mutated) {
        d->quantity_units = 0;
        mutated = true;
      }
    }
    journal::encode(r, bytes);
    return {};
  });
  ASSERT_TRUE(rep) << rep.error().message;
  ASSERT_TRUE(mutated);
  std::filesystem::create_directories(bad);
  writeBytes(bad + "/journal.log", bytes);
  auto l = EmbeddedLedger::open(options(bad));
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().message.find("outside positive DECIMAL(18,8)"), std::string::npos)
      << l.error().message;
  EXPECT_EQ(readBytes(bad + "/journal.log"), bytes);  // left unchanged
}

}  // namespace
}  // namespace sc::test

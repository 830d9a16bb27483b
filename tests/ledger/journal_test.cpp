// The journal's framing, checksum and record encoding.
#include "ledger/engine/journal.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace sc::test {
namespace {

using namespace sc::ledger;
using namespace sc::ledger::journal;

Record sampleRecord() {
  Record r;
  r.offset = 42;
  r.update_id = "1220abc";
  r.recorded_at_us = 1'731'860'000'000'000;
  r.command_id = "set_1:settle:1";
  r.ops.push_back(GenesisOp{7});
  r.ops.push_back(PartyOp{"alice", "alice::1220ff"});
  r.ops.push_back(CreateHoldingOp{"00a", "alice::1220ff", "AAPL", 5'000'000'000, "securities",
                                  "00dvp", LockKind::kSecurities});
  CreateDvpOp d;
  d.contract_id = "00dvp";
  d.buyer = "b";
  d.seller = "s";
  d.quantity_units = 1;
  d.amount_units = 2;
  d.settlement_date_days = 20046;
  d.synchronizer = "settlement";
  r.ops.push_back(d);
  r.ops.push_back(ArchiveOp{"00a", false});
  r.ops.push_back(UnassignOp{"00b", "settlement"});
  r.ops.push_back(AssignOp{"00b", "settlement"});
  Outcome o;
  o.update_id = "1220abc";
  o.offset = 42;
  o.contract_id = "00dvp";
  o.quantity = Decimal::fromUnits(123);
  o.amount = Decimal::fromUnits(-5);
  o.remainder_dvp_contract_id = "00rem";
  r.completion = o;
  return r;
}

TEST(JournalCrc32, MatchesTheStandardCheckValue) { EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u); }

TEST(JournalEncoding, RoundTripsEveryOpAndTheCompletion) {
  std::string buf;
  encode(sampleRecord(), buf);
  ASSERT_GT(buf.size(), 8u);
  auto r = decode(std::string_view(buf).substr(8));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->offset, 42);
  EXPECT_EQ(r->command_id, "set_1:settle:1");
  ASSERT_EQ(r->ops.size(), 7u);
  auto& h = std::get<CreateHoldingOp>(r->ops[2]);
  EXPECT_TRUE(h.units == 5'000'000'000);
  EXPECT_EQ(h.lock_kind, LockKind::kSecurities);
  EXPECT_EQ(std::get<CreateDvpOp>(r->ops[3]).settlement_date_days, 20046);
  ASSERT_TRUE(r->completion);
  EXPECT_EQ(r->completion->amount, Decimal::fromUnits(-5));
  EXPECT_EQ(r->completion->remainder_dvp_contract_id, "00rem");
}

TEST(JournalEncoding, RejectsTruncatedOrExtendedPayloads) {
  std::string buf;
  encode(sampleRecord(), buf);
  std::string_view payload = std::string_view(buf).substr(8);
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    EXPECT_FALSE(decode(payload.substr(0, cut))) << cut;
  }
  std::string longer(payload);
  longer.push_back('x');
  EXPECT_FALSE(decode(longer));
}

// Found by tests/fuzz/journal_fuzz: an outcome's quantity and amount were taken as any 8-byte count
// (Decimal::fromUnits does not check), so a checksum-valid record could complete a command with a
// figure no DECIMAL(18,8) holds.
TEST(JournalEncoding, RefusesOutcomeFiguresOutsideDecimal18_8) {
  for (int64_t units : {Decimal::kMaxUnits + 1, -Decimal::kMaxUnits - 1, INT64_MIN, INT64_MAX}) {
    for (bool quantity : {true, false}) {
      Record r = sampleRecord();
      (quantity ? r.completion->quantity : r.completion->amount) = Decimal::fromUnits(units);
      std::string buf;
      encode(r, buf);
      EXPECT_FALSE(decode(std::string_view(buf).substr(8))) << units << " " << quantity;
    }
  }
  Record edge = sampleRecord();
  edge.completion->quantity = Decimal::fromUnits(Decimal::kMaxUnits);
  edge.completion->amount = Decimal::fromUnits(-Decimal::kMaxUnits);
  std::string buf;
  encode(edge, buf);
  auto r = decode(std::string_view(buf).substr(8));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->completion->quantity, Decimal::fromUnits(Decimal::kMaxUnits));
}

// Found writing tests/fuzz/journal_fuzz (one encoding per record): any non-zero byte was read as
// "the archived contract is a DvP", so one record had 255 encodings; the other flags (lock kind,
// completion) already allow only one.
TEST(JournalEncoding, RefusesAnArchiveFlagOtherThanZeroOrOne) {
  Record r;
  r.ops.push_back(ArchiveOp{"00a", true});
  std::string buf;
  encode(r, buf);
  std::string payload = buf.substr(8);
  // The flag is the op's last byte, just before the (absent) completion's flag.
  ASSERT_EQ(payload[payload.size() - 2], 1);
  ASSERT_TRUE(decode(payload));
  payload[payload.size() - 2] = 2;
  EXPECT_FALSE(decode(payload));
}

}  // namespace
}  // namespace sc::test

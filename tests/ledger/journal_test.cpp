// The journal's framing, checksum and record encoding.
#include "ledger/engine/journal.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sc::test

// Writes the seed corpus of journal_fuzz: record payloads (the frame's 8-byte header left off) made
// by journal::encode for every kind of operation and a completion, and version-1 payloads as the
// previous format wrote them. Usage: journal_seeds <folder>
#include <cstdio>
#include <fstream>
#include <string>

#include "ledger/engine/journal.h"

namespace {

using namespace sc::ledger;
using namespace sc::ledger::journal;

std::string payloadOf(const Record& r) {
  std::string framed;
  encode(r, framed);
  return framed.substr(8);
}

void put(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

Record txn(int64_t offset, std::string command, std::vector<Op> ops) {
  Record r;
  r.offset = offset;
  r.update_id = "upd-" + std::to_string(offset);
  r.recorded_at_us = 1'731'860'000'000'000 + offset;
  r.command_id = std::move(command);
  r.ops = std::move(ops);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: journal_seeds <folder>\n");
    return 2;
  }
  const std::string dir = argv[1];
  const CreateHoldingOp free_cash{"h-1",          "alice::1220",
                                  "USD",          150'000'000'000'000,  // 15000.00
                                  "sync-a",       "",
                                  LockKind::kNone};
  const CreateHoldingOp locked_sec{
      "h-2", "bob::1220", "AAPL", 1'000'000'000'001, "sync-a", "dvp-1", LockKind::kSecurities};
  const CreateDvpOp dvp{"dvp-1",           "alice::1220", "bob::1220", "issuer::1220",
                        "cash::1220",      "AAPL",        "USD",       10'000'000'000,
                        1'500'000'000'000, 20'046,        "sync-a"};

  Record genesis;
  genesis.ops = {GenesisOp{0x5eed5eed5eedULL}};
  put(dir, "genesis", payloadOf(genesis));
  Record party;
  party.ops = {PartyOp{"alice", "alice::1220"}};
  put(dir, "party", payloadOf(party));
  put(dir, "credit_holding", payloadOf(txn(1, "credit-1", {free_cash})));
  put(dir, "create_dvp", payloadOf(txn(2, "dvp-cmd-1", {dvp})));

  Record lock = txn(3, "lock-sec-1", {ArchiveOp{"h-9", false}, locked_sec});
  Outcome locked;
  locked.update_id = "upd-3";
  locked.offset = 3;
  locked.contract_id = "h-2";
  locked.synchronizer = "sync-a";
  locked.quantity = sc::Decimal::fromUnits(10'000'000'000);
  lock.completion = locked;
  put(dir, "lock_with_completion", payloadOf(lock));

  Record settle = txn(4, "settle-1",
                      {ArchiveOp{"dvp-1", true}, ArchiveOp{"h-2", false}, ArchiveOp{"h-1", false},
                       CreateHoldingOp{"h-3", "alice::1220", "AAPL", 1'000'000'000'001, "sync-a",
                                       "", LockKind::kNone},
                       CreateHoldingOp{"h-4", "bob::1220", "USD", 150'000'000'000'000, "sync-a", "",
                                       LockKind::kNone}});
  Outcome settled;
  settled.update_id = "upd-4";
  settled.offset = 4;
  settled.quantity = sc::Decimal::fromUnits(10'000'000'000);
  settled.amount = sc::Decimal::fromUnits(-sc::Decimal::kMaxUnits);
  settled.buyer_securities_contract_id = "h-3";
  settled.seller_cash_contract_id = "h-4";
  settled.remainder_dvp_contract_id = "dvp-2";
  settle.completion = settled;
  put(dir, "settle_with_remainder", payloadOf(settle));

  put(dir, "reassign",
      payloadOf(txn(5, "move-1", {UnassignOp{"h-3", "sync-b"}, AssignOp{"h-3", "sync-b"}})));
  Record fence;
  fence.command_id = "fenced-cmd";
  fence.ops = {FenceOp{}};
  put(dir, "fence", payloadOf(fence));
  Record completion_only;
  completion_only.command_id = "credit-1";
  completion_only.completion = Outcome{};
  completion_only.completion->update_id = "upd-1";
  put(dir, "completion_only", payloadOf(completion_only));

  // Version 1: the same layout, with 8-byte amounts of 10^-8 units in CreateHoldingOp.
  std::string v1 = payloadOf(txn(2, "dvp-cmd-1", {dvp}));
  v1[0] = static_cast<char>(kFormatV1);
  put(dir, "v1_create_dvp", v1);
  Record v1_credit = txn(1, "credit-1", {});  // a holding op appended by hand below
  std::string h = payloadOf(v1_credit);
  h[0] = static_cast<char>(kFormatV1);
  h.resize(h.size() - 5);  // drop the op count (0) and the completion flag
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  auto str = [&](const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    h += s;
  };
  u32(1);
  h.push_back(3);  // CreateHoldingOp
  str("h-1");
  str("alice::1220");
  str("USD");
  const uint64_t units = 1'500'000'000'000;  // 15000.00000000 in 10^-8
  for (int i = 0; i < 8; ++i) h.push_back(static_cast<char>((units >> (8 * i)) & 0xff));
  str("sync-a");
  str("");
  h.push_back(0);  // LockKind::kNone
  h.push_back(0);  // no completion
  put(dir, "v1_credit_holding", h);
  return 0;
}

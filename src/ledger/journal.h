#pragma once
// The embedded ledger's write-ahead journal: an append-only file of framed records
//
//   [u32 payload length, little endian][u32 CRC-32 of the payload][payload]
//
// Each payload is one Record: the physical effects of one committed ledger step (contracts
// created/archived/unassigned/assigned, a party allocated) plus, when a command completed, its
// Outcome. Replay applies the effects in order; nothing is re-executed, so replay is deterministic
// and independent of fault injection. A record whose frame is incomplete, whose checksum does not
// match or whose payload does not decode ends the journal: it and everything after it is a torn
// tail from a crash mid-write and is truncated.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "domain/result.h"
#include "ledger/ledger.h"

namespace sc::ledger::journal {

uint32_t crc32(const void* data, size_t size);

enum class LockKind : uint8_t { kNone = 0, kSecurities = 1, kCash = 2 };

struct GenesisOp {
  uint64_t salt = 0;  // makes this ledger's ids unique
};
struct PartyOp {
  std::string hint, party_id;
};
struct CreateHoldingOp {
  std::string contract_id, owner, asset;
  int64_t units = 0;
  std::string synchronizer;
  std::string lock_dvp;  // empty: a free holding
  LockKind lock_kind = LockKind::kNone;
};
struct CreateDvpOp {
  std::string contract_id, buyer, seller, issuer, provider, security, cash_asset;
  int64_t quantity_units = 0, amount_units = 0;
  int32_t settlement_date_days = 0;  // days since 1970-01-01
  std::string synchronizer;
};
struct ArchiveOp {
  std::string contract_id;
  bool dvp = false;
};
struct UnassignOp {
  std::string contract_id, target;
};
struct AssignOp {
  std::string contract_id, target;
};
// The record's command id is fenced: no command may ever complete under it (FenceCommand).
struct FenceOp {};
using Op = std::variant<GenesisOp, PartyOp, CreateHoldingOp, CreateDvpOp, ArchiveOp, UnassignOp,
                        AssignOp, FenceOp>;

struct Record {
  int64_t offset = 0;  // > 0: a transaction with update_id; 0: bookkeeping (party, completion)
  std::string update_id;
  int64_t recorded_at_us = 0;
  std::string command_id;
  std::vector<Op> ops;
  std::optional<Outcome> completion;
};

// Appends the framed record to `out`.
void encode(const Record& record, std::string& out);
// Decodes one payload; nullopt when malformed.
std::optional<Record> decode(std::string_view payload);

// The journal file. Not thread-safe: the ledger serialises appends under its mutex; sync() may be
// called concurrently with append() (fdatasync on the same descriptor).
class File {
 public:
  File() = default;
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Opens/creates "<dir>/journal.log" (creating dir), replays every valid record through `apply`
  // (which may fail, aborting the open) and truncates a torn tail.
  struct ReplayStats {
    uint64_t records = 0;
    uint64_t valid_bytes = 0;
    uint64_t truncated_bytes = 0;
  };
  Result<ReplayStats> open(const std::string& dir,
                           const std::function<Result<void>(Record&&)>& apply);
  // Appends bytes with write(); on failure truncates back to the previous end.
  Result<void> append(std::string_view bytes);
  Result<void> sync();
  uint64_t size() const { return size_; }
  bool isOpen() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
};

}  // namespace sc::ledger::journal

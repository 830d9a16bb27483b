#pragma once
// The embedded ledger's write-ahead journal: an append-only file of framed records
//
//   [u32 payload length, little endian][u32 CRC-32 of the payload][payload]
//
// Each payload is one Record: the physical effects of one committed ledger step (contracts
// created/archived/unassigned/assigned, a party allocated) plus, when a command completed, its
// Outcome. Replay applies the effects in order; nothing is re-executed, so replay is deterministic
// and independent of fault injection.
//
// Corruption vs a torn tail (scan()): only the FINAL record may be damaged by a crash mid-write,
// so only it is truncated on open: a frame that runs past the end of the file (with no valid
// frame anywhere after its start), a complete final frame whose checksum fails, or a zero-filled
// tail. Anything else — a bad checksum, a bad length or an undecodable payload with more data
// after it, or a checksum-valid record that does not decode — is corruption: open fails with the
// file, the byte offset and what failed, and the file is left byte-for-byte unchanged for an
// operator to inspect with `sc-ledger-journal verify` and, if so decided, `… truncate --at`.
//
// The data folder also holds "ledger.lock" (flock: one ledger per folder, across and within
// processes) and "ledger.epoch" (a counter bumped durably at every open; see File::open).
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

// Format versions (the first byte of every payload). Written: kFormatVersion = 2, ledger amounts
// as 16-byte counts of 10^-10 units (Numeric 10). Read: 2, and 1 (DECIMAL(18,8) amounts as 8-byte
// counts of 10^-8 units), which decode() converts exactly, so a journal of the previous version
// replays and records of both versions may follow each other. Any other version is corruption
// whose message names it (decodeProblem): never misread.
inline constexpr uint8_t kFormatV1 = 1;
inline constexpr uint8_t kFormatVersion = 2;

// Largest payload the format accepts (replay rejects longer length fields as corruption).
inline constexpr uint32_t kMaxRecordBytes = 64u << 20;
inline constexpr const char* kJournalFile = "journal.log";
inline constexpr const char* kLockFile = "ledger.lock";
inline constexpr const char* kEpochFile = "ledger.epoch";
// Error code of an open refused because the journal is corrupt (permanent: an operator decides).
inline constexpr const char* kJournalCorrupt = "ledger_journal_corrupt";
// Error code of an open refused because another ledger instance holds the data folder.
inline constexpr const char* kDataDirInUse = "ledger_data_dir_in_use";

enum class LockKind : uint8_t { kNone = 0, kSecurities = 1, kCash = 2 };

struct GenesisOp {
  uint64_t salt = 0;  // makes this ledger's ids unique
};
struct PartyOp {
  std::string hint, party_id;
};
struct CreateHoldingOp {
  std::string contract_id, owner, asset;
  __int128 units = 0;  // ledger units: 10^-10 (LedgerAmount::units)
  std::string synchronizer;
  std::string lock_dvp;  // empty: a free holding
  LockKind lock_kind = LockKind::kNone;
};
struct CreateDvpOp {
  std::string contract_id, buyer, seller, issuer, provider, security, cash_asset;
  int64_t quantity_units = 0, amount_units = 0;  // trade figures: DECIMAL(18,8) units (10^-8)
  int32_t settlement_date_days = 0;              // days since 1970-01-01
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
// Pruning (EmbeddedLedger::prune): everything that happened at offsets below `before` and that
// no command submitted after `before - 1` can need is dropped, and commands submitted from an
// earlier offset are refused from then on.
struct PruneOp {
  int64_t before = 0;
};
// ---- Snapshot ops: only in the records a compaction writes at the head of the journal ----
// The ledger end of the snapshot (its records are bookkeeping, offset 0).
struct LedgerEndOp {
  int64_t ledger_end = 0;
};
// A command's completion (or, without one, its fence), kept with the ledger end it was
// recorded at: what pruning orders by.
struct KeptCommandOp {
  std::string command_id;
  int64_t at = 0;
  std::optional<Outcome> completion;  // none: the id is fenced
};
// A transaction's update, as updateById serves it.
struct KeptUpdateOp {
  std::string update_id;
  int64_t offset = 0;
  int64_t recorded_at_us = 0;
  std::string command_id;
};
// A settle or a credit, as movementsSince serves it (its DvP is kept beside it).
struct KeptMovementOp {
  int64_t offset = 0;
  std::string update_id, command_id;
  int64_t recorded_at_us = 0;
  bool credit = false;
  std::string contract_id, remainder_dvp;
  int64_t quantity_units = 0, amount_units = 0;  // settle: trade figures (10^-8)
  std::string owner, asset;                      // credit
  __int128 credited = 0;                         // credit: ledger units (10^-10)
};
using Op =
    std::variant<GenesisOp, PartyOp, CreateHoldingOp, CreateDvpOp, ArchiveOp, UnassignOp, AssignOp,
                 FenceOp, PruneOp, LedgerEndOp, KeptCommandOp, KeptUpdateOp, KeptMovementOp>;

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
// Decodes one payload of version 1 or 2 (always in version 2 terms); nullopt when malformed.
std::optional<Record> decode(std::string_view payload);
// Why decode(payload) failed, for messages: names an unsupported version.
std::string decodeProblem(std::string_view payload);

// What a read-only pass over a journal file found.
struct ScanReport {
  enum class Tail { kClean, kTorn, kCorrupt };
  uint64_t records = 0;      // valid records before the first problem
  uint64_t valid_bytes = 0;  // end of the last valid record: where the first problem starts
  uint64_t file_size = 0;
  Tail tail = Tail::kClean;
  std::string problem;  // what failed at valid_bytes (empty when clean)
};
// Reads the journal open as `fd` (named `path` in messages) from the start, calling `apply` with
// each valid record and the byte offset it starts at. Never writes. Errors: I/O, or `apply`'s.
using ApplyFn = std::function<Result<void>(Record&&, uint64_t at)>;
Result<ScanReport> scan(int fd, const std::string& path, const ApplyFn& apply);
// Scans a journal file opened read-only ("" apply: count only).
Result<ScanReport> scanFile(const std::string& path, const ApplyFn& apply = {});
// The corruption error for a report with Tail::kCorrupt: names the file, offset and what failed.
Error corruptionError(const std::string& path, const ScanReport& report);

// Holds the exclusive flock on "<dir>/ledger.lock" while alive. flock is per open file, so a
// second acquisition fails in the same process too.
class DirLock {
 public:
  DirLock() = default;
  ~DirLock();
  DirLock(DirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DirLock& operator=(DirLock&& o) noexcept;
  // Error kDataDirInUse (naming the folder) when another holder exists.
  static Result<DirLock> acquire(const std::string& dir);

 private:
  int fd_ = -1;
};

// Operator truncation (sc-ledger-journal truncate): cuts the journal at `offset`, which must be
// the start of a valid record or the end of the last one. Takes the folder's lock (refused while
// a ledger runs on it) and syncs. Returns the number of bytes removed.
Result<uint64_t> truncateAt(const std::string& journal_path, uint64_t offset);

// The journal file. Not thread-safe: the ledger serialises appends under its mutex; sync() may be
// called concurrently with append() (fdatasync on the same descriptor).
class File {
 public:
  File() = default;
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Opens/creates "<dir>/journal.log" (creating dir) under the folder's lock, replays every valid
  // record through `apply` (which may fail, aborting the open), truncates a torn final record and
  // refuses a corrupt journal (kJournalCorrupt, file untouched). Then bumps the folder's epoch.
  //
  // Epoch: ids derive from the offset, and offsets restart below their old values when records
  // are lost (a truncated torn tail, an operator's truncation). The epoch is a counter in its own
  // small file ("ledger.epoch", replaced atomically and synced before any new record is written)
  // that is incremented at every open, so (epoch, offset) never repeats in a folder's life however
  // the journal is cut. It is not in the journal on purpose: a truncation would cut it too.
  struct ReplayStats {
    uint64_t records = 0;
    uint64_t valid_bytes = 0;
    uint64_t truncated_bytes = 0;
    uint32_t epoch = 0;  // of this open, >= 1
  };
  Result<ReplayStats> open(const std::string& dir,
                           const std::function<Result<void>(Record&&)>& apply);
  // Appends bytes with write(); on failure truncates back to the previous end.
  Result<void> append(std::string_view bytes);
  // Compaction replaces the whole journal with a snapshot (complete records) in two steps, so
  // that the snapshot can be written without the engine's lock (by a forked child, even):
  // writeSnapshot writes and syncs `bytes` as `snapshot` (snapshotPath():
  // "<journal>.compact.<pid>", of the owning process, so that no other instance's writer, an orphan
  // included, shares it) and returns an errno (0: done), touching nothing but that file; open()
  // removes leftovers. install then appends `tail` (the records appended to the journal since the
  // snapshot was taken), syncs, renames it over the journal and syncs the folder: atomically and
  // durably. Appends then go to the new file. On an error before the rename the old journal is
  // intact and still the one appended to (`replaced` false); after it, the caller must stop
  // writing.
  static int writeSnapshot(const std::string& snapshot, std::string_view bytes);
  // Appends `bytes` to `snapshot` and syncs: 0, or the errno (the snapshot is removed).
  static int appendToSnapshot(const std::string& snapshot, std::string_view bytes);
  Result<void> install(const std::string& snapshot, std::string_view tail, bool& replaced);
  std::string snapshotPath() const;
  Result<void> sync();
  uint64_t size() const { return size_; }
  bool isOpen() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  DirLock lock_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
};

}  // namespace sc::ledger::journal

#pragma once
// EmbeddedLedger: an in-process, durable, multi-synchronizer DvP ledger (DESIGN §5) implementing
// the Ledger interface with the semantics of the Daml model in daml/Settlement.
//
// Concurrency: every submission is applied under one mutex (the "sequencer"); its journal record
// is appended with write() in apply order, and made durable with fdatasync outside the mutex by
// group commit: a thread skips the sync when another has already synced past its bytes.
// Durability: append-only journal "<data_dir>/journal.log" of checksummed records, replayed on
// open; a torn final record is truncated, corruption anywhere else refuses the open (error
// journal::kJournalCorrupt naming file and offset, file untouched). One instance per data folder
// (journal::kDataDirInUse). The first failed write or fdatasync halts the instance for good:
// every submit and query then fails with retryable kUnavailable and ping() names the failure; a
// restart replays what is durable. Queries return only state that is durable. See journal.h.
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "domain/time.h"
#include "ledger/ledger.h"

namespace sc::ledger {

class EmbeddedLedger final : public Ledger {
 public:
  struct Options {
    // Journal folder, created if missing. Empty: purely in-memory (nothing survives the process).
    std::string data_dir;
    std::vector<std::string> synchronizers{"securities", "cash", "settlement"};
    // Where DvP contracts are created and settle; empty = the last of `synchronizers`.
    std::string settlement_synchronizer;
    // Hints of the parties that co-sign every DvP (allocated at open).
    std::string securities_issuer_party = "securities_issuer";
    std::string cash_provider_party = "cash_provider";
    // fdatasync before submit()/credit()/allocateParty() return. Off only for benchmarks.
    bool durable = true;
    // Deferred durability (with `durable`): submits and queries return without waiting for their
    // journal bytes to reach the disk; the caller makes them durable with
    // syncUpTo(journalPosition()) before it acts on or answers with them (the sandbox, which
    // shares one fdatasync among the requests that finished meanwhile). Halting is unchanged:
    // the first failed write or fdatasync stops the instance.
    bool defer_sync = false;
    // Source of record times; null = system clock. Must outlive the ledger.
    const Clock* clock = nullptr;
    // A command whose journal record would exceed this many payload bytes is refused with
    // kInvalidCommand and nothing is written. 1..journal::kMaxRecordBytes (64 MiB, the default).
    size_t max_record_bytes = 64u << 20;
    // Compaction: once the journal has grown by this many bytes (and to at least twice the last
    // snapshot), the current state is written as a snapshot that replaces the whole journal
    // (atomically: a new file renamed over it), so a replay reads the snapshot and the records
    // after it. 0: never (the journal only grows).
    uint64_t compact_journal_bytes = 0;
    // The snapshot is taken under the engine's lock by forking (copy on write: the lock is held
    // only for the fork), and written by the child while commands go on. Without it (or when
    // fork fails) it is encoded under the lock and written after it. Off by default under
    // AddressSanitizer, whose allocator (GCC 12's) a fork can leave locked in the child when
    // another thread was inside it.
#if defined(__SANITIZE_ADDRESS__)
    bool compact_in_child = false;
#else
    bool compact_in_child = true;
#endif
    // A compaction that a submit finds due runs on a thread of the engine's own, not on the
    // submitting one (which would wait for the snapshot to be written).
    bool compact_in_background = false;
    // Holdings merge: once an owner has more than this many free holdings of one asset on one
    // synchronizer, a settle or release that left them is followed by a transaction of the
    // engine's own merging them into one (MergeSecurities / MergeCash in daml/). 0: never (the
    // sandbox, whose update stream renders only what its clients submitted).
    size_t merge_holdings_above = 0;
  };

  // Opens (or creates) the ledger and replays its journal. Errors: invalid options, I/O, a journal
  // that references an unknown synchronizer, a corrupt journal (journal::kJournalCorrupt), a data
  // folder held by another instance in this or another process (journal::kDataDirInUse).
  static Result<std::unique_ptr<EmbeddedLedger>> open(Options options);
  ~EmbeddedLedger() override;
  EmbeddedLedger(const EmbeddedLedger&) = delete;
  EmbeddedLedger& operator=(const EmbeddedLedger&) = delete;

  // Ledger
  std::vector<Result<Outcome>> submit(std::span<const Submission> batch) override;
  Result<std::string> allocateParty(const std::string& hint) override;
  Result<bool> partyExists(const std::string& party) override;
  Result<HoldingView> credit(const std::string& party, const std::string& asset,
                             LedgerAmount amount, const std::string& synchronizer) override;
  Result<std::vector<HoldingView>> holdings(const std::string& party) override;
  Result<std::optional<DvpView>> dvp(const std::string& contract_id) override;
  Result<std::optional<UpdateView>> updateById(const std::string& update_id) override;
  // Every completion is indexed by its command id (after_offset is not needed to find it).
  Result<std::optional<Outcome>> completionAfter(const std::string& command_id,
                                                 int64_t after_offset) override;
  Result<int64_t> knownLedgerEnd() override;
  Result<std::vector<AssetTotal>> totals() override;
  Result<MovementPage> movementsSince(int64_t after_offset, int limit) override;
  Result<int64_t> prunedUpTo() override;  // prunedBefore() - 1, or 0
  std::vector<std::string> synchronizers() const override;
  Result<void> ping() override;

  // Convenience: submit one command.
  Result<Outcome> submitOne(const std::string& command_id, Command command);

  // Party ids of the DvP co-signatories.
  std::string securitiesIssuer() const;
  std::string cashProvider() const;
  const std::string& settlementSynchronizer() const;
  // Offset of the last transaction (0 when empty).
  int64_t ledgerEnd() const;
  // The journal's length in bytes after everything applied so far: read under the ledger's lock,
  // so it covers every effect a caller saw before reading it; only grows. 0 without a journal.
  uint64_t journalPosition() const;
  // Returns once journal bytes [0, position) are durable: the group commit submit() waits on
  // (one fdatasync for every caller waiting meanwhile, none when already synced past
  // `position`). A failed fdatasync halts the instance as any failed sync does; a halted
  // instance fails with retryable kUnavailable. For Options::defer_sync; without `durable`,
  // nothing is synced.
  Result<void> syncUpTo(uint64_t position);
  // Prunes what no command may still need below `before`, the caller's watermark: offsets
  // below it that no live settlement's commands reach (DESIGN §5; the coordinator's is the least
  // ledger_offset_floor of its non-terminal settlements). Journaled, so it holds after a
  // restart. From then on, submissions whose after_offset is below it are refused and reads that
  // start below it fail, both with kLedgerPruned. `before` at most the ledger end (a command
  // submitted now carries the ledger end as its after_offset); a watermark at
  // or below the current one changes nothing. Returns what is pruned below now.
  struct PruneResult {
    int64_t pruned_before = 0;
    size_t completions = 0, updates = 0, movements = 0, dvps = 0;  // dropped by this call
  };
  Result<PruneResult> prune(int64_t before);
  int64_t prunedBefore() const;
  // Compacts the journal now (see Options::compact_journal_bytes).
  Result<void> compact();
  // Every active holding/lock contract of every party, sorted by contract id.
  std::vector<HoldingView> allHoldings() const;
  // Recomputes totals, locks and indexes from the contracts and compares them with the
  // incrementally maintained ones; an error names the first mismatch. For tests and operators.
  Result<void> verifyIntegrity() const;

  // Fault injection (thread-safe; for tests, demos and benchmarks).
  // Commands touching a contract on (or targeting) a synchronizer that is down fail with
  // kUnavailable and change nothing.
  void setOutage(const std::string& synchronizer, bool down);
  // Each command step touching the synchronizer fails with kUnavailable with this probability.
  void setErrorRate(const std::string& synchronizer, double rate, uint64_t seed);
  // Added delay per command touching the synchronizer (slept outside the ledger mutex).
  void setLatency(const std::string& synchronizer, std::chrono::microseconds latency);
  // The next Settle aborts (kUnavailable, nothing changed) just before its internal step `step`
  // (0 = validation, then one step per archive/create, last = commit). -1 disarms.
  void failNextSettleAt(int step);
  // Number of internal steps of the last successful Settle (to iterate every failure point).
  int lastSettleSteps() const;
  // The next `count` journal fdatasync calls fail with `error_number` instead of syncing (the
  // first failure halts the ledger, as a real one does).
  void failNextSyncs(int count = 1, int error_number = EIO);
  // Called before every journal fdatasync, with the group-commit lock held and the ledger mutex
  // free: a test can hold a sync while other submits queue behind it. Empty: none.
  void setSyncHook(std::function<void()> hook);
  // Runs inside a compaction once its snapshot is taken and the lock released, before the
  // snapshot is written (tests: commands committed meanwhile).
  void setCompactionHook(std::function<void()> hook);

  struct Stats {
    uint64_t records_written = 0;
    uint64_t fsyncs = 0;
    uint64_t bytes_written = 0;
    uint64_t records_replayed = 0;
    uint64_t tail_bytes_truncated = 0;
    // Journal length at the last successful fdatasync (or at open): what survives a power loss.
    // A power-loss simulation truncates the journal to this length.
    uint64_t durable_bytes = 0;
    uint32_t epoch = 0;        // of this open (0: in memory); see journal::File::open
    uint64_t compactions = 0;  // by this instance
    // The longest a compaction of this instance held the engine's lock to take its snapshot.
    uint64_t compaction_lock_max_us = 0;
    // Rounds in which records flushed while a snapshot was written were appended to it without
    // the lock (each at least 1 MiB).
    uint64_t compaction_tail_rounds = 0;
  };
  Stats stats() const;

  // ---- Read methods for the JSON Ledger API sandbox (src/ledger/sandbox) ----
  // Every allocated party id, sorted.
  std::vector<std::string> allParties() const;
  // Every active DvP contract, sorted by contract id.
  std::vector<DvpView> activeDvps() const;
  // The holding or lock contract with this id, if active.
  std::optional<HoldingView> holdingById(const std::string& contract_id) const;
  // Settlement date of a DvP contract (active or archived).
  std::optional<Date> dvpSettlementDate(const std::string& contract_id) const;
  // ---- end of sandbox read methods ----

 private:
  struct Impl;
  explicit EmbeddedLedger(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sc::ledger

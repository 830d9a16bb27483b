#pragma once
// Internals of EmbeddedLedger (not a public header): the state, its indexes and the Impl that the
// engine's files share. By job: state.cpp (ids, apply/replay of journal ops, indexes, integrity),
// commands.cpp (command handlers), journaling.cpp (open/replay, commit, group commit, halting),
// faults.cpp (fault injection); embedded_ledger.cpp holds the public API.
#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "domain/ledger_amount.h"
#include "ledger/engine/embedded_ledger.h"
#include "ledger/engine/journal.h"

namespace sc::ledger {
namespace engine {

using journal::LockKind;
using journal::Record;

// The engine's probe (STYLE 8): one per EmbeddedLedger, so its series go with it.
struct LedgerMetrics {
  metrics::Probe probe{"ledger"};
  metrics::Counter commands_applied =
      probe.counter("sc_ledger_commands_applied_total", "Ledger commands applied");
  metrics::Counter commands_deduplicated =
      probe.counter("sc_ledger_commands_deduplicated_total",
                    "Ledger commands answered from a previous completion");
  metrics::Counter failed_unavailable = probe.counter("sc_ledger_commands_failed_unavailable_total",
                                                      "Ledger commands failed: unavailable");
  metrics::Counter failed_in_flight = probe.counter("sc_ledger_commands_failed_in_flight_total",
                                                    "Ledger commands failed: contract in flight");
  metrics::Counter failed_insufficient_securities =
      probe.counter("sc_ledger_commands_failed_insufficient_securities_total",
                    "Ledger commands failed: insufficient securities");
  metrics::Counter failed_insufficient_cash =
      probe.counter("sc_ledger_commands_failed_insufficient_cash_total",
                    "Ledger commands failed: insufficient cash");
  metrics::Counter failed_unknown_party = probe.counter(
      "sc_ledger_commands_failed_unknown_party_total", "Ledger commands failed: unknown party");
  metrics::Counter failed_not_active = probe.counter("sc_ledger_commands_failed_not_active_total",
                                                     "Ledger commands failed: contract not active");
  metrics::Counter failed_invalid = probe.counter("sc_ledger_commands_failed_invalid_total",
                                                  "Ledger commands failed: invalid command");
  metrics::Counter transactions =
      probe.counter("sc_ledger_transactions_total", "Ledger transactions committed");
  metrics::Counter fsyncs = probe.counter("sc_ledger_fsyncs_total", "Journal fdatasync calls");
  metrics::Counter fsyncs_skipped = probe.counter("sc_ledger_fsyncs_skipped_total",
                                                  "Journal syncs skipped thanks to group commit");
  metrics::Counter journal_bytes =
      probe.counter("sc_ledger_journal_bytes_total", "Bytes appended to the journal");
  metrics::Counter compactions = probe.counter(
      "sc_ledger_compactions_total", "Journal compactions (a snapshot replacing the journal)");
  metrics::Counter compaction_failures = probe.counter(
      "sc_ledger_compaction_failures_total", "Journal compactions that failed (journal kept)");
  metrics::Histogram compaction_lock =
      probe.histogram("sc_ledger_compaction_lock_seconds",
                      "Time a journal compaction held the engine's lock to take its snapshot",
                      metrics::latencyBuckets());
  metrics::Gauge pruned_before = probe.gauge(
      "sc_ledger_pruned_before_offset", "Offsets below this one are pruned (0: nothing pruned)");

  void countFailure(const std::string& code) {
    if (code == kUnavailable || code == kTimeout)
      failed_unavailable.inc();
    else if (code == kContractInFlight)
      failed_in_flight.inc();
    else if (code == kInsufficientSecurities)
      failed_insufficient_securities.inc();
    else if (code == kInsufficientCash)
      failed_insufficient_cash.inc();
    else if (code == kUnknownParty)
      failed_unknown_party.inc();
    else if (code == kContractNotActive)
      failed_not_active.inc();
    else
      failed_invalid.inc();
  }
};

inline uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline uint64_t hashString(std::string_view s, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return splitmix(h);
}

inline void appendHex(std::string& out, uint64_t v, int digits) {
  static const char* kHex = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out.push_back(kHex[(v >> (4 * i)) & 0xf]);
}

inline Error invalid(std::string message, std::string field = {}) {
  return Error::permanent(kInvalidCommand, std::move(message), std::move(field));
}
inline Error notActive(const std::string& cid) {
  return Error::permanent(kContractNotActive, "contract " + cid + " is not active",
                          "dvp_contract_id");
}
// Ledger amounts inside the engine are raw counts of 10^-10 units (LedgerAmount's), bounded by
// the per-asset totals, which credit keeps inside Numeric 10: no sum of holdings can overflow.
using Units = __int128;
// A trade figure (DECIMAL(18,8)) in ledger units: exact.
inline Units unitsOf(Decimal d) { return LedgerAmount(d).units(); }
// Ledger units as a LedgerAmount; `u` is inside the range by the invariant above.
inline LedgerAmount amountOf(Units u) { return LedgerAmount::fromUnits(u).value(); }
// Ledger units as a trade figure: exact for the quantities and amounts of a DvP and its locks,
// which are DECIMAL(18,8) by construction (a partial lock is cut to the trade's 8 decimals).
inline Result<Decimal> tradeOf(Units u) { return amountOf(u).toDecimal(); }
// For messages: at least 8 decimals, like the trade figures, more where the ledger holds them.
inline std::string dec(Units units) { return amountOf(units).toString(Decimal::kScale); }

struct Holding {
  std::string cid, owner, asset;
  Units units = 0;
  int sync = 0;
  std::string lock_dvp;
  LockKind kind = LockKind::kNone;
  bool in_flight = false;
  int target = -1;
  uint64_t seq = 0;
  bool locked() const { return kind != LockKind::kNone; }
};

struct Dvp {
  std::string cid, buyer, seller, issuer, provider, security, cash_asset;
  Units quantity = 0, amount = 0;  // trade figures, in ledger units
  int32_t date_days = 0;
  int sync = 0;
  bool active = true;
};

struct DvpLocks {
  std::vector<std::string> securities, cash;
  bool empty() const { return securities.empty() && cash.empty(); }
};

struct FreeIndex {
  Units free = 0;
  std::vector<std::map<uint64_t, std::string>> by_sync;  // creation order per synchronizer
};

struct AssetTotals {
  Units total = 0, locked = 0;
};

// A settle or a credit, indexed at apply (live and on replay) for movementsSince(). A settle's
// parties and assets are its DvP's, read from `dvps` (archived DvPs stay there).
struct Movement {
  int64_t offset = 0;
  std::string update_id, command_id;
  int64_t recorded_at_us = 0;
  bool credit = false;
  std::string contract_id;  // settle: the DvP settled; credit: the holding created
  std::string remainder_dvp;
  Decimal quantity, amount;  // settle (trade figures)
  std::string owner, asset;  // credit
  Units credited = 0;        // credit
};

struct FaultState {
  bool down = false;
  double error_rate = 0;
  std::mt19937_64 rng{0};
  std::chrono::microseconds latency{0};
};

}  // namespace engine

struct EmbeddedLedger::Impl {
  using Holding = engine::Holding;
  using Dvp = engine::Dvp;
  using DvpLocks = engine::DvpLocks;
  using FreeIndex = engine::FreeIndex;
  using AssetTotals = engine::AssetTotals;
  using FaultState = engine::FaultState;
  using LedgerMetrics = engine::LedgerMetrics;
  using Record = engine::Record;
  using LockKind = engine::LockKind;
  using Units = engine::Units;

  Options opts;
  SystemClock system_clock;
  const Clock* clock = nullptr;
  std::shared_ptr<spdlog::logger> log = log::get("ledger");
  LedgerMetrics m;

  std::vector<std::string> sync_names;
  std::unordered_map<std::string, int> sync_index;
  int settle_sync = 0;
  std::string issuer, provider;

  mutable std::mutex mu;  // guards everything below until the sync section
  uint64_t salt = 0;
  uint32_t epoch = 1;  // of this open (journal::File::open); mixed into every new id
  int64_t ledger_end = 0;
  uint64_t seq = 0;
  std::unordered_map<std::string, Holding> holdings;
  std::unordered_map<std::string, Dvp> dvps;
  std::unordered_map<std::string, DvpLocks> locks;
  std::unordered_map<std::string, FreeIndex> free_index;  // key owner '\x1f' asset
  std::unordered_map<std::string, std::set<std::string>> by_owner;
  std::map<std::string, AssetTotals> totals;
  std::unordered_map<std::string, std::string> party_by_hint;
  std::unordered_set<std::string> parties;
  std::unordered_map<std::string, Outcome> completions;
  std::unordered_set<std::string> fenced;  // command ids taken by a FenceCommand
  std::unordered_map<std::string, UpdateView> updates;
  std::deque<engine::Movement> movements;  // settles and credits, in offset order
  // Pruning (prune(), PruneOp). Everything below `pruned_before` that no command may still need
  // is gone, and a submission whose after_offset is below it is refused. The queues hold, in
  // apply order (so in offset order), what pruning drops from the maps above: the offset each
  // entry belongs to (for a completion or a fence, the ledger end when it was recorded; for an
  // archived DvP, when it was archived) and its key.
  int64_t pruned_before = 0;
  int64_t applying_at = 0;  // the offset of the record being applied (apply())
  std::deque<std::pair<int64_t, std::string>> command_order;  // completions and fences
  std::deque<std::pair<int64_t, std::string>> update_order;
  std::deque<std::pair<int64_t, std::string>> archived_dvps;
  std::vector<FaultState> faults;
  int fail_settle_at = -1;
  int last_settle_steps = 0;
  std::string wbuf;
  journal::File file;
  bool broken = false;
  std::string halt_reason;  // why `broken`
  EmbeddedLedger::Stats stats;
  std::chrono::microseconds pending_latency{0};  // of the submission being executed

  // Group commit.
  std::mutex sync_mu;
  std::atomic<uint64_t> written{0};
  std::atomic<uint64_t> synced{0};  // journal bytes known durable (length at the last fdatasync)
  std::atomic<uint64_t> fsync_count{0};
  // Set, once and for good, by the first failed write or fdatasync. After a failed fdatasync the
  // kernel may have dropped the dirty pages and a retry can succeed without them reaching disk,
  // so nothing is ever acknowledged or served again by this instance.
  std::atomic<bool> halted{false};
  // Fault injection of the sync path: the hook is guarded by sync_mu; the failure counter is
  // atomic so it can be armed while a sync is held.
  std::function<void()> sync_hook;
  std::atomic<int> fail_syncs_errno{0};
  std::atomic<int> fail_syncs_left{0};

  // Compaction. `written` and `synced` are logical positions: bytes appended over the journal's
  // whole life, which a compaction does not lower. The current file starts at `journal_base`
  // (guarded by mu and sync_mu: compaction holds both). `compact_at` is the logical position
  // at which the next compaction is due (never, without Options::compact_journal_bytes).
  uint64_t journal_base = 0;
  uint64_t snapshot_bytes = 0;  // the journal's length right after the last compaction
  std::atomic<uint64_t> compact_at{UINT64_MAX};
  // A compaction takes its snapshot under mu, then writes it without the lock (in a child
  // process: Options::compact_in_child) while commands go on; what they flush meanwhile is also
  // kept in `tail` (guarded by mu), appended to the snapshot before it replaces the journal.
  std::mutex compact_mu;                  // one compaction at a time
  std::function<void()> compaction_hook;  // guarded by compact_mu (setCompactionHook)
  bool capturing_tail = false;
  std::string tail;
  // Compactions due after a submit run here, off the submitting thread
  // (Options::compact_in_background); stopped and joined by ~Impl.
  std::mutex compactor_mu;
  std::condition_variable compactor_cv;
  bool compactor_due = false, compactor_stop = false;
  std::thread compactor;

  bool journaling() const { return file.isOpen(); }

  static std::string key(const std::string& owner, const std::string& asset) {
    std::string k;
    k.reserve(owner.size() + asset.size() + 1);
    k += owner;
    k += '\x1f';
    k += asset;
    return k;
  }

  // ---- ids ----
  // (epoch, offset[, index]) is spelled out in every id, so ids are unique within a data folder
  // by construction even when an offset is reused after a truncation (the epoch differs: see
  // journal::File::open); the salted hash tells ledgers of different folders apart.
  std::string updateId(int64_t offset) const;
  std::string contractId(int64_t offset, int index) const;

  // ---- apply (the only place state changes; used live and on replay) ----
  Result<int> syncOf(const std::string& name) const;

  void indexFree(const Holding& h);
  void unindexFree(const Holding& h);
  bool usable(const Holding& h) const { return !h.locked() && !h.in_flight; }

  Result<void> applyOp(const journal::Op& op, const std::string& command_id);
  // Prunes below `before` (PruneOp, live and on replay): from now on what is below it is refused
  // (pruned_before). Its completions and fences are dropped here; its updates, movements and
  // archived DvPs by dropPruned, in chunks (prune(), open()).
  void pruneBelow(int64_t before);
  struct Dropped {
    size_t completions = 0, updates = 0, movements = 0, dvps = 0;
    size_t entries = 0;  // queue entries taken, whatever they dropped
  };
  // Drops, from the fronts of the queues, up to `max` entries below pruned_before.
  Dropped dropPruned(size_t max);
  size_t dropped_commands = 0;  // completions and fences pruneBelow dropped, for dropPruned's count
  // The snapshot a compaction writes: records that rebuild the current state when replayed.
  void snapshotRecords(std::string& out) const;
  // Compacts the journal when `written` reached `compact_at` (or always with `force`): takes
  // sync_mu then mu. A failure before the new file replaced the journal keeps the old one and
  // only postpones the next attempt; one after it halts the instance.
  Result<void> compact(bool force);
  // One compaction's progress through its phases (see compact()).
  struct Compaction {
    using Clock = std::chrono::steady_clock;
    Clock::time_point started, locked_at, locked_until, written_until;
    std::string snapshot;   // the new file's path
    uint64_t old_size = 0;  // the journal's length when the snapshot was taken
    pid_t child = -1;       // the process writing the snapshot, or -1
    std::string bytes;      // the snapshot, when encoded here rather than by a child
    uint64_t followed = 0;  // bytes of records appended after the snapshot
    int tail_rounds = 0;    // rounds of them appended without the lock
  };
  bool compactionDue() const;
  // Under mu: flushes, then forks the snapshot's writer (or encodes the snapshot) and starts
  // keeping what is flushed in `tail`. False when no longer due (another thread compacted).
  Result<bool> takeSnapshot(Compaction& c, bool force);
  // Without the lock: the snapshot written and synced, then the records flushed meanwhile
  // appended while they are many. Returns why it failed, or "".
  std::string writeSnapshot(Compaction& c);
  // Under sync_mu and mu: the last records appended and the new file installed, or (after a
  // failure) the old journal kept and the next attempt postponed.
  Result<void> installSnapshot(Compaction& c, const std::string& failed);
  void scheduleCompaction();  // sets compact_at (caller holds mu)
  // Forks a child that writes the snapshot (File::writeSnapshot) and exits with 0 or its errno;
  // the caller holds mu. Returns its pid, or -1 when fork failed.
  pid_t snapshotInChild(const std::string& snapshot);
  // After a submit: a due compaction, here or on the compactor thread.
  void compactIfDue();
  ~Impl();

  Result<void> apply(Record&& rec);
  // Adds a settle's or a credit's record to `movements` (others are ignored).
  void indexMovement(const Record& rec);

  // Journals (buffered until flush) and applies a built record. Fails only, changing nothing, when
  // the encoded record exceeds max_record_bytes: every other check was done while building it.
  [[nodiscard]] Result<void> commit(Record&& rec);

  Record newTx(const std::string& command_id);

  Result<void> flushLocked();

  // Stops this instance for good (caller holds mu).
  void haltLocked(std::string reason);

  // Returns once journal bytes [0, target) are durable, sharing fdatasync calls (group commit);
  // with Options::defer_sync at once (the caller syncs through syncUpTo).
  Result<void> ensureDurable(uint64_t target);
  // The group commit itself: one fdatasync for every caller waiting, halting on failure.
  Result<void> syncUpTo(uint64_t target);

  // For queries: what a query saw under mu (everything written so far) is returned only once it
  // is durable, so a reader never observes state that a failed fdatasync then loses.
  template <class T>
  Result<T> afterDurable(uint64_t end, T value) {
    if (auto d = ensureDurable(end); !d) return d.error();
    return value;
  }

  // ---- fault injection ----
  Result<void> touch(int s);
  Result<void> touchAll(const std::vector<int>& syncs);

  // ---- commands ----
  Result<const Dvp*> activeDvp(const std::string& cid) const;

  [[nodiscard]] Result<void> completionOnly(const std::string& command_id, Outcome& out);

  Result<Outcome> execute(const Submission& s);

  Result<Outcome> run(const std::string& cmd, const CreateDvp& c);

  // Locks `units` (or, with allow_partial, what is available if less) of owner's asset to the DvP.
  Result<Outcome> lockAssets(const std::string& cmd, const Dvp& d, const std::string& owner,
                             const std::string& asset, Units units, bool allow_partial,
                             LockKind kind);

  Result<Outcome> run(const std::string& cmd, const LockSecurities& c);

  Result<Outcome> run(const std::string& cmd, const LockCash& c);

  std::vector<std::string> locksOf(const std::string& dvp_cid) const;

  Result<Outcome> run(const std::string& cmd, const ReassignLocks& c);

  Result<Outcome> run(const std::string& cmd, const Settle& c);

  Result<Outcome> run(const std::string& cmd, const ReleaseLocks& c);

  // Nothing completed under the id (execute() answered that case from the completion): take it.
  Result<Outcome> run(const std::string& cmd, const FenceCommand&);

  Result<Outcome> run(const std::string& cmd, const ArchiveDvp& c);

  // Merges owner's free holdings of asset on sync into one once there are more than
  // Options::merge_holdings_above (its own transaction; see commands.cpp).
  void mergeFree(const std::string& owner, const std::string& asset, int sync);

  HoldingView view(const Holding& h) const;

  DvpView dvpView(const Dvp& d) const;

  Result<void> checkUsable() const;
};

}  // namespace sc::ledger

// EmbeddedLedger journal: open and replay, commit into the write buffer, flush, group commit and
// the halt on the first durability failure.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <limits>
#include <random>

#include "ledger/engine/impl.h"

namespace sc::ledger {

using namespace engine;

Result<void> EmbeddedLedger::Impl::commit(Record&& rec) {
  if (journaling()) {
    const size_t before = wbuf.size();
    encode(rec, wbuf);
    const size_t bytes = wbuf.size() - before - 8;
    if (bytes > opts.max_record_bytes) {
      wbuf.resize(before);
      return invalid("the ledger record of command '" + rec.command_id + "' would take " +
                         std::to_string(bytes) + " bytes, over the journal limit of " +
                         std::to_string(opts.max_record_bytes) + "; nothing was written",
                     "command_id");
    }
    ++stats.records_written;
  }
  if (rec.offset > 0) m.transactions.inc();
  auto r = apply(std::move(rec));
  if (!r) {
    // A built record always applies; anything else is a bug in the builder.
    log->critical("ledger apply failed for a validated record: {}", r.error().message);
    std::abort();
  }
  return {};
}

Record EmbeddedLedger::Impl::newTx(const std::string& command_id) {
  Record rec;
  rec.offset = ledger_end + 1;
  rec.update_id = updateId(rec.offset);
  rec.recorded_at_us = clock->now().time_since_epoch().count();
  rec.command_id = command_id;
  return rec;
}

Result<void> EmbeddedLedger::Impl::flushLocked() {
  if (wbuf.empty()) return {};
  if (!journaling()) {
    wbuf.clear();
    return {};
  }
  auto r = file.append(wbuf);
  if (r && capturing_tail) tail += wbuf;
  if (!r) {
    // Memory holds effects the journal does not: stop accepting work until a restart
    // rebuilds the state from the journal (as PostgreSQL does on a WAL write failure).
    haltLocked("journal write to " + file.path() + " failed: " + r.error().message);
    wbuf.clear();
    return checkUsable().error();
  }
  stats.bytes_written += wbuf.size();
  m.journal_bytes.inc(wbuf.size());
  written.store(journal_base + file.size(), std::memory_order_release);
  wbuf.clear();
  return {};
}

void EmbeddedLedger::Impl::scheduleCompaction() {
  if (opts.compact_journal_bytes == 0 || !journaling()) return;
  compact_at.store(
      journal_base + std::max<uint64_t>(opts.compact_journal_bytes, 2 * snapshot_bytes),
      std::memory_order_release);
}

// A compaction in three phases: takeSnapshot under mu (a fork, or the snapshot encoded here);
// writeSnapshot without the lock while commands go on (the child waited for, or the bytes
// written; then the records flushed meanwhile appended in rounds); installSnapshot under
// sync_mu and mu (the last records, then the rename).
Result<void> EmbeddedLedger::Impl::compact(bool force) {
  if (!journaling()) return {};
  if (!force && !compactionDue()) return {};
  // One at a time: a due compaction leaves a running one be, a forced one waits for it.
  std::unique_lock one(compact_mu, std::defer_lock);
  if (force) {
    one.lock();
  } else if (!one.try_lock()) {
    return {};
  }
  Compaction c;
  c.started = Compaction::Clock::now();
  c.snapshot = file.snapshotPath();
  auto taken = takeSnapshot(c, force);
  if (!taken || !*taken) return taken ? Result<void>{} : taken.error();
  m.compaction_lock.observe(c.locked_until - c.locked_at);
  // The lock is free while the snapshot is written and synced: commands go on meanwhile.
  if (compaction_hook) compaction_hook();
  return installSnapshot(c, writeSnapshot(c));
}

bool EmbeddedLedger::Impl::compactionDue() const {
  return written.load(std::memory_order_acquire) >= compact_at.load(std::memory_order_acquire);
}

Result<bool> EmbeddedLedger::Impl::takeSnapshot(Compaction& c, bool force) {
  // The snapshot is of the state that the journal holds exactly: everything flushed, nothing
  // buffered. From here on every flushed record is also kept in `tail`, to follow the snapshot
  // in the new file.
  std::lock_guard l(mu);
  c.locked_at = Compaction::Clock::now();
  if (auto u = checkUsable(); !u) return u.error();
  if (!force && !compactionDue()) return false;  // another thread compacted
  if (auto f = flushLocked(); !f) return f.error();
  c.old_size = file.size();
  if (opts.compact_in_child) c.child = snapshotInChild(c.snapshot);
  if (c.child <= 0) snapshotRecords(c.bytes);  // no child (not asked, or fork failed): here
  tail.clear();
  capturing_tail = true;
  c.locked_until = Compaction::Clock::now();
  return true;
}

std::string EmbeddedLedger::Impl::writeSnapshot(Compaction& c) {
  using Clock = Compaction::Clock;
  std::string failed;
  if (c.child > 0) {
    // Bounded: a child that hangs (a stalled disk) is killed, and the journal kept as it was.
    constexpr auto kChildLimit = std::chrono::minutes(10);
    int status = 0;
    pid_t waited = 0;
    while ((waited = ::waitpid(c.child, &status, WNOHANG)) == 0 || (waited < 0 && errno == EINTR)) {
      if (Clock::now() - c.locked_until > kChildLimit) ::kill(c.child, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (waited < 0) {
      failed = std::string("waiting for the process writing the snapshot: ") + std::strerror(errno);
    } else if (WIFSIGNALED(status)) {
      failed = "the process writing the snapshot was killed by signal " +
               std::to_string(WTERMSIG(status));
    } else if (int err = WIFEXITED(status) ? WEXITSTATUS(status) : 0; err != 0) {
      failed = std::string("writing the snapshot: ") + std::strerror(err);
    }
  } else if (int err = journal::File::writeSnapshot(c.snapshot, c.bytes); err != 0) {
    failed = std::string("writing the snapshot: ") + std::strerror(err);
  }
  c.bytes = std::string();
  // The records appended meanwhile follow the snapshot: in rounds without the lock while there
  // are many (a busy ledger appends tens of MB while a large snapshot is written), so that the
  // last round, under the locks, has little left to write and sync.
  constexpr size_t kTailUnderLock = 1u << 20;
  for (int round = 0; round < 8 && failed.empty(); ++round) {
    std::string part;
    {
      std::lock_guard l(mu);
      if (tail.size() < kTailUnderLock) break;
      part = std::move(tail);
      tail = std::string();
    }
    c.followed += part.size();
    ++c.tail_rounds;
    if (int err = journal::File::appendToSnapshot(c.snapshot, part); err != 0)
      failed = std::string("writing the records that followed the snapshot: ") + std::strerror(err);
  }
  c.written_until = Clock::now();
  return failed;
}

Result<void> EmbeddedLedger::Impl::installSnapshot(Compaction& c, const std::string& failed) {
  using Clock = Compaction::Clock;
  // sync_mu first (the order syncUpTo takes them in): no fdatasync of the old file runs while
  // it is replaced, and nothing is appended meanwhile.
  std::lock_guard sl(sync_mu);
  std::lock_guard l(mu);
  // What was flushed since the snapshot, and what is buffered now: all of it follows the
  // snapshot in the new file.
  auto f = failed.empty() ? flushLocked() : Result<void>{};
  capturing_tail = false;
  std::string records_since = std::move(tail);
  c.followed += records_since.size();
  tail = std::string();
  auto postpone = [&](const std::string& why) {
    // The old journal is intact and still appended to: try again once it doubled.
    m.compaction_failures.inc();
    ::unlink(c.snapshot.c_str());
    log->error("journal compaction of {} failed, the journal is kept as it was: {}", file.path(),
               why);
    compact_at.store(written.load() + std::max<uint64_t>(opts.compact_journal_bytes, c.old_size));
  };
  if (!failed.empty()) {
    postpone(failed);
    return {};
  }
  if (auto u = f ? checkUsable() : f; !u) {  // halted meanwhile, or by this flush
    ::unlink(c.snapshot.c_str());
    return u;
  }
  bool replaced = false;
  if (auto r = file.install(c.snapshot, records_since, replaced); !r) {
    if (replaced) {
      m.compaction_failures.inc();
      haltLocked("journal compaction of " + file.path() +
                 " failed after the new journal replaced the old one (" + r.error().message + ")");
      return checkUsable();
    }
    postpone(r.error().message);
    return {};
  }
  // Everything is in the synced new file: positions go on from the old end (never back).
  journal_base = written.load();
  written.store(journal_base + file.size(), std::memory_order_release);
  synced.store(written.load(), std::memory_order_release);
  snapshot_bytes = file.size();
  scheduleCompaction();
  m.compactions.inc();
  ++stats.compactions;
  stats.compaction_tail_rounds += c.tail_rounds;
  stats.compaction_lock_max_us = std::max<uint64_t>(
      stats.compaction_lock_max_us,
      std::chrono::duration_cast<std::chrono::microseconds>(c.locked_until - c.locked_at).count());
  auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  };
  log->info(
      "journal {} compacted from {} to {} bytes ({} of them appended meanwhile, {} round(s) "
      "without the lock) in {} ms: the lock held {} ms for the snapshot{}, {} ms to install it "
      "(ledger end {}, pruned below {})",
      file.path(), c.old_size, snapshot_bytes, c.followed, c.tail_rounds,
      ms(Clock::now() - c.started), ms(c.locked_until - c.locked_at),
      c.child > 0 ? " (written by a child process)" : "", ms(Clock::now() - c.written_until),
      ledger_end, pruned_before);
  return {};
}

void EmbeddedLedger::Impl::compactIfDue() {
  if (written.load(std::memory_order_acquire) < compact_at.load(std::memory_order_acquire)) return;
  if (!opts.compact_in_background) {
    if (auto c = compact(false); !c) log->error("journal compaction: {}", c.error().message);
    return;
  }
  std::lock_guard l(compactor_mu);
  if (compactor_stop) return;
  compactor_due = true;
  if (!compactor.joinable()) {
    compactor = std::thread([this] {
      std::unique_lock cl(compactor_mu);
      for (;;) {
        compactor_cv.wait(cl, [&] { return compactor_due || compactor_stop; });
        if (compactor_stop) return;
        compactor_due = false;
        cl.unlock();
        if (auto c = compact(false); !c) log->error("journal compaction: {}", c.error().message);
        cl.lock();
      }
    });
  }
  compactor_cv.notify_one();
}

EmbeddedLedger::Impl::~Impl() {
  {
    std::lock_guard l(compactor_mu);
    compactor_stop = true;
  }
  compactor_cv.notify_all();
  if (compactor.joinable()) compactor.join();
}

pid_t EmbeddedLedger::Impl::snapshotInChild(const std::string& snapshot) {
  // The caller holds mu, so the child's copy of the state is consistent; it has only this
  // thread. It writes the snapshot (named after this process: no other instance's writer, an
  // orphan included, shares it) and exits with 0 or the errno; killed if this process dies.
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) {
    if (pid < 0)
      log->warn("fork for a journal snapshot failed ({}): taken in process", std::strerror(errno));
    return pid;
  }
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(ESRCH);
  // None of the parent's descriptors: its sockets must close when it closes them, and a new
  // instance may take the folder's lock as soon as this process is gone.
  if (::close_range(3, ~0U, 0) != 0) {  // refused by some seccomp profiles: one by one
    for (long fd = 3, n = ::sysconf(_SC_OPEN_MAX); fd < n; ++fd) ::close(static_cast<int>(fd));
  }
  std::string out;
  snapshotRecords(out);
  ::_exit(journal::File::writeSnapshot(snapshot, out));
}

void EmbeddedLedger::Impl::haltLocked(std::string reason) {
  if (broken) return;
  broken = true;
  halt_reason = std::move(reason);
  halted.store(true, std::memory_order_release);
  log->critical("ledger halted until restart: {}", halt_reason);
}

Result<void> EmbeddedLedger::Impl::ensureDurable(uint64_t target) {
  if (opts.defer_sync) return {};  // the caller syncs (syncUpTo) before acting on it
  return syncUpTo(target);
}

Result<void> EmbeddedLedger::Impl::syncUpTo(uint64_t target) {
  if (!journaling() || !opts.durable) {
    if (halted.load(std::memory_order_acquire)) {
      std::lock_guard l(mu);
      return checkUsable();
    }
    return {};
  }
  if (synced.load(std::memory_order_acquire) >= target) {
    m.fsyncs_skipped.inc();
    return {};
  }
  std::lock_guard sl(sync_mu);
  // Checked under sync_mu: a thread that waited here while a sync failed must not retry it.
  if (halted.load(std::memory_order_acquire)) {
    std::lock_guard l(mu);
    return checkUsable();
  }
  if (synced.load(std::memory_order_acquire) >= target) {
    m.fsyncs_skipped.inc();
    return {};
  }
  if (sync_hook) sync_hook();
  uint64_t upto = written.load(std::memory_order_acquire);  // everything write() returned for
  Result<void> r;
  if (fail_syncs_left.load() > 0 && fail_syncs_left.fetch_sub(1) > 0) {
    r = Error::transient(kUnavailable, std::string("journal fdatasync: ") +
                                           std::strerror(fail_syncs_errno) + " (injected)");
  } else {
    r = file.sync();
  }
  if (!r) {
    std::lock_guard l(mu);
    haltLocked("fdatasync of " + file.path() + " failed (" + r.error().message +
               "); what it covered may not be on disk");
    return checkUsable();
  }
  fsync_count.fetch_add(1, std::memory_order_relaxed);
  m.fsyncs.inc();
  synced.store(upto, std::memory_order_release);
  return {};
}

Result<void> EmbeddedLedger::Impl::checkUsable() const {
  if (broken) {
    return Error::transient(kUnavailable, "ledger halted: " + halt_reason +
                                              ". Nothing is acknowledged or served until a "
                                              "restart replays what is durable");
  }
  return {};
}

Result<std::unique_ptr<EmbeddedLedger>> EmbeddedLedger::open(Options options) {
  auto impl = std::make_unique<Impl>();
  Impl& L = *impl;
  if (options.synchronizers.empty()) return invalid("at least one synchronizer is required");
  for (size_t i = 0; i < options.synchronizers.size(); ++i) {
    const auto& name = options.synchronizers[i];
    if (name.empty() || !L.sync_index.emplace(name, static_cast<int>(i)).second) {
      return invalid("synchronizer names must be non-empty and unique: '" + name + "'");
    }
    L.sync_names.push_back(name);
  }
  if (options.settlement_synchronizer.empty()) {
    options.settlement_synchronizer = options.synchronizers.back();
  }
  auto ss = L.sync_index.find(options.settlement_synchronizer);
  if (ss == L.sync_index.end()) {
    return invalid("settlement synchronizer '" + options.settlement_synchronizer +
                   "' is not one of the synchronizers");
  }
  L.settle_sync = ss->second;
  L.faults.resize(L.sync_names.size());
  L.clock = options.clock ? options.clock : &L.system_clock;
  if (options.max_record_bytes == 0 || options.max_record_bytes > journal::kMaxRecordBytes) {
    return invalid("max_record_bytes must be 1.." + std::to_string(journal::kMaxRecordBytes));
  }
  L.opts = options;

  if (!options.data_dir.empty()) {
    auto replay = L.file.open(options.data_dir, [&](Record&& r) { return L.apply(std::move(r)); });
    if (!replay) return replay.error();
    L.dropPruned(std::numeric_limits<size_t>::max());  // what the journal's prunings pruned
    L.stats.records_replayed = replay->records;
    L.stats.tail_bytes_truncated = replay->truncated_bytes;
    L.epoch = replay->epoch;
    L.written = L.file.size();
    L.synced = L.file.size();
    L.scheduleCompaction();
    if (replay->truncated_bytes > 0) {
      L.log->warn("journal {}: truncated a torn tail of {} bytes after {} records",
                  options.data_dir, replay->truncated_bytes, replay->records);
    }
    L.log->info("ledger opened from {}: {} records, ledger end {}, {} active contracts, epoch {}",
                options.data_dir, replay->records, L.ledger_end, L.holdings.size(), L.epoch);
  }
  if (L.salt == 0) {
    std::random_device rd;
    uint64_t salt = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    if (salt == 0) salt = 1;
    Record rec;
    rec.ops.push_back(journal::GenesisOp{salt});
    std::lock_guard l(L.mu);
    if (auto cr = L.commit(std::move(rec)); !cr) return cr.error();
    if (auto f = L.flushLocked(); !f) return f.error();
  }
  std::unique_ptr<EmbeddedLedger> ledger(new EmbeddedLedger(std::move(impl)));
  auto issuer = ledger->allocateParty(options.securities_issuer_party);
  if (!issuer) return issuer.error();
  auto provider = ledger->allocateParty(options.cash_provider_party);
  if (!provider) return provider.error();
  ledger->impl_->issuer = *issuer;
  ledger->impl_->provider = *provider;
  return ledger;
}

}  // namespace sc::ledger

#include "ledger/embedded_ledger.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "common/metrics.h"
#include "domain/ids.h"
#include "ledger/journal.h"

namespace sc::ledger {
namespace {

using journal::LockKind;
using journal::Record;

// One probe per module (STYLE 8). Process-lifetime, shared by every EmbeddedLedger instance,
// because the metrics registry keeps raw pointers and has no unregister.
struct LedgerMetrics {
  metrics::Counter commands_applied;
  metrics::Counter commands_deduplicated;
  metrics::Counter failed_unavailable;
  metrics::Counter failed_in_flight;
  metrics::Counter failed_insufficient_securities;
  metrics::Counter failed_insufficient_cash;
  metrics::Counter failed_unknown_party;
  metrics::Counter failed_not_active;
  metrics::Counter failed_invalid;
  metrics::Counter transactions;
  metrics::Counter fsyncs;
  metrics::Counter fsyncs_skipped;
  metrics::Counter journal_bytes;

  void countFailure(const std::string& code) {
    if (code == kUnavailable || code == kTimeout) failed_unavailable.inc();
    else if (code == kContractInFlight) failed_in_flight.inc();
    else if (code == kInsufficientSecurities) failed_insufficient_securities.inc();
    else if (code == kInsufficientCash) failed_insufficient_cash.inc();
    else if (code == kUnknownParty) failed_unknown_party.inc();
    else if (code == kContractNotActive) failed_not_active.inc();
    else failed_invalid.inc();
  }
};

LedgerMetrics& ledgerMetrics() {
  static LedgerMetrics* m = [] {
    auto* p = new LedgerMetrics();
    auto reg = [](const char* name, const char* help, const metrics::Counter* c) {
      metrics::registerCounter(name, help, c);
    };
    reg("sc_ledger_commands_applied_total", "Ledger commands applied", &p->commands_applied);
    reg("sc_ledger_commands_deduplicated_total", "Ledger commands answered from a previous completion",
        &p->commands_deduplicated);
    reg("sc_ledger_commands_failed_unavailable_total", "Ledger commands failed: unavailable",
        &p->failed_unavailable);
    reg("sc_ledger_commands_failed_in_flight_total", "Ledger commands failed: contract in flight",
        &p->failed_in_flight);
    reg("sc_ledger_commands_failed_insufficient_securities_total",
        "Ledger commands failed: insufficient securities", &p->failed_insufficient_securities);
    reg("sc_ledger_commands_failed_insufficient_cash_total",
        "Ledger commands failed: insufficient cash", &p->failed_insufficient_cash);
    reg("sc_ledger_commands_failed_unknown_party_total", "Ledger commands failed: unknown party",
        &p->failed_unknown_party);
    reg("sc_ledger_commands_failed_not_active_total", "Ledger commands failed: contract not active",
        &p->failed_not_active);
    reg("sc_ledger_commands_failed_invalid_total", "Ledger commands failed: invalid command",
        &p->failed_invalid);
    reg("sc_ledger_transactions_total", "Ledger transactions committed", &p->transactions);
    reg("sc_ledger_fsyncs_total", "Journal fdatasync calls", &p->fsyncs);
    reg("sc_ledger_fsyncs_skipped_total", "Journal syncs skipped thanks to group commit",
        &p->fsyncs_skipped);
    reg("sc_ledger_journal_bytes_total", "Bytes appended to the journal", &p->journal_bytes);
    return p;
  }();
  return *m;
}

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t hashString(std::string_view s, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return splitmix(h);
}

void appendHex(std::string& out, uint64_t v, int digits) {
  static const char* kHex = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out.push_back(kHex[(v >> (4 * i)) & 0xf]);
}

Error invalid(std::string message, std::string field = {}) {
  return Error::permanent(kInvalidCommand, std::move(message), std::move(field));
}
Error notActive(const std::string& cid) {
  return Error::permanent(kContractNotActive, "contract " + cid + " is not active",
                          "dvp_contract_id");
}
std::string dec(int64_t units) { return Decimal::fromUnits(units).toString(); }

struct Holding {
  std::string cid, owner, asset;
  int64_t units = 0;
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
  int64_t quantity = 0, amount = 0;
  int32_t date_days = 0;
  int sync = 0;
  bool active = true;
};

struct DvpLocks {
  std::vector<std::string> securities, cash;
  bool empty() const { return securities.empty() && cash.empty(); }
};

struct FreeIndex {
  int64_t free = 0;
  std::vector<std::map<uint64_t, std::string>> by_sync;  // creation order per synchronizer
};

struct AssetTotals {
  int64_t total = 0, locked = 0;
};

struct FaultState {
  bool down = false;
  double error_rate = 0;
  std::mt19937_64 rng{0};
  std::chrono::microseconds latency{0};
};

class InjectedSettleFailure {};

}  // namespace

struct EmbeddedLedger::Impl {
  Options opts;
  SystemClock system_clock;
  const Clock* clock = nullptr;
  std::shared_ptr<spdlog::logger> log = log::get("ledger");
  LedgerMetrics& m = ledgerMetrics();

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
  std::unordered_map<std::string, UpdateView> updates;
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
  std::string updateId(int64_t offset) const {
    std::string id = "1220";
    appendHex(id, epoch, 8);
    appendHex(id, splitmix(salt ^ static_cast<uint64_t>(offset)), 8);
    appendHex(id, static_cast<uint64_t>(offset), 16);
    return id;
  }
  std::string contractId(int64_t offset, int index) const {
    std::string id = "00";
    appendHex(id, static_cast<uint64_t>(offset), 16);
    appendHex(id, static_cast<uint64_t>(index), 4);
    appendHex(id, epoch, 8);
    appendHex(id, splitmix(salt + static_cast<uint64_t>(offset) * 65536 + index), 8);
    return id;
  }

  // ---- apply (the only place state changes; used live and on replay) ----
  Result<int> syncOf(const std::string& name) const {
    auto it = sync_index.find(name);
    if (it == sync_index.end()) {
      return Error::permanent(kInvalidCommand, "journal references unknown synchronizer '" +
                                                   name + "'; add it to the options");
    }
    return it->second;
  }

  void indexFree(const Holding& h) {
    auto& fi = free_index[key(h.owner, h.asset)];
    if (fi.by_sync.empty()) fi.by_sync.resize(sync_names.size());
    fi.by_sync[h.sync].emplace(h.seq, h.cid);
    fi.free += h.units;
  }
  void unindexFree(const Holding& h) {
    auto it = free_index.find(key(h.owner, h.asset));
    if (it == free_index.end()) return;
    it->second.by_sync[h.sync].erase(h.seq);
    it->second.free -= h.units;
  }
  bool usable(const Holding& h) const { return !h.locked() && !h.in_flight; }

  Result<void> applyOp(const journal::Op& op) {
    if (auto* o = std::get_if<journal::GenesisOp>(&op)) {
      salt = o->salt;
    } else if (auto* o = std::get_if<journal::PartyOp>(&op)) {
      party_by_hint[o->hint] = o->party_id;
      parties.insert(o->party_id);
    } else if (auto* o = std::get_if<journal::CreateHoldingOp>(&op)) {
      auto s = syncOf(o->synchronizer);
      if (!s) return s.error();
      Holding h;
      h.cid = o->contract_id;
      h.owner = o->owner;
      h.asset = o->asset;
      h.units = o->units;
      h.sync = *s;
      h.lock_dvp = o->lock_dvp;
      h.kind = o->lock_kind;
      h.seq = ++seq;
      auto& t = totals[h.asset];
      t.total += h.units;
      if (h.locked()) {
        t.locked += h.units;
        auto& l = locks[h.lock_dvp];
        (h.kind == LockKind::kSecurities ? l.securities : l.cash).push_back(h.cid);
      } else {
        indexFree(h);
      }
      by_owner[h.owner].insert(h.cid);
      holdings.emplace(h.cid, std::move(h));
    } else if (auto* o = std::get_if<journal::CreateDvpOp>(&op)) {
      auto s = syncOf(o->synchronizer);
      if (!s) return s.error();
      Dvp d;
      d.cid = o->contract_id;
      d.buyer = o->buyer;
      d.seller = o->seller;
      d.issuer = o->issuer;
      d.provider = o->provider;
      d.security = o->security;
      d.cash_asset = o->cash_asset;
      d.quantity = o->quantity_units;
      d.amount = o->amount_units;
      d.date_days = o->settlement_date_days;
      d.sync = *s;
      dvps.emplace(d.cid, std::move(d));
    } else if (auto* o = std::get_if<journal::ArchiveOp>(&op)) {
      if (o->dvp) {
        auto it = dvps.find(o->contract_id);
        if (it == dvps.end()) return invalid("journal archives unknown DvP " + o->contract_id);
        it->second.active = false;
      } else {
        auto it = holdings.find(o->contract_id);
        if (it == holdings.end()) return invalid("journal archives unknown holding " + o->contract_id);
        Holding& h = it->second;
        auto& t = totals[h.asset];
        t.total -= h.units;
        if (h.locked()) {
          t.locked -= h.units;
          auto lit = locks.find(h.lock_dvp);
          if (lit != locks.end()) {
            auto& v = h.kind == LockKind::kSecurities ? lit->second.securities : lit->second.cash;
            v.erase(std::remove(v.begin(), v.end(), h.cid), v.end());
            if (lit->second.empty()) locks.erase(lit);
          }
        } else {
          unindexFree(h);
        }
        auto oit = by_owner.find(h.owner);
        if (oit != by_owner.end()) oit->second.erase(h.cid);
        holdings.erase(it);
      }
    } else if (auto* o = std::get_if<journal::UnassignOp>(&op)) {
      auto s = syncOf(o->target);
      if (!s) return s.error();
      auto it = holdings.find(o->contract_id);
      if (it == holdings.end()) return invalid("journal unassigns unknown " + o->contract_id);
      if (usable(it->second)) unindexFree(it->second);
      it->second.in_flight = true;
      it->second.target = *s;
    } else if (auto* o = std::get_if<journal::AssignOp>(&op)) {
      auto s = syncOf(o->target);
      if (!s) return s.error();
      auto it = holdings.find(o->contract_id);
      if (it == holdings.end()) return invalid("journal assigns unknown " + o->contract_id);
      it->second.sync = *s;
      it->second.in_flight = false;
      it->second.target = -1;
      if (usable(it->second)) indexFree(it->second);
    }
    return {};
  }

  Result<void> apply(Record&& rec) {
    for (const auto& op : rec.ops) {
      auto r = applyOp(op);
      if (!r) return r;
    }
    if (rec.offset > 0) {
      ledger_end = rec.offset;
      UpdateView u;
      u.update_id = rec.update_id;
      u.offset = rec.offset;
      u.recorded_at = Timestamp(std::chrono::microseconds(rec.recorded_at_us));
      u.command_id = rec.command_id;
      updates.emplace(rec.update_id, std::move(u));
    }
    if (rec.completion && !rec.command_id.empty()) {
      completions.emplace(rec.command_id, std::move(*rec.completion));
    }
    return {};
  }

  // Journals (buffered until flush) and applies a built record. Fails only, changing nothing, when
  // the encoded record exceeds max_record_bytes: every other check was done while building it.
  [[nodiscard]] Result<void> commit(Record&& rec) {
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

  Record newTx(const std::string& command_id) {
    Record rec;
    rec.offset = ledger_end + 1;
    rec.update_id = updateId(rec.offset);
    rec.recorded_at_us = clock->now().time_since_epoch().count();
    rec.command_id = command_id;
    return rec;
  }

  Result<void> flushLocked() {
    if (wbuf.empty()) return {};
    if (!journaling()) {
      wbuf.clear();
      return {};
    }
    auto r = file.append(wbuf);
    if (!r) {
      // Memory holds effects the journal does not: stop accepting work until a restart
      // rebuilds the state from the journal (as PostgreSQL does on a WAL write failure).
      haltLocked("journal write to " + file.path() + " failed: " + r.error().message);
      wbuf.clear();
      return checkUsable().error();
    }
    stats.bytes_written += wbuf.size();
    m.journal_bytes.inc(wbuf.size());
    written.store(file.size(), std::memory_order_release);
    wbuf.clear();
    return {};
  }

  // Stops this instance for good (caller holds mu).
  void haltLocked(std::string reason) {
    if (broken) return;
    broken = true;
    halt_reason = std::move(reason);
    halted.store(true, std::memory_order_release);
    log->critical("ledger halted until restart: {}", halt_reason);
  }

  // Returns once journal bytes [0, target) are durable, sharing fdatasync calls (group commit).
  Result<void> ensureDurable(uint64_t target) {
    if (!journaling() || !opts.durable) return {};
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

  // For queries: what a query saw under mu (everything written so far) is returned only once it
  // is durable, so a reader never observes state that a failed fdatasync then loses.
  template <class T>
  Result<T> afterDurable(uint64_t end, T value) {
    if (auto d = ensureDurable(end); !d) return d.error();
    return value;
  }

  // ---- fault injection ----
  Result<void> touch(int s) {
    FaultState& f = faults[s];
    pending_latency += f.latency;
    if (f.down) {
      return Error::transient(kUnavailable, "synchronizer '" + sync_names[s] + "' is unavailable");
    }
    if (f.error_rate > 0) {
      std::uniform_real_distribution<double> u(0.0, 1.0);
      if (u(f.rng) < f.error_rate) {
        return Error::transient(kUnavailable, "synchronizer '" + sync_names[s] +
                                                  "' failed the request (injected)");
      }
    }
    return {};
  }
  Result<void> touchAll(const std::vector<int>& syncs) {
    std::vector<bool> seen(sync_names.size());
    for (int s : syncs) {
      if (seen[s]) continue;
      seen[s] = true;
      auto r = touch(s);
      if (!r) return r;
    }
    return {};
  }

  // ---- commands ----
  Result<const Dvp*> activeDvp(const std::string& cid) const {
    auto it = dvps.find(cid);
    if (it == dvps.end() || !it->second.active) return notActive(cid);
    return &it->second;
  }

  [[nodiscard]] Result<void> completionOnly(const std::string& command_id, Outcome& out) {
    out.offset = ledger_end;
    Record rec;
    rec.command_id = command_id;
    rec.completion = out;
    return commit(std::move(rec));
  }

  Result<Outcome> execute(const Submission& s) {
    if (s.command_id.empty()) return invalid("command id must not be empty", "command_id");
    if (auto it = completions.find(s.command_id); it != completions.end()) {
      Outcome o = it->second;
      o.deduplicated = true;
      m.commands_deduplicated.inc();
      return o;
    }
    auto r = std::visit([&](const auto& c) { return run(s.command_id, c); }, s.command);
    if (r) {
      m.commands_applied.inc();
    } else {
      m.countFailure(r.error().code);
    }
    return r;
  }

  Result<Outcome> run(const std::string& cmd, const CreateDvp& c) {
    if (!parties.count(c.buyer)) {
      return Error::permanent(kUnknownParty, "unknown party '" + c.buyer + "'", "buyer");
    }
    if (!parties.count(c.seller)) {
      return Error::permanent(kUnknownParty, "unknown party '" + c.seller + "'", "seller");
    }
    if (c.buyer == c.seller) return invalid("buyer and seller must differ", "seller");
    if (c.security.empty() || c.cash_asset.empty() || c.security == c.cash_asset) {
      return invalid("security and cash asset must be non-empty and differ", "security");
    }
    if (!c.quantity.isPositive()) return invalid("quantity must be positive", "quantity");
    if (!c.amount.isPositive()) return invalid("amount must be positive", "amount");
    if (auto t = touch(settle_sync); !t) return t.error();
    Record rec = newTx(cmd);
    journal::CreateDvpOp op;
    op.contract_id = contractId(rec.offset, 0);
    op.buyer = c.buyer;
    op.seller = c.seller;
    op.issuer = issuer;
    op.provider = provider;
    op.security = c.security;
    op.cash_asset = c.cash_asset;
    op.quantity_units = c.quantity.units();
    op.amount_units = c.amount.units();
    op.settlement_date_days = static_cast<int32_t>(c.settlement_date.time_since_epoch().count());
    op.synchronizer = sync_names[settle_sync];
    Outcome out;
    out.update_id = rec.update_id;
    out.offset = rec.offset;
    out.contract_id = op.contract_id;
    out.synchronizer = op.synchronizer;
    out.quantity = c.quantity;
    out.amount = c.amount;
    rec.ops.push_back(std::move(op));
    rec.completion = out;
    if (auto cr = commit(std::move(rec)); !cr) return cr.error();
    return out;
  }

  // Locks `units` (or, with allow_partial, what is available if less) of owner's asset to the DvP.
  Result<Outcome> lockAssets(const std::string& cmd, const Dvp& d, const std::string& owner,
                             const std::string& asset, int64_t units, bool allow_partial,
                             LockKind kind) {
    const bool sec = kind == LockKind::kSecurities;
    const char* what = sec ? "securities" : "cash";
    if (units <= 0) return invalid(std::string(what) + " to lock must be positive", sec ? "quantity" : "amount");
    if (units > (sec ? d.quantity : d.amount)) {
      return invalid(std::string("cannot lock ") + dec(units) + " " + asset + ", more than the DvP's " +
                         dec(sec ? d.quantity : d.amount),
                     sec ? "quantity" : "amount");
    }
    if (auto it = locks.find(d.cid); it != locks.end()) {
      const auto& existing = sec ? it->second.securities : it->second.cash;
      if (!existing.empty()) {
        return invalid("DvP " + d.cid + " already has " + what + " locked (" + existing.front() +
                       "); release them first");
      }
    }
    auto fit = free_index.find(key(owner, asset));
    int64_t available = fit == free_index.end() ? 0 : fit->second.free;
    int64_t need = units;
    if (available < units) {
      if (!(sec && allow_partial && available > 0)) {
        return Error::permanent(sec ? kInsufficientSecurities : kInsufficientCash,
                                "party " + owner + " has " + dec(available) + " " + asset +
                                    " available, needs " + dec(units));
      }
      need = available;
    }
    // Choose holdings: the DvP's synchronizer first (no reassignment needed), then the others.
    std::vector<int> order{d.sync};
    for (int s = 0; s < static_cast<int>(sync_names.size()); ++s) {
      if (s != d.sync) order.push_back(s);
    }
    struct Take {
      const Holding* h;
      int64_t units;
    };
    std::vector<std::vector<Take>> takes(sync_names.size());
    std::vector<int> touched;
    int64_t remaining = need;
    for (int s : order) {
      if (remaining == 0) break;
      for (const auto& [seq_no, cid] : fit->second.by_sync[s]) {
        const Holding& h = holdings.at(cid);
        int64_t take = std::min(remaining, h.units);
        takes[s].push_back({&h, take});
        touched.push_back(s);
        remaining -= take;
        if (remaining == 0) break;
      }
    }
    if (remaining != 0) {
      log->critical("free index of {} {} disagrees with its holdings", owner, asset);
      return invalid("internal error: free index inconsistent");
    }
    if (auto t = touchAll(touched); !t) return t.error();

    Record rec = newTx(cmd);
    int idx = 0;
    Outcome out;
    out.update_id = rec.update_id;
    out.offset = rec.offset;
    for (int s : order) {
      if (takes[s].empty()) continue;
      int64_t sum = 0;
      for (const auto& t : takes[s]) {
        rec.ops.push_back(journal::ArchiveOp{t.h->cid, false});
        if (t.units < t.h->units) {
          rec.ops.push_back(journal::CreateHoldingOp{contractId(rec.offset, idx++), owner, asset,
                                                     t.h->units - t.units, sync_names[s], "",
                                                     LockKind::kNone});
        }
        sum += t.units;
      }
      std::string lock_id = contractId(rec.offset, idx++);
      rec.ops.push_back(journal::CreateHoldingOp{lock_id, owner, asset, sum, sync_names[s], d.cid, kind});
      if (out.contract_id.empty()) {
        out.contract_id = lock_id;
        out.synchronizer = sync_names[s];
      }
    }
    (sec ? out.quantity : out.amount) = Decimal::fromUnits(need);
    rec.completion = out;
    if (auto cr = commit(std::move(rec)); !cr) return cr.error();
    return out;
  }

  Result<Outcome> run(const std::string& cmd, const LockSecurities& c) {
    auto d = activeDvp(c.dvp_contract_id);
    if (!d) return d.error();
    return lockAssets(cmd, **d, (*d)->seller, (*d)->security, c.quantity.units(), c.allow_partial,
                      LockKind::kSecurities);
  }

  Result<Outcome> run(const std::string& cmd, const LockCash& c) {
    auto d = activeDvp(c.dvp_contract_id);
    if (!d) return d.error();
    return lockAssets(cmd, **d, (*d)->buyer, (*d)->cash_asset, c.amount.units(), false,
                      LockKind::kCash);
  }

  std::vector<std::string> locksOf(const std::string& dvp_cid) const {
    std::vector<std::string> out;
    if (auto it = locks.find(dvp_cid); it != locks.end()) {
      out = it->second.securities;
      out.insert(out.end(), it->second.cash.begin(), it->second.cash.end());
    }
    return out;
  }

  Result<Outcome> run(const std::string& cmd, const ReassignLocks& c) {
    auto dit = dvps.find(c.dvp_contract_id);
    if (dit == dvps.end()) return notActive(c.dvp_contract_id);
    const int target = dit->second.sync;
    Outcome out;
    out.synchronizer = sync_names[target];
    bool moved = false;
    // Each unassign and assign is its own transaction (not atomic, as in Canton); the check of
    // where each contract sits makes the command idempotent although reassignments are not
    // deduplicated.
    for (const auto& cid : locksOf(c.dvp_contract_id)) {
      const Holding& h = holdings.at(cid);
      if (!h.in_flight && h.sync == target) continue;
      if (!h.in_flight) {
        if (auto t = touch(h.sync); !t) return t.error();
        Record un = newTx(cmd);
        un.ops.push_back(journal::UnassignOp{cid, sync_names[target]});
        if (auto cr = commit(std::move(un)); !cr) return cr.error();
      }
      if (auto t = touch(target); !t) {
        return Error::transient(kUnavailable, "contract " + cid + " is in flight to '" +
                                                  sync_names[target] + "': " + t.error().message);
      }
      Record as = newTx(cmd);
      as.ops.push_back(journal::AssignOp{cid, sync_names[target]});
      out.update_id = as.update_id;
      out.offset = as.offset;
      out.contract_id = cid;
      if (auto cr = commit(std::move(as)); !cr) return cr.error();
      moved = true;
    }
    // The completion is its own record: the command succeeded only once every lock arrived.
    Record done;
    done.command_id = cmd;
    if (!moved) out.offset = ledger_end;
    done.completion = out;
    if (auto cr = commit(std::move(done)); !cr) return cr.error();
    return out;
  }

  Result<Outcome> run(const std::string& cmd, const Settle& c) {
    int step = 0;
    const int fail_at = fail_settle_at;
    auto checkpoint = [&] {
      if (step == fail_at) {
        fail_settle_at = -1;
        throw InjectedSettleFailure{};
      }
      ++step;
    };
    try {
      checkpoint();  // step 0: validation
      auto dr = activeDvp(c.dvp_contract_id);
      if (!dr) return dr.error();
      const Dvp& d = **dr;
      auto lit = locks.find(d.cid);
      if (lit == locks.end() || lit->second.securities.empty()) {
        return invalid("DvP " + d.cid + " has no securities locked", "dvp_contract_id");
      }
      if (lit->second.cash.empty()) {
        return invalid("DvP " + d.cid + " has no cash locked", "dvp_contract_id");
      }
      const DvpLocks& l = lit->second;
      int64_t sec_units = 0, cash_units = 0;
      for (const auto* group : {&l.securities, &l.cash}) {
        for (const auto& cid : *group) {
          const Holding& h = holdings.at(cid);
          if (h.in_flight) {
            return Error::transient(kContractInFlight,
                                    "lock " + cid + " is in flight; reassign to complete");
          }
          if (h.sync != d.sync) {
            return invalid("lock " + cid + " sits on '" + sync_names[h.sync] + "', not on '" +
                           sync_names[d.sync] + "'; reassign the locks first");
          }
          (group == &l.securities ? sec_units : cash_units) += h.units;
        }
      }
      if (sec_units > d.quantity) return invalid("securities lock exceeds the DvP quantity");
      int64_t pay = d.amount;
      if (sec_units < d.quantity) {
        auto p = Decimal::fromUnits(d.amount)
                     .mulDiv(Decimal::fromUnits(sec_units), Decimal::fromUnits(d.quantity));
        if (!p) return p.error();
        pay = p->units();
      }
      if (cash_units < pay) {
        return invalid("cash lock " + dec(cash_units) + " is less than the " + dec(pay) +
                       " due for " + dec(sec_units) + " " + d.security);
      }
      if (auto t = touch(d.sync); !t) return t.error();

      Record rec = newTx(cmd);
      int idx = 0;
      const std::string& sync = sync_names[d.sync];
      for (const auto& cid : l.securities) {
        checkpoint();
        rec.ops.push_back(journal::ArchiveOp{cid, false});
      }
      for (const auto& cid : l.cash) {
        checkpoint();
        rec.ops.push_back(journal::ArchiveOp{cid, false});
      }
      Outcome out;
      out.update_id = rec.update_id;
      out.offset = rec.offset;
      out.contract_id = d.cid;
      out.synchronizer = sync;
      out.quantity = Decimal::fromUnits(sec_units);
      out.amount = Decimal::fromUnits(pay);
      checkpoint();
      out.buyer_securities_contract_id = contractId(rec.offset, idx++);
      rec.ops.push_back(journal::CreateHoldingOp{out.buyer_securities_contract_id, d.buyer,
                                                 d.security, sec_units, sync, "", LockKind::kNone});
      if (pay > 0) {
        checkpoint();
        out.seller_cash_contract_id = contractId(rec.offset, idx++);
        rec.ops.push_back(journal::CreateHoldingOp{out.seller_cash_contract_id, d.seller,
                                                   d.cash_asset, pay, sync, "", LockKind::kNone});
      }
      if (cash_units > pay) {  // over-locked cash goes back to the buyer
        checkpoint();
        rec.ops.push_back(journal::CreateHoldingOp{contractId(rec.offset, idx++), d.buyer,
                                                   d.cash_asset, cash_units - pay, sync, "",
                                                   LockKind::kNone});
      }
      checkpoint();
      rec.ops.push_back(journal::ArchiveOp{d.cid, true});
      if (sec_units < d.quantity) {
        checkpoint();
        journal::CreateDvpOp r;
        r.contract_id = contractId(rec.offset, idx++);
        r.buyer = d.buyer;
        r.seller = d.seller;
        r.issuer = d.issuer;
        r.provider = d.provider;
        r.security = d.security;
        r.cash_asset = d.cash_asset;
        r.quantity_units = d.quantity - sec_units;
        r.amount_units = d.amount - pay;
        r.settlement_date_days = d.date_days;
        r.synchronizer = sync;
        out.remainder_dvp_contract_id = r.contract_id;
        rec.ops.push_back(std::move(r));
      }
      checkpoint();  // last: commit
      rec.completion = out;
      last_settle_steps = step;
      if (fail_at >= step) fail_settle_at = -1;  // armed past the end: disarm, nothing to fail
      if (auto cr = commit(std::move(rec)); !cr) return cr.error();
      return out;
    } catch (const InjectedSettleFailure&) {
      return Error::transient(kUnavailable,
                              "settle aborted by injected failure at step " + std::to_string(step));
    }
  }

  Result<Outcome> run(const std::string& cmd, const ReleaseLocks& c) {
    auto ids = locksOf(c.dvp_contract_id);
    Outcome out;
    auto dit = dvps.find(c.dvp_contract_id);
    const bool archive = c.archive_dvp && dit != dvps.end() && dit->second.active;
    if (dit != dvps.end()) {
      out.synchronizer = sync_names[dit->second.sync];
      out.contract_id = dit->second.cid;
    }
    if (ids.empty() && !archive) {
      if (auto cr = completionOnly(cmd, out); !cr) return cr.error();
      return out;
    }
    // A lock in flight between synchronizers cannot be archived where it is: its assignment to
    // the DvP's synchronizer is finished first (its own transaction, as in Canton). Every
    // synchronizer involved is checked before anything is committed, so a failure changes nothing.
    std::vector<int> touched;
    for (const auto& cid : ids) {
      const Holding& h = holdings.at(cid);
      touched.push_back(h.in_flight ? dit->second.sync : h.sync);
    }
    if (archive) touched.push_back(dit->second.sync);
    if (auto t = touchAll(touched); !t) return t.error();
    for (const auto& cid : ids) {
      if (!holdings.at(cid).in_flight) continue;
      Record as = newTx(cmd);
      as.ops.push_back(journal::AssignOp{cid, sync_names[dit->second.sync]});
      if (auto cr = commit(std::move(as)); !cr) return cr.error();
    }
    Record rec = newTx(cmd);
    out.update_id = rec.update_id;
    out.offset = rec.offset;
    int idx = 0;
    int64_t sec = 0, cash = 0;
    for (const auto& cid : ids) {
      const Holding& h = holdings.at(cid);
      rec.ops.push_back(journal::ArchiveOp{cid, false});
      rec.ops.push_back(journal::CreateHoldingOp{contractId(rec.offset, idx++), h.owner, h.asset,
                                                 h.units, sync_names[h.sync], "", LockKind::kNone});
      (h.kind == LockKind::kSecurities ? sec : cash) += h.units;
    }
    if (archive) rec.ops.push_back(journal::ArchiveOp{dit->second.cid, true});
    out.quantity = Decimal::fromUnits(sec);
    out.amount = Decimal::fromUnits(cash);
    rec.completion = out;
    if (auto cr = commit(std::move(rec)); !cr) return cr.error();
    return out;
  }

  Result<Outcome> run(const std::string& cmd, const ArchiveDvp& c) {
    auto dit = dvps.find(c.dvp_contract_id);
    if (dit == dvps.end()) return notActive(c.dvp_contract_id);
    const Dvp& d = dit->second;
    Outcome out;
    out.contract_id = d.cid;
    out.synchronizer = sync_names[d.sync];
    if (!d.active) {
      if (auto cr = completionOnly(cmd, out); !cr) return cr.error();
      return out;
    }
    if (locks.count(d.cid)) return invalid("DvP " + d.cid + " still has locks; release them first");
    if (auto t = touch(d.sync); !t) return t.error();
    Record rec = newTx(cmd);
    out.update_id = rec.update_id;
    out.offset = rec.offset;
    rec.ops.push_back(journal::ArchiveOp{d.cid, true});
    rec.completion = out;
    if (auto cr = commit(std::move(rec)); !cr) return cr.error();
    return out;
  }

  HoldingView view(const Holding& h) const {
    HoldingView v;
    v.contract_id = h.cid;
    v.owner = h.owner;
    v.asset = h.asset;
    v.amount = Decimal::fromUnits(h.units);
    v.locked = h.locked();
    v.lock_dvp_contract_id = h.lock_dvp;
    v.synchronizer = sync_names[h.sync];
    v.in_flight = h.in_flight;
    return v;
  }

  DvpView dvpView(const Dvp& d) const;

  Result<void> checkUsable() const {
    if (broken) {
      return Error::transient(kUnavailable, "ledger halted: " + halt_reason +
                                                ". Nothing is acknowledged or served until a "
                                                "restart replays what is durable");
    }
    return {};
  }
};

// ---------------------------------------------------------------------------------------------

EmbeddedLedger::EmbeddedLedger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EmbeddedLedger::~EmbeddedLedger() = default;

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
    L.stats.records_replayed = replay->records;
    L.stats.tail_bytes_truncated = replay->truncated_bytes;
    L.epoch = replay->epoch;
    L.written = L.file.size();
    L.synced = L.file.size();
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

std::vector<Result<Outcome>> EmbeddedLedger::submit(std::span<const Submission> batch) {
  Impl& L = *impl_;
  std::vector<Result<Outcome>> results;
  results.reserve(batch.size());
  uint64_t end = 0;
  std::chrono::microseconds latency{0};
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) {
      for (size_t i = 0; i < batch.size(); ++i) results.emplace_back(u.error());
      return results;
    }
    for (const auto& s : batch) {
      L.pending_latency = std::chrono::microseconds{0};
      results.push_back(L.execute(s));
      latency += L.pending_latency;
    }
    if (auto f = L.flushLocked(); !f) {
      for (auto& r : results) r = f.error();
      return results;
    }
    end = L.written.load(std::memory_order_relaxed);
  }
  if (auto d = L.ensureDurable(end); !d) {
    for (auto& r : results) r = d.error();
  }
  if (latency.count() > 0) std::this_thread::sleep_for(latency);
  return results;
}

Result<Outcome> EmbeddedLedger::submitOne(const std::string& command_id, Command command) {
  Submission s{command_id, std::move(command)};
  return std::move(submit(std::span<const Submission>(&s, 1)).front());
}

Result<std::string> EmbeddedLedger::allocateParty(const std::string& hint) {
  Impl& L = *impl_;
  // A hint ("buyer") gets a fingerprint appended; an already full party id
  // ("securities-issuer::12345", as SECURITIES_ISSUER_PARTY names one) is registered as is.
  const size_t sep = hint.find("::");
  const bool full_id = sep != std::string::npos;
  if (!isValidExternalId(hint) ||
      (full_id && (sep == 0 || sep + 2 == hint.size() ||
                   hint.find("::", sep + 2) != std::string::npos))) {
    return invalid("party '" + hint +
                       "' must be a hint (1-64 of [A-Za-z0-9_.:-] without '::') or a full party "
                       "id '<hint>::<fingerprint>'",
                   "hint");
  }
  uint64_t end = 0;
  std::string id;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    if (auto it = L.party_by_hint.find(hint); it != L.party_by_hint.end()) return it->second;
    if (full_id) {
      id = hint;
    } else {
      id = hint + "::1220";
      for (uint64_t i = 0; i < 4; ++i) appendHex(id, hashString(hint, L.salt + i), 16);
    }
    Record rec;
    rec.ops.push_back(journal::PartyOp{hint, id});
    if (auto cr = L.commit(std::move(rec)); !cr) return cr.error();
    if (auto f = L.flushLocked(); !f) return f.error();
    end = L.written.load(std::memory_order_relaxed);
  }
  if (auto d = L.ensureDurable(end); !d) return d.error();
  return id;
}

Result<bool> EmbeddedLedger::partyExists(const std::string& party) {
  Impl& L = *impl_;
  uint64_t end = 0;
  bool exists = false;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    exists = L.parties.count(party) > 0;
    end = L.written.load(std::memory_order_relaxed);
  }
  return L.afterDurable(end, exists);
}

Result<HoldingView> EmbeddedLedger::credit(const std::string& party, const std::string& asset,
                                           Decimal amount, const std::string& synchronizer) {
  Impl& L = *impl_;
  uint64_t end = 0;
  HoldingView v;
  std::chrono::microseconds latency{0};
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    if (!L.parties.count(party)) {
      return Error::permanent(kUnknownParty, "unknown party '" + party + "'", "party");
    }
    if (asset.empty()) return invalid("asset must not be empty", "asset");
    if (!amount.isPositive()) return invalid("credit amount must be positive", "amount");
    auto sit = L.sync_index.find(synchronizer);
    if (sit == L.sync_index.end()) {
      return invalid("unknown synchronizer '" + synchronizer + "'", "synchronizer");
    }
    auto tit = L.totals.find(asset);
    int64_t total = tit == L.totals.end() ? 0 : tit->second.total;
    if (total > Decimal::kMaxUnits - amount.units()) {
      return invalid("the total of " + asset + " would exceed DECIMAL(18,8)", "amount");
    }
    L.pending_latency = std::chrono::microseconds{0};
    if (auto t = L.touch(sit->second); !t) return t.error();
    latency = L.pending_latency;
    Record rec = L.newTx("");
    journal::CreateHoldingOp op{L.contractId(rec.offset, 0), party, asset, amount.units(),
                                synchronizer, "", LockKind::kNone};
    std::string cid = op.contract_id;
    rec.ops.push_back(std::move(op));
    if (auto cr = L.commit(std::move(rec)); !cr) return cr.error();
    if (auto f = L.flushLocked(); !f) return f.error();
    end = L.written.load(std::memory_order_relaxed);
    v = L.view(L.holdings.at(cid));
  }
  if (auto d = L.ensureDurable(end); !d) return d.error();
  if (latency.count() > 0) std::this_thread::sleep_for(latency);
  return v;
}

Result<std::vector<HoldingView>> EmbeddedLedger::holdings(const std::string& party) {
  Impl& L = *impl_;
  uint64_t end = 0;
  std::vector<HoldingView> out;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    if (auto it = L.by_owner.find(party); it != L.by_owner.end()) {
      out.reserve(it->second.size());
      for (const auto& cid : it->second) out.push_back(L.view(L.holdings.at(cid)));
    }
    end = L.written.load(std::memory_order_relaxed);
  }
  return L.afterDurable(end, std::move(out));
}

std::vector<HoldingView> EmbeddedLedger::allHoldings() const {
  Impl& L = *impl_;
  std::lock_guard l(L.mu);
  std::vector<HoldingView> out;
  out.reserve(L.holdings.size());
  for (const auto& [cid, h] : L.holdings) out.push_back(L.view(h));
  std::sort(out.begin(), out.end(),
            [](const HoldingView& a, const HoldingView& b) { return a.contract_id < b.contract_id; });
  return out;
}

Result<std::optional<DvpView>> EmbeddedLedger::dvp(const std::string& contract_id) {
  Impl& L = *impl_;
  uint64_t end = 0;
  std::optional<DvpView> out;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    end = L.written.load(std::memory_order_relaxed);
    if (auto it = L.dvps.find(contract_id); it != L.dvps.end()) out = L.dvpView(it->second);
  }
  return L.afterDurable(end, std::move(out));
}

DvpView EmbeddedLedger::Impl::dvpView(const Dvp& d) const {
  DvpView v;
  v.contract_id = d.cid;
  v.active = d.active;
  v.buyer = d.buyer;
  v.seller = d.seller;
  v.security = d.security;
  v.cash_asset = d.cash_asset;
  v.quantity = Decimal::fromUnits(d.quantity);
  v.amount = Decimal::fromUnits(d.amount);
  v.synchronizer = sync_names[d.sync];
  return v;
}

Result<std::optional<UpdateView>> EmbeddedLedger::updateById(const std::string& update_id) {
  Impl& L = *impl_;
  uint64_t end = 0;
  std::optional<UpdateView> out;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    end = L.written.load(std::memory_order_relaxed);
    if (auto it = L.updates.find(update_id); it != L.updates.end()) out = it->second;
  }
  return L.afterDurable(end, std::move(out));
}

Result<std::optional<Outcome>> EmbeddedLedger::completion(const std::string& command_id) {
  Impl& L = *impl_;
  uint64_t end = 0;
  std::optional<Outcome> out;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    end = L.written.load(std::memory_order_relaxed);
    if (auto it = L.completions.find(command_id); it != L.completions.end()) out = it->second;
  }
  return L.afterDurable(end, std::move(out));
}

Result<std::vector<AssetTotal>> EmbeddedLedger::totals() {
  Impl& L = *impl_;
  uint64_t end = 0;
  std::vector<AssetTotal> out;
  {
    std::lock_guard l(L.mu);
    if (auto u = L.checkUsable(); !u) return u.error();
    end = L.written.load(std::memory_order_relaxed);
    out.reserve(L.totals.size());
    for (const auto& [asset, t] : L.totals) {
      out.push_back({asset, Decimal::fromUnits(t.total), Decimal::fromUnits(t.locked)});
    }
  }
  return L.afterDurable(end, std::move(out));
}

std::vector<std::string> EmbeddedLedger::synchronizers() const { return impl_->sync_names; }

Result<void> EmbeddedLedger::ping() {
  std::lock_guard l(impl_->mu);
  return impl_->checkUsable();  // names the failure that halted this instance
}

std::string EmbeddedLedger::securitiesIssuer() const { return impl_->issuer; }
std::string EmbeddedLedger::cashProvider() const { return impl_->provider; }
const std::string& EmbeddedLedger::settlementSynchronizer() const {
  return impl_->sync_names[impl_->settle_sync];
}
int64_t EmbeddedLedger::ledgerEnd() const {
  std::lock_guard l(impl_->mu);
  return impl_->ledger_end;
}

Result<void> EmbeddedLedger::verifyIntegrity() const {
  Impl& L = *impl_;
  std::lock_guard l(L.mu);
  std::map<std::string, AssetTotals> totals;
  std::unordered_map<std::string, int64_t> free;
  std::unordered_map<std::string, std::pair<size_t, size_t>> lock_counts;
  for (const auto& [cid, h] : L.holdings) {
    if (h.units <= 0) return invalid("holding " + cid + " has non-positive amount");
    auto& t = totals[h.asset];
    t.total += h.units;
    if (h.locked()) {
      t.locked += h.units;
      auto& c = lock_counts[h.lock_dvp];
      (h.kind == LockKind::kSecurities ? c.first : c.second)++;
    } else if (!h.in_flight) {
      free[Impl::key(h.owner, h.asset)] += h.units;
    }
    auto oit = L.by_owner.find(h.owner);
    if (oit == L.by_owner.end() || !oit->second.count(cid)) {
      return invalid("holding " + cid + " missing from its owner's index");
    }
  }
  for (const auto& [asset, t] : L.totals) {
    auto it = totals.find(asset);
    AssetTotals r = it == totals.end() ? AssetTotals{} : it->second;
    if (r.total != t.total || r.locked != t.locked) {
      return invalid("totals of " + asset + " disagree with contracts: " + dec(t.total) + "/" +
                     dec(t.locked) + " vs " + dec(r.total) + "/" + dec(r.locked));
    }
  }
  for (const auto& [k, fi] : L.free_index) {
    int64_t sum = 0;
    for (const auto& m : fi.by_sync) {
      for (const auto& [seq_no, cid] : m) {
        auto it = L.holdings.find(cid);
        if (it == L.holdings.end() || !L.usable(it->second)) {
          return invalid("free index lists unusable contract " + cid);
        }
        sum += it->second.units;
      }
    }
    auto f = free.find(k);
    int64_t expect = f == free.end() ? 0 : f->second;
    if (sum != fi.free || sum != expect) return invalid("free total mismatch for " + k);
  }
  for (const auto& [dvp_cid, dl] : L.locks) {
    auto c = lock_counts[dvp_cid];
    if (c.first != dl.securities.size() || c.second != dl.cash.size()) {
      return invalid("lock index mismatch for DvP " + dvp_cid);
    }
  }
  return {};
}

void EmbeddedLedger::setOutage(const std::string& synchronizer, bool down) {
  std::lock_guard l(impl_->mu);
  if (auto it = impl_->sync_index.find(synchronizer); it != impl_->sync_index.end()) {
    impl_->faults[it->second].down = down;
    impl_->log->debug("fault injection: synchronizer {} {}", synchronizer, down ? "down" : "up");
  }
}

void EmbeddedLedger::setErrorRate(const std::string& synchronizer, double rate, uint64_t seed) {
  std::lock_guard l(impl_->mu);
  if (auto it = impl_->sync_index.find(synchronizer); it != impl_->sync_index.end()) {
    auto& f = impl_->faults[it->second];
    f.error_rate = std::clamp(rate, 0.0, 1.0);
    f.rng.seed(seed);
  }
}

void EmbeddedLedger::setLatency(const std::string& synchronizer,
                                std::chrono::microseconds latency) {
  std::lock_guard l(impl_->mu);
  if (auto it = impl_->sync_index.find(synchronizer); it != impl_->sync_index.end()) {
    impl_->faults[it->second].latency = latency;
  }
}

void EmbeddedLedger::failNextSettleAt(int step) {
  std::lock_guard l(impl_->mu);
  impl_->fail_settle_at = step;
}

int EmbeddedLedger::lastSettleSteps() const {
  std::lock_guard l(impl_->mu);
  return impl_->last_settle_steps;
}

EmbeddedLedger::Stats EmbeddedLedger::stats() const {
  std::lock_guard l(impl_->mu);
  Stats s = impl_->stats;
  s.fsyncs = impl_->fsync_count.load();
  s.durable_bytes = impl_->synced.load();
  s.epoch = impl_->journaling() ? impl_->epoch : 0;
  return s;
}

void EmbeddedLedger::failNextSyncs(int count, int error_number) {
  impl_->fail_syncs_errno = error_number;
  impl_->fail_syncs_left = count;
}

void EmbeddedLedger::setSyncHook(std::function<void()> hook) {
  std::lock_guard sl(impl_->sync_mu);
  impl_->sync_hook = std::move(hook);
}

}  // namespace sc::ledger

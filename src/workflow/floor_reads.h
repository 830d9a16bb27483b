#pragma once
// Ledger ends read as floors that a database write has not recorded yet.
//
// A row leased for the first time records as its ledger_offset_floor a ledger end its worker read
// just before the lease (Workflow::runOnce), and an operator retry records one as the new round's
// step_offset_floor (Workflow::retry). Between that read and the commit, the floor is in no
// database row, so the pruner's watermark (the least active floor, workflow/ledger_pruner.h)
// cannot see it: a pass in that window could prune past it, and the row's every command would
// then be refused with ledger_pruned, without end. Each such read is therefore held here until its
// write has committed or failed, and the pruner reads the least held floor before it reads the
// database: a hold it does not see was released after its write committed, so the database read
// that follows sees the floor. Exact within a process, which is every writer of an embedded
// ledger (DESIGN §5: its data directory is locked to one process), however long the write takes
// to return. A write that returns an error may still commit later (its answer lost: the client's
// I/O timeout ended it while the server was still committing, e.g. a stalled flush): its hold is
// then kept for kDoubtful more (keepFor), far longer than any such commit takes once the client
// has given up, so the floor stays held until that commit is visible.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "domain/result.h"
#include "domain/time.h"

namespace sc::workflow {

class FloorReads {
 public:
  // How long a hold is kept after a write that failed (keepFor): its commit may still land.
  static constexpr std::chrono::minutes kDoubtful{10};

  explicit FloorReads(const MonotonicClock& elapsed = SteadyClock::instance())
      : elapsed_(elapsed) {}

  // Releases its floor when destroyed: once the write that records it has returned.
  class Hold {
   public:
    Hold(Hold&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), it_(o.it_) {}
    Hold& operator=(Hold&&) = delete;
    Hold(const Hold&) = delete;
    ~Hold() {
      if (owner_) owner_->release(it_, std::chrono::nanoseconds::zero());
    }
    int64_t floor() const { return *it_; }
    // The write failed and may still commit: the floor stays held `for_` longer than this hold.
    void keepFor(std::chrono::nanoseconds for_) {
      if (owner_) std::exchange(owner_, nullptr)->release(it_, for_);
    }

   private:
    friend class FloorReads;
    Hold(FloorReads* owner, std::multiset<int64_t>::iterator it) : owner_(owner), it_(it) {}
    FloorReads* owner_;
    std::multiset<int64_t>::iterator it_;
  };

  // Reads a floor with `read` (a Result<int64_t>, e.g. Ledger::knownLedgerEnd) and holds it. The
  // read runs under the lock least() takes, so no pass sees neither the hold nor the row.
  template <typename Read>
  Result<Hold> read(Read&& read) {
    std::lock_guard l(mu_);
    dropExpired();
    Result<int64_t> floor = read();
    if (!floor) return floor.error();
    return Hold(this, held_.insert(*floor));
  }

  // The least floor held now (by a live hold, or kept after a failed write); nullopt when none.
  std::optional<int64_t> least() const {
    std::lock_guard l(mu_);
    dropExpired();
    if (held_.empty()) return std::nullopt;
    return *held_.begin();
  }

 private:
  // Drops the holds kept past their time: on every read and release too, not only when a pruner
  // asks (none may run), so failed writes cannot pile up. Under mu_.
  void dropExpired() const {
    const auto now = elapsed_.now();
    while (!kept_.empty() && kept_.begin()->first <= now) {
      held_.erase(kept_.begin()->second);
      kept_.erase(kept_.begin());
    }
  }
  void release(std::multiset<int64_t>::iterator it, std::chrono::nanoseconds keep) {
    std::lock_guard l(mu_);
    dropExpired();
    if (keep > std::chrono::nanoseconds::zero())
      kept_.emplace(elapsed_.now() + keep, it);
    else
      held_.erase(it);
  }

  const MonotonicClock& elapsed_;
  mutable std::mutex mu_;
  // Mutable: least() drops what was kept past its time.
  mutable std::multiset<int64_t> held_;
  mutable std::multimap<MonotonicClock::TimePoint, std::multiset<int64_t>::iterator> kept_;
};

}  // namespace sc::workflow

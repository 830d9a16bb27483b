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
// to return. One gap is left: a write whose answer is lost (the client's I/O timeout, 35 s by
// default, ends it while the server still commits it later, e.g. a stalled flush) releases its
// hold when it returns, before that commit. A pass in between may then prune past the floor, and
// the row is refused (ledger_pruned) at every attempt: stuck, never run twice. To be closed by
// keeping the hold of a write that failed that way for longer than such a commit can take.
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "domain/result.h"

namespace sc::workflow {

class FloorReads {
 public:
  // Releases its floor when destroyed: once the write that records it has returned.
  class Hold {
   public:
    Hold(Hold&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), it_(o.it_) {}
    Hold& operator=(Hold&&) = delete;
    Hold(const Hold&) = delete;
    ~Hold() {
      if (owner_) owner_->release(it_);
    }
    int64_t floor() const { return *it_; }

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
    Result<int64_t> floor = read();
    if (!floor) return floor.error();
    return Hold(this, held_.insert(*floor));
  }

  // The least floor held now; nullopt when none is.
  std::optional<int64_t> least() const {
    std::lock_guard l(mu_);
    if (held_.empty()) return std::nullopt;
    return *held_.begin();
  }

 private:
  void release(std::multiset<int64_t>::iterator it) {
    std::lock_guard l(mu_);
    held_.erase(it);
  }

  mutable std::mutex mu_;
  std::multiset<int64_t> held_;
};

}  // namespace sc::workflow

#include "ledger/canton/completion_index.h"

#include <algorithm>

namespace sc::ledger::canton {

std::optional<CompletionIndex::Entry> CompletionIndex::entry(const std::string& command_id) const {
  auto it = by_command_.find(command_id);
  if (it == by_command_.end()) return std::nullopt;
  return it->second;
}

int64_t CompletionIndex::readFrom(int64_t after) const {
  return from_ <= after && after <= to_ ? to_ : after;
}

void CompletionIndex::add(const std::string& command_id, const std::string& update_id,
                          int64_t offset) {
  auto [it, added] = by_command_.try_emplace(command_id, Entry{update_id, offset});
  if (!added) {
    // A reassignment completes twice under one id (the unassignment, then the assignment): the
    // later completion is the one that says where the contract ended up (of two at one offset,
    // the one read later: the stream is in offset order).
    if (offset < it->second.offset) return;
    auto [lo, hi] = by_offset_.equal_range(it->second.offset);
    for (auto o = lo; o != hi; ++o) {
      if (o->second == command_id) {
        by_offset_.erase(o);
        break;
      }
    }
    it->second = Entry{update_id, offset};
  }
  by_offset_.emplace(offset, command_id);
  evict();
}

void CompletionIndex::readThrough(int64_t begin, int64_t last) {
  last = std::max(begin, last);
  if (begin <= to_ && last >= from_) {
    from_ = std::min(from_, begin);
    to_ = std::max(to_, last);
  } else if (begin > to_) {
    from_ = begin;
    to_ = last;
  }  // else wholly before the stretch: a read still on its way to it, recorded once it joins
  // What eviction forgot before this read may lie inside the stretch just joined: it starts after
  // the greatest offset forgotten.
  from_ = std::max(from_, forgotten_);
  to_ = std::max(to_, from_);
}

void CompletionIndex::evict() {
  while (by_command_.size() > capacity_ && !by_offset_.empty()) {
    auto lowest = by_offset_.begin();
    forgotten_ = std::max(forgotten_, lowest->first);
    by_command_.erase(lowest->second);
    by_offset_.erase(lowest);
  }
  from_ = std::max(from_, forgotten_);
  to_ = std::max(to_, from_);
}

void CompletionIndex::clear() {
  by_command_.clear();
  by_offset_.clear();
  from_ = to_ = forgotten_ = 0;
  ++generation_;
}

}  // namespace sc::ledger::canton

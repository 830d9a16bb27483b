// CompletionIndex: which update each command id completed with, as the adapter has read from the
// participant's completion stream — bounded, and knowing which stretch of the stream it holds
// entirely, so a lookup reads only what it has not read yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

namespace sc::ledger::canton {

class CompletionIndex {
 public:
  explicit CompletionIndex(size_t capacity) : capacity_(capacity) {}

  struct Entry {
    std::string update_id;
    int64_t offset = 0;
  };
  // The latest completion of the id held, if any.
  std::optional<Entry> entry(const std::string& command_id) const;

  // Where a lookup of a command id first submitted after offset `after` starts reading the stream
  // (exclusive): the end of the stretch held entirely when that stretch covers `after` (every
  // completion up to there is in the index already), else `after` itself.
  int64_t readFrom(int64_t after) const;

  // A successful completion: from the stream, or from a submission's own answer. Of two under one
  // id, the later offset's is kept (at one offset, the one added last).
  void add(const std::string& command_id, const std::string& update_id, int64_t offset);

  // Every completion in (begin, last] has been add()ed (the stream was read from `begin` without a
  // gap, `last` the greatest offset read, or `begin` when it had nothing). Joined to the stretch
  // held when they overlap; a read wholly after it replaces it (the newer stretch is the one
  // lookups need); one wholly before it is not recorded (a read from an older floor records its
  // progress as it goes, and joins the stretch when it reaches it).
  void readThrough(int64_t begin, int64_t last);

  // Forgets everything, and starts a new generation: a read begun before must not record what it
  // read from the history that was forgotten (it checks generation() before each add).
  void clear();
  uint64_t generation() const { return generation_; }
  size_t size() const { return by_command_.size(); }
  // The stretch held entirely: (first, second].
  std::pair<int64_t, int64_t> complete() const { return {from_, to_}; }

 private:
  // Forgets the lowest offsets beyond capacity_: the stretch held entirely then starts after them.
  void evict();

  size_t capacity_;
  std::unordered_map<std::string, Entry> by_command_;
  std::multimap<int64_t, std::string> by_offset_;
  int64_t from_ = 0, to_ = 0;  // (from_, to_] held entirely; nothing when equal
  int64_t forgotten_ = 0;      // the greatest offset evicted: nothing at or below it is held whole
  uint64_t generation_ = 0;
};

}  // namespace sc::ledger::canton

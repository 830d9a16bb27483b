// CompletionIndex: the stretch of the completion stream held entirely decides where a lookup reads
// from; eviction keeps it bounded and never lets it claim what it forgot.
#include "ledger/canton/completion_index.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace {

using sc::ledger::canton::CompletionIndex;

// The update the index holds for `id`, if any.
std::optional<std::string> updateOf(const CompletionIndex& ix, const std::string& id) {
  auto e = ix.entry(id);
  if (!e) return std::nullopt;
  return e->update_id;
}

// Reads the "stream" (one completion per offset, command "c<offset>") from `begin` to `end`, as
// the adapter does.
void read(CompletionIndex& ix, int64_t begin, int64_t end) {
  for (int64_t o = begin + 1; o <= end; ++o)
    ix.add("c" + std::to_string(o), "u" + std::to_string(o), o);
  ix.readThrough(begin, end);
}

TEST(CompletionIndex, ALookupReadsFromTheFloorThenOnlyWhatIsNew) {
  CompletionIndex ix(100);
  EXPECT_EQ(ix.readFrom(40), 40);  // nothing held: from the floor
  read(ix, 40, 50);
  EXPECT_EQ(ix.complete(), std::make_pair(int64_t{40}, int64_t{50}));
  EXPECT_EQ(updateOf(ix, "c45"), "u45");
  EXPECT_FALSE(updateOf(ix, "c40"));  // before the floor: never read
  EXPECT_EQ(ix.readFrom(42), 50);     // held up to 50: only what follows
  EXPECT_EQ(ix.readFrom(50), 50);
  EXPECT_EQ(ix.readFrom(30), 30);  // an older floor: the stretch does not cover it
  read(ix, 30, 55);
  EXPECT_EQ(ix.complete(), std::make_pair(int64_t{30}, int64_t{55}));
  EXPECT_EQ(ix.readFrom(70), 70);  // a floor past what was read: from there
  read(ix, 70, 80);
  EXPECT_EQ(ix.complete(), std::make_pair(int64_t{70}, int64_t{80}));
  EXPECT_EQ(updateOf(ix, "c52"), "u52");  // what was learnt before is still known
}

// A lookup from a floor before the stretch reads the gap page by page, then skips what is held.
TEST(CompletionIndex, AReadFromAnOlderFloorJoinsTheStretchAndSkipsIt) {
  CompletionIndex ix(100);
  read(ix, 40, 50);
  int64_t begin = ix.readFrom(20);
  EXPECT_EQ(begin, 20);
  read(ix, 20, 30);  // a first page: still before the stretch, not recorded yet
  EXPECT_EQ(ix.complete(), std::make_pair(int64_t{40}, int64_t{50}));
  EXPECT_EQ(ix.readFrom(30), 30);
  read(ix, 20, 45);  // the next page reaches it: joined, and the lookup jumps to its end
  EXPECT_EQ(ix.complete(), std::make_pair(int64_t{20}, int64_t{50}));
  EXPECT_EQ(ix.readFrom(45), 50);
}

TEST(CompletionIndex, AnAnswerLearntFromASubmissionDoesNotWidenTheStretch) {
  CompletionIndex ix(100);
  read(ix, 0, 10);
  ix.add("mine", "u20", 20);
  EXPECT_EQ(updateOf(ix, "mine"), "u20");
  EXPECT_EQ(ix.readFrom(5), 10);  // 11..19 were never read
}

// A reassignment's unassignment and assignment complete under one command id.
TEST(CompletionIndex, OfTwoCompletionsUnderOneIdTheLaterIsKept) {
  CompletionIndex ix(2);
  ix.add("reassign", "unassigned", 5);
  ix.add("reassign", "assigned", 7);
  ix.add("reassign", "unassigned", 5);  // read again from an older floor
  EXPECT_EQ(updateOf(ix, "reassign"), "assigned");
  EXPECT_EQ(ix.entry("reassign")->offset, 7);
  ix.add("moved", "unassigned", 6);  // the sandbox gives both halves one offset
  ix.add("moved", "assigned", 6);
  EXPECT_EQ(updateOf(ix, "moved"), "assigned");
  ix.add("a", "ua", 8);
  ix.add("b", "ub", 9);  // over capacity: the lowest offsets, 6 and 7, go
  EXPECT_FALSE(updateOf(ix, "moved"));
  EXPECT_FALSE(updateOf(ix, "reassign"));
  EXPECT_EQ(ix.size(), 2u);
}

TEST(CompletionIndex, EvictionForgetsTheOldestAndTheStretchStartsAfterThem) {
  CompletionIndex ix(10);
  read(ix, 0, 25);
  EXPECT_EQ(ix.size(), 10u);
  EXPECT_FALSE(updateOf(ix, "c15"));
  EXPECT_EQ(updateOf(ix, "c16"), "u16");
  EXPECT_EQ(ix.complete(), std::make_pair(int64_t{15}, int64_t{25}));
  EXPECT_EQ(ix.readFrom(5), 5);    // what it forgot is read again
  EXPECT_EQ(ix.readFrom(20), 25);  // what it holds is not
  // A second read joined to the first cannot claim the forgotten stretch either.
  read(ix, 5, 12);
  EXPECT_GE(ix.complete().first, 15);
}

TEST(CompletionIndex, ClearForgetsEverything) {
  CompletionIndex ix(10);
  read(ix, 0, 5);
  const uint64_t before = ix.generation();
  ix.clear();
  EXPECT_NE(ix.generation(), before);  // a read begun before the clear can tell
  EXPECT_FALSE(updateOf(ix, "c3"));
  EXPECT_EQ(ix.readFrom(0), 0);
  EXPECT_EQ(ix.complete(), std::make_pair(int64_t{0}, int64_t{0}));
}

}  // namespace

// The simulator in ctest (label sim): a fixed range of seeds, plus the seeds that once found a bug
// (each one a regression test). More seeds: tests/sim/run --seeds N.
#include <gtest/gtest.h>

#include "common/log.h"
#include "sim/simulator.h"

namespace sc::test::sim {
namespace {

class Seeds : public ::testing::TestWithParam<uint64_t> {
 protected:
  static void SetUpTestSuite() { sc::log::setLevel("ERROR"); }
};

TEST_P(Seeds, InvariantsHoldThroughFaultsAndAtRest) {
  auto r = runSeed(GetParam());
  EXPECT_TRUE(r.ok) << r.failure << "\n  replay: tests/sim/run --seed " << GetParam()
                    << " --verbose";
}

// 1..200 in blocks of 20 per test so ctest can run them in parallel.
class SeedBlock : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() { sc::log::setLevel("ERROR"); }
};

TEST_P(SeedBlock, TwentySeedsHold) {
  for (uint64_t s = GetParam() * 20 + 1; s <= static_cast<uint64_t>(GetParam() * 20 + 20); ++s) {
    auto r = runSeed(s);
    EXPECT_TRUE(r.ok) << "seed " << s << ": " << r.failure << "\n  replay: tests/sim/run --seed "
                      << s << " --verbose";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixed, SeedBlock, ::testing::Range(0, 10));

// Seeds that caught a bug: 34, 175 and 243 fail when a failure at PENDING is recorded without
// fencing the round (a stale worker then settles a FAILED trade; 243 strands a lock).
// 132, 1690 and 2507 found a real one: after releasing a failing round, a completion query that
// failed was taken for "nothing settled", so a trade whose settle had committed was recorded
// FAILED (and a manual retry then settled it twice).
INSTANTIATE_TEST_SUITE_P(Regressions, Seeds,
                         ::testing::Values<uint64_t>(34, 175, 243, 132, 1690, 2507));

}  // namespace
}  // namespace sc::test::sim

// workflow::Throughput on its own: latency buckets, sliding windows of whole seconds, percentiles
// against known distributions, and memory that stays bounded however long it runs.
#include "workflow/throughput.h"

#include <gtest/gtest.h>

namespace sc::workflow {
namespace {

using namespace std::chrono_literals;

const Timestamp kT0 = Timestamp(std::chrono::seconds(1'731'860'000));  // a whole second

TEST(ThroughputBuckets, EveryBucketsUpperBoundIsInItAndTheNextValueIsNot) {
  for (int b = 0; b + 1 < Throughput::kBuckets; ++b) {
    const Duration upper = Throughput::bucketUpperBound(b);
    EXPECT_EQ(Throughput::bucketOf(upper), b) << "bucket " << b;
    EXPECT_EQ(Throughput::bucketOf(upper + 1us), b + 1) << "bucket " << b;
  }
}

TEST(ThroughputBuckets, AnUpperBoundIsAtMostAnEighthAboveAnyValueOfItsBucket) {
  for (int64_t us : {9, 100, 999, 1000, 12'345, 250'000, 1'999'999, 60'000'000}) {
    const Duration upper = Throughput::bucketUpperBound(Throughput::bucketOf(Duration(us)));
    EXPECT_GE(upper.count(), us);
    EXPECT_LE(static_cast<double>(upper.count()), us * 1.125) << us;
  }
  EXPECT_EQ(Throughput::bucketOf(-5us), 0);  // clocks of two instances disagreeing
  EXPECT_EQ(Throughput::bucketOf(Duration(INT64_MAX)), Throughput::kBuckets - 1);
}

TEST(ThroughputWindow, CountsWholeSecondsBeforeTheCurrentOneWithinTheSpan) {
  Throughput t;
  t.accepted(kT0 - 61s, 100);  // before a 60 s window
  t.accepted(kT0 - 60s, 7);    // its first second
  t.accepted(kT0 - 1s + 999ms, 3);
  t.accepted(kT0 + 10ms, 50);  // the current second: still filling, not counted
  t.settled(kT0 - 2s, 4);
  auto w = t.window(kT0 + 500ms, 60s);
  EXPECT_EQ(w.span, 60s);
  EXPECT_EQ(w.accepted, 10);
  EXPECT_EQ(w.settled, 4);
  EXPECT_DOUBLE_EQ(w.perSecond(w.accepted), 10.0 / 60);
  EXPECT_EQ(w.latency_count, 0);
  EXPECT_FALSE(w.p50.has_value());
  // A second later the current second is complete, and the oldest one has left the window.
  auto next = t.window(kT0 + 1s, 60s);
  EXPECT_EQ(next.accepted, 3 + 50);
}

TEST(ThroughputWindow, PercentilesOfAKnownDistributionAreTheirBucketsUpperBounds) {
  Throughput t;
  // 1..100 ms, one each: p50 = 50 ms, p90 = 90 ms, p99 = 99 ms, max = 100 ms.
  for (int ms = 1; ms <= 100; ++ms)
    t.confirmed(kT0 - 10s + std::chrono::milliseconds(ms), std::chrono::milliseconds(ms));
  auto w = t.window(kT0, 300s);
  EXPECT_EQ(w.confirmed, 100);
  EXPECT_EQ(w.latency_count, 100);
  auto near = [](std::optional<Duration> got, Duration exact) {
    ASSERT_TRUE(got.has_value());
    EXPECT_GE(*got, exact);
    EXPECT_LE(static_cast<double>(got->count()), exact.count() * 1.125);
  };
  near(w.p50, 50ms);
  near(w.p90, 90ms);
  near(w.p99, 99ms);
  EXPECT_EQ(w.max, 100ms);
  EXPECT_LE(*w.p99, *w.max);  // never above the largest latency seen
}

TEST(ThroughputWindow, OneSlowConfirmationAmongManyMovesOnlyTheTopPercentiles) {
  Throughput t;
  for (int i = 0; i < 999; ++i) t.confirmed(kT0 - 5s, 2ms);
  t.confirmed(kT0 - 5s, 3s);
  auto w = t.window(kT0, 60s);
  EXPECT_LE(*w.p50, 2ms * 1.125);
  EXPECT_LE(*w.p99, 2ms * 1.125);  // the 990th of 1000 is still a fast one
  EXPECT_EQ(w.max, 3s);
}

TEST(ThroughputWindow, OldSecondsAreForgottenAndMemoryStaysBounded) {
  Throughput t;
  // An hour of traffic, one confirmation a second: only the last kSlots seconds remain.
  for (int s = 0; s < 3600; ++s) t.confirmed(kT0 + std::chrono::seconds(s), 1ms);
  auto w = t.window(kT0 + 3600s, 3600s);
  EXPECT_EQ(w.span, std::chrono::seconds(Throughput::kSlots));  // clamped to what is kept
  EXPECT_EQ(w.confirmed, Throughput::kSlots);
  // Long quiet: nothing left in any window.
  EXPECT_EQ(t.window(kT0 + 2h, 300s).confirmed, 0);
}

TEST(ThroughputSeries, OneEntryPerSecondOldestFirstWithZerosForQuietSeconds) {
  Throughput t;
  t.accepted(kT0 - 3s, 2);
  t.confirmed(kT0 - 1s, 1ms);
  auto s = t.series(kT0 + 200ms, 4);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].at, kT0 - 4s);
  EXPECT_EQ(s[3].at, kT0 - 1s);
  EXPECT_EQ(s[1].accepted, 2);
  EXPECT_EQ(s[0].accepted + s[2].accepted + s[3].accepted, 0);
  EXPECT_EQ(s[3].confirmed, 1);
}

}  // namespace
}  // namespace sc::workflow

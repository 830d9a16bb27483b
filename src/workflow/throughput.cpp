#include "workflow/throughput.h"

#include <algorithm>
#include <bit>

namespace sc::workflow {
namespace {

int64_t secondOf(Timestamp t) {
  return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
}

// Slot index of a second (seconds before the epoch included).
size_t indexOf(int64_t second) {
  int64_t i = second % Throughput::kSlots;
  return static_cast<size_t>(i < 0 ? i + Throughput::kSlots : i);
}

}  // namespace

Throughput::Throughput() : slots_(kSlots) {}

int Throughput::bucketOf(Duration latency) {
  const int64_t us = latency.count();
  if (us < 8) return static_cast<int>(std::max<int64_t>(us, 0));
  const int e = std::bit_width(static_cast<uint64_t>(us)) - 1;  // 2^e <= us < 2^(e+1), e >= 3
  const int mantissa = static_cast<int>((us >> (e - 3)) & 7);
  return std::min(8 + (e - 3) * 8 + mantissa, kBuckets - 1);
}

Duration Throughput::bucketUpperBound(int bucket) {
  if (bucket < 8) return Duration(bucket);
  const int e = (bucket - 8) / 8 + 3;
  const int64_t mantissa = (bucket - 8) % 8;
  return Duration(((8 + mantissa + 1) << (e - 3)) - 1);
}

Throughput::Slot& Throughput::slotFor(Timestamp at) {
  const int64_t second = secondOf(at);
  Slot& s = slots_[indexOf(second)];
  if (s.second != second) s = Slot{second};
  return s;
}

void Throughput::accepted(Timestamp at, int64_t n) {
  std::lock_guard l(mu_);
  slotFor(at).accepted += n;
}

void Throughput::settled(Timestamp at, int64_t n) {
  std::lock_guard l(mu_);
  slotFor(at).settled += n;
}

void Throughput::confirmed(Timestamp at, Duration latency) {
  if (latency < Duration::zero()) latency = Duration::zero();  // clocks of two instances
  std::lock_guard l(mu_);
  Slot& s = slotFor(at);
  s.confirmed += 1;
  s.latency[static_cast<size_t>(bucketOf(latency))] += 1;
  s.max_latency = std::max(s.max_latency, latency);
}

Throughput::Window Throughput::window(Timestamp now, std::chrono::seconds span) const {
  Window w;
  w.span = std::clamp(span, std::chrono::seconds(1), std::chrono::seconds(kSlots));
  const int64_t last = secondOf(now) - 1;
  const int64_t first = last - w.span.count() + 1;
  std::array<uint64_t, kBuckets> histogram{};
  Duration max{0};
  {
    std::lock_guard l(mu_);
    for (const Slot& s : slots_) {
      if (s.second < first || s.second > last) continue;
      w.accepted += s.accepted;
      w.confirmed += s.confirmed;
      w.settled += s.settled;
      for (size_t b = 0; b < histogram.size(); ++b) histogram[b] += s.latency[b];
      max = std::max(max, s.max_latency);
    }
  }
  for (uint64_t n : histogram) w.latency_count += static_cast<int64_t>(n);
  if (w.latency_count == 0) return w;
  auto percentile = [&](int64_t per_mille) {
    // The smallest bucket holding the rank-th latency (rank 1-based, rounded up).
    const uint64_t rank = static_cast<uint64_t>((w.latency_count * per_mille + 999) / 1000);
    uint64_t seen = 0;
    for (int b = 0; b < kBuckets; ++b) {
      seen += histogram[static_cast<size_t>(b)];
      if (seen >= rank) return std::min(bucketUpperBound(b), max);
    }
    return max;
  };
  w.p50 = percentile(500);
  w.p90 = percentile(900);
  w.p99 = percentile(990);
  w.max = max;
  return w;
}

std::vector<Throughput::Second> Throughput::series(Timestamp now, int seconds) const {
  seconds = std::clamp(seconds, 1, kSlots);
  const int64_t last = secondOf(now) - 1;
  std::vector<Second> out(static_cast<size_t>(seconds));
  std::lock_guard l(mu_);
  for (int i = 0; i < seconds; ++i) {
    const int64_t second = last - seconds + 1 + i;
    Second& p = out[static_cast<size_t>(i)];
    p.at = Timestamp(std::chrono::seconds(second));
    const Slot& s = slots_[indexOf(second)];
    if (s.second != second) continue;
    p.accepted = s.accepted;
    p.confirmed = s.confirmed;
    p.settled = s.settled;
  }
  return out;
}

}  // namespace sc::workflow

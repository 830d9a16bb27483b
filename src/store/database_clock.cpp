#include "store/database_clock.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string>

#include "common/log.h"

namespace sc::store {

const Clock& DatabaseClock::systemClock() {
  static const SystemClock c;
  return c;
}

DatabaseClock::DatabaseClock(pg::ConnectionPool& pool, const Clock& local,
                             const MonotonicClock& steady, std::chrono::milliseconds interval,
                             std::chrono::milliseconds warn_above)
    : pool_(pool), local_(local), steady_(steady), interval_(interval), warn_above_(warn_above) {}

namespace {
int64_t steadyMicros(const MonotonicClock& c) {
  return std::chrono::duration_cast<std::chrono::microseconds>(c.now().time_since_epoch()).count();
}
}  // namespace

Timestamp DatabaseClock::now() const {
  if (!anchored_.load(std::memory_order_acquire)) return local_.now();
  const int64_t t = steadyMicros(steady_) + anchor_us_.load(std::memory_order_relaxed);
  int64_t latest = latest_us_.load();
  while (t > latest && !latest_us_.compare_exchange_weak(latest, t)) {
  }
  return Timestamp(Duration(std::max(t, latest)));
}

DatabaseClock::~DatabaseClock() { stop(); }

Result<void> DatabaseClock::sync() {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  bool have = false;
  Duration best_rtt{}, best_offset{};
  int64_t best_anchor = 0;
  for (int i = 0; i < 3; ++i) {
    const int64_t steady_before = steadyMicros(steady_);
    Timestamp before = local_.now();
    auto rows = (*lease)->exec("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint");
    Timestamp after = local_.now();
    const int64_t steady_after = steadyMicros(steady_);
    if (!rows.ok()) return rows.error();
    std::string_view text = rows->text(0, 0);
    int64_t server_us = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), server_us);
    if (ec != std::errc() || p != text.data() + text.size())
      return Error::permanent("database_clock",
                              "unreadable clock_timestamp(): " + std::string(text));
    // The round trip on the steady clock (a wall-clock step during it cannot pick a sample).
    const Duration rtt(steady_after - steady_before);
    Timestamp midpoint = before + (after - before) / 2;
    Duration offset = Timestamp(Duration(server_us)) - midpoint;
    if (!have || rtt < best_rtt) {
      have = true;
      best_rtt = rtt;
      best_offset = offset;
      best_anchor = server_us - (steady_before + (steady_after - steady_before) / 2);
    }
  }
  if (!anchored_.load(std::memory_order_acquire)) {
    // The first sample: now() leaves this host's clock for the database's, in either direction.
    anchor_us_.store(best_anchor, std::memory_order_relaxed);
    latest_us_.store(steadyMicros(steady_) + best_anchor);
    anchored_.store(true, std::memory_order_release);
  } else {
    anchor_us_.store(best_anchor, std::memory_order_relaxed);  // now() holds if this is behind
  }
  const int64_t previous = offset_us_.exchange(best_offset.count());
  offset_gauge_.set(best_offset.count() / 1000);
  const auto off = std::chrono::duration_cast<std::chrono::milliseconds>(best_offset);
  const bool skewed = std::chrono::abs(best_offset) > warn_above_;
  const bool was_skewed = std::abs(previous) > std::chrono::microseconds(warn_above_).count();
  if (skewed && !was_skewed) {
    log::get("store")->warn(
        "this host's clock is {} ms {} the database's: settlement times follow the database's",
        std::abs(off.count()), off.count() > 0 ? "behind" : "ahead of");
  }
  return {};
}

void DatabaseClock::start() {
  periodic_.start(
      interval_,
      [this] {
        if (auto r = sync(); !r)
          log::get("store")->warn("database clock not re-measured (keeping the last offset): {}",
                                  r.error().message);
      },
      /*run_at_start=*/false);
}

void DatabaseClock::stop() { periodic_.stop(); }

}  // namespace sc::store

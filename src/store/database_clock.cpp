#include "store/database_clock.h"

#include <charconv>
#include <cstdlib>
#include <string>

#include "common/log.h"
#include "common/metrics.h"

namespace sc::store {
namespace {

// One gauge for the process, registered once (never a pointer into an object that can go away).
metrics::Gauge& offsetGauge() {
  static metrics::Gauge* g = [] {
    auto* gauge = new metrics::Gauge();
    metrics::registerGauge("sc_clock_offset_milliseconds",
                           "The database's clock minus this host's, as last measured", gauge);
    return gauge;
  }();
  return *g;
}

}  // namespace

const Clock& DatabaseClock::systemClock() {
  static const SystemClock c;
  return c;
}

DatabaseClock::DatabaseClock(pg::ConnectionPool& pool, const Clock& local,
                             std::chrono::milliseconds interval,
                             std::chrono::milliseconds warn_above)
    : pool_(pool), local_(local), interval_(interval), warn_above_(warn_above) {}

DatabaseClock::~DatabaseClock() { stop(); }

Result<void> DatabaseClock::sync() {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  bool have = false;
  Duration best_rtt{}, best_offset{};
  for (int i = 0; i < 3; ++i) {
    Timestamp before = local_.now();
    auto rows = (*lease)->exec("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint");
    Timestamp after = local_.now();
    if (!rows.ok()) return rows.error();
    std::string_view text = rows->text(0, 0);
    int64_t server_us = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), server_us);
    if (ec != std::errc() || p != text.data() + text.size())
      return Error::permanent("database_clock",
                              "unreadable clock_timestamp(): " + std::string(text));
    Timestamp midpoint = before + (after - before) / 2;
    Duration offset = Timestamp(Duration(server_us)) - midpoint;
    if (!have || after - before < best_rtt) {
      have = true;
      best_rtt = after - before;
      best_offset = offset;
    }
  }
  const int64_t previous = offset_us_.exchange(best_offset.count());
  offsetGauge().set(best_offset.count() / 1000);
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
  std::lock_guard l(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock l(mu_);
    while (!cv_.wait_for(l, interval_, [this] { return stopping_; })) {
      l.unlock();
      if (auto r = sync(); !r)
        log::get("store")->warn("database clock not re-measured (keeping the last offset): {}",
                                r.error().message);
      l.lock();
    }
  });
}

void DatabaseClock::stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sc::store

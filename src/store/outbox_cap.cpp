#include "store/outbox_cap.h"

#include "common/log.h"

namespace sc::store {

OutboxCap::OutboxCap(OutboxRepository& outbox, OutboxCapOptions options)
    : outbox_(outbox), options_(options) {}

OutboxCap::~OutboxCap() { stop(); }

Result<int64_t> OutboxCap::runOnce() {
  auto dropped = outbox_.trim(options_.max_rows);
  if (!dropped) {
    metrics_.failures.inc();
    log::get("store")->warn(
        "outbox cap failed (retried in {} s): {}",
        std::chrono::duration_cast<std::chrono::seconds>(options_.interval).count(),
        dropped.error().message);
    return dropped;
  }
  if (*dropped > 0) {
    metrics_.dropped.inc(static_cast<uint64_t>(*dropped));
    const int64_t total = dropped_.fetch_add(*dropped) + *dropped;
    log::get("store")->warn(
        "no Kafka configured: dropped {} undelivered outbox event(s) beyond OUTBOX_MAX_ROWS={} "
        "({} so far); settlement_events keeps them all",
        *dropped, options_.max_rows, total);
  }
  return dropped;
}

void OutboxCap::start() {
  periodic_.start(options_.interval, [this] { (void)runOnce(); });
}

void OutboxCap::stop() { periodic_.stop(); }

std::string OutboxCap::describe() const {
  return "no Kafka: outbox capped at " + std::to_string(options_.max_rows) + ", " +
         std::to_string(dropped_.load()) + " dropped";
}

}  // namespace sc::store

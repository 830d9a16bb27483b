#include "store/event_partitions.h"

#include "common/log.h"
#include "store/codec.h"

namespace sc::store {

EventPartitions::EventPartitions(pg::ConnectionPool& pool, const Clock& clock,
                                 EventPartitionsOptions options)
    : pool_(pool), clock_(clock), options_(options) {}

EventPartitions::~EventPartitions() { stop(); }

Result<EventPartitionsPass> EventPartitions::pass() {
  EventPartitionsPass out;
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  const std::string now = codec::timestamp(clock_.now());
  auto created = (*lease)->exec("SELECT sc_event_partitions_ensure($1::timestamptz, $2::int)",
                                {now, std::to_string(options_.months_ahead)});
  if (!created.ok()) return created.error();
  out.created = std::stoi(std::string(created->text(0, 0)));
  if (options_.retention_months <= 0) return out;
  // 1. The months that may go (the first of this month, UTC, less the retention), their
  // settlements marked. The reconciler's audit position bounds them once it has ever run, on any
  // instance (reconciliation_state is shared): an instance with REC_ENABLED=false beside one that
  // reconciles must not drop what that one has still to compare.
  auto droppable = (*lease)->exec(
      "SELECT sc_event_partitions_droppable("
      " (date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC')"
      "  - make_interval(months => $2::int)) AT TIME ZONE 'UTC',"
      " (SELECT CASE WHEN passes > 0 THEN watermark END FROM reconciliation_state))",
      {now, std::to_string(options_.retention_months)});
  if (!droppable.ok()) return droppable.error();
  std::vector<std::string> names;
  for (int i = 0; i < droppable->size(); ++i) names.emplace_back(droppable->text(i, 0));
  // 2. and 3. Each month detached, then dropped, in statements of their own: the parent's lock is
  // held only for the detach's catalog change, and waited for at most lock_timeout (inserts queue
  // behind a waiting DETACH, so the wait is what bounds their stall).
  auto timeout = (*lease)->exec("SET lock_timeout = '2s'", {});
  if (!timeout.ok()) return timeout.error();
  Result<void> failed;
  for (const auto& name : names) {
    auto detached = (*lease)->exec("SELECT sc_event_partition_detach($1)", {name});
    if (!detached.ok()) {
      failed = detached.error();
      break;
    }
    auto dropped = (*lease)->exec("SELECT sc_event_partition_drop_detached($1)", {name});
    if (!dropped.ok()) {
      failed = dropped.error();
      break;
    }
    out.dropped.push_back(name);
  }
  auto reset = (*lease)->exec("RESET lock_timeout", {});
  if (!failed) return failed.error();  // the next pass goes on from the first month left
  if (!reset.ok()) return reset.error();
  return out;
}

Result<EventPartitionsPass> EventPartitions::runOnce() {
  auto r = pass();
  if (!r) {
    metrics_.failures.inc();
    log::get("store")->warn(
        "settlement_events partition maintenance failed (retried in {} s): {}",
        std::chrono::duration_cast<std::chrono::seconds>(options_.interval).count(),
        r.error().message);
    return r;
  }
  metrics_.created.inc(static_cast<uint64_t>(r->created));
  metrics_.dropped.inc(r->dropped.size());
  if (r->created > 0)
    log::get("store")->info("settlement_events: {} monthly partition(s) created", r->created);
  for (const auto& name : r->dropped)
    log::get("store")->info("settlement_events: partition {} dropped (EVENTS_RETENTION_MONTHS={})",
                            name, options_.retention_months);
  return r;
}

void EventPartitions::start() {
  periodic_.start(options_.interval, [this] { (void)runOnce(); });
}

void EventPartitions::stop() { periodic_.stop(); }

}  // namespace sc::store

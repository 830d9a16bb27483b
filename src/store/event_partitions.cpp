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
  // Creating a partition and dropping one lock settlement_events itself (inserts queue behind a
  // waiting lock): the SQL functions wait for it at most 2 s (their own lock_timeout), and the
  // next pass tries again. Months are created `months_ahead` ahead, so a pass or two that cannot
  // costs nothing.
  const std::string now = codec::timestamp(clock_.now());
  auto created = (*lease)->exec("SELECT sc_event_partitions_ensure($1::timestamptz, $2::int)",
                                {now, std::to_string(options_.months_ahead)});
  if (!created.ok()) return created.error();
  out.created = std::stoi(std::string(created->text(0, 0)));
  auto in_default = (*lease)->exec("SELECT count(*) FROM settlement_events_default", {});
  if (!in_default.ok()) return in_default.error();
  out.in_default = std::stoll(std::string(in_default->text(0, 0)));
  if (options_.retention_months <= 0) return out;
  // 1. The months that may go (ended before the first of this month, UTC, less the retention),
  // and the cut moved past them. The reconciler's audit position bounds them when it runs here,
  // or once it has run on any instance (reconciliation_state is shared): an instance with
  // REC_ENABLED=false beside one that reconciles must not drop what that one has still to
  // compare.
  auto droppable = (*lease)->exec(
      "SELECT sc_event_partitions_droppable("
      " (date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC')"
      "  - make_interval(months => $2::int)) AT TIME ZONE 'UTC',"
      " (SELECT CASE WHEN $3::boolean OR passes > 0 THEN watermark END"
      "  FROM reconciliation_state))",
      {now, std::to_string(options_.retention_months),
       options_.reconciler_here ? "true" : "false"});
  if (!droppable.ok()) return droppable.error();
  std::vector<std::string> names;
  for (int i = 0; i < droppable->size(); ++i) names.emplace_back(droppable->text(i, 0));
  // 2. Each month detached and dropped in a transaction of its own, counted as it goes. One that
  // fails (the lock not had in time) stays attached below the cut; the next pass picks it again.
  for (const auto& name : names) {
    auto dropped = (*lease)->exec("SELECT sc_event_partition_drop($1)", {name});
    if (!dropped.ok()) return dropped.error();
    if (dropped->text(0, 0) != "t") continue;  // another instance dropped it
    out.dropped.push_back(name);
    metrics_.dropped.inc();
    log::get("store")->info("settlement_events: partition {} dropped (EVENTS_RETENTION_MONTHS={})",
                            name, options_.retention_months);
  }
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
  metrics_.in_default.set(r->in_default);
  if (r->in_default > 0)
    log::get("store")->warn(
        "settlement_events_default holds {} event(s): their month had no partition (the clock "
        "far off, or no instance ran for months); retention stops before them",
        r->in_default);
  if (r->created > 0)
    log::get("store")->info("settlement_events: {} monthly partition(s) created", r->created);
  return r;
}

void EventPartitions::start() {
  periodic_.start(options_.interval, [this] { (void)runOnce(); });
}

void EventPartitions::stop() { periodic_.stop(); }

}  // namespace sc::store

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
  // The first of this month (UTC) less the retention: the months that ended by then may go.
  auto dropped = (*lease)->exec(
      "SELECT sc_event_partitions_drop("
      " (date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC')"
      "  - make_interval(months => $2::int)) AT TIME ZONE 'UTC',"
      " CASE WHEN $3::boolean THEN (SELECT watermark FROM reconciliation_state) END)",
      {now, std::to_string(options_.retention_months), options_.reconciler ? "true" : "false"});
  if (!dropped.ok()) return dropped.error();
  for (int i = 0; i < dropped->size(); ++i) out.dropped.emplace_back(dropped->text(i, 0));
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

#pragma once
// PostgreSQL ↔ settlement.events: what the reconciler read from the topic, compared with the
// audit trail. Pure (no I/O) and used by one thread (the reconciler's pass).
//
// Every message is matched with the audit row of its event id: none, or other content than the
// relay would have produced from the row (messaging::buildEventPayload, key = settlement id), is
// event_forged. Per settlement, first sightings must follow the audit rows' positions: an event
// first seen after a later one of its settlement is event_out_of_order (a repeat of an event id,
// which the relay may produce after a crash or a leadership change, is a duplicate and ignored).
// Which audit rows were seen is kept until the reconciler's watermark passes them; an audit row
// never seen is the reconciler's to judge (event_missing, reconciler.cpp).
//
// Only audit rows above `floor` take part in the order and missing checks: the tracker starts
// with its reader positioned at the topic's end, and rows up to the floor were committed, hence
// maybe produced, before that.
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "domain/settlement.h"
#include "reconciliation/event_tap.h"
#include "reconciliation/findings.h"

namespace sc::reconciliation {

class EventTracker {
 public:
  explicit EventTracker(int64_t floor) : floor_(floor) {}

  // The event id a payload carries ("evt_…"), if it is a JSON object with a valid one.
  static std::optional<Uuid> eventIdOf(const std::string& payload);

  struct Observation {
    std::vector<Draft> drafts;
    // Seen after the watermark had passed its audit row (a late sighting): an open
    // event_missing for it may now be resolved.
    std::optional<SettlementEvent> late;
  };
  // One message read from the topic and the audit row of its event id (nullopt: none).
  Observation observe(const TapMessage& m, const std::optional<SettlementEvent>& row,
                      int64_t watermark);

  bool seen(const Uuid& event_id) const { return seen_.count(event_id) > 0; }
  // The watermark passed this audit row.
  void passed(const Uuid& event_id) { seen_.erase(event_id); }
  // Forgets the order of settlements with nothing seen above the watermark.
  void evict(int64_t watermark);

  int64_t floor() const { return floor_; }
  size_t buffered() const { return seen_.size(); }

 private:
  struct Order {
    int64_t max_position = 0;
    std::set<int64_t> positions;  // first sightings above the floor
  };
  int64_t floor_;
  std::unordered_set<Uuid, UuidHash> seen_;
  std::unordered_map<Uuid, Order, UuidHash> order_;
};

}  // namespace sc::reconciliation

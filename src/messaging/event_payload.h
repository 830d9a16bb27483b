#pragma once
// The settlement.events payloads (DESIGN §6): the envelope event_id, event_type, settlement_id,
// timestamp, merged with the audit row's details, which the workflow fills with exactly the
// fields the spec gives each event (settlement_initiated: the trade's fields; settlement_confirmed:
// dvp_atomic_transaction_id and the two ledger refs; settlement_failed: failure_reason and
// retry_count). The envelope wins over a detail of the same name.
#include <string>

#include "domain/settlement.h"

namespace sc::messaging {

std::string buildEventPayload(const SettlementEvent& event);
// Kafka key: the settlement id, so every event of one settlement lands on one partition in order.
inline std::string eventKey(const SettlementEvent& event) {
  return event.settlement_id.prefixed(kSettlementPrefix);
}

}  // namespace sc::messaging

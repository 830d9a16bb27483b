#pragma once
// The `details` object of each settlement.events transition (DESIGN §6). These JSON objects are a
// public contract: consumers of the Kafka topic read them, so a key renamed here breaks them. Each
// function renders the details of one transition from the settlement as the workflow recorded it
// and, for ledger steps, the ledger's outcome; nothing here decides anything.
#include <cstdint>
#include <string>
#include <string_view>

#include "domain/settlement.h"
#include "domain/status.h"
#include "ledger/ledger.h"

namespace sc::workflow {

// PENDING → INITIATED: the trade and the DvP the ledger created for it.
std::string initiatedDetails(const Settlement& s, const ledger::Outcome& created);
// INITIATED → SELLER_SECURITIES_LOCKED.
std::string securitiesLockedDetails(const ledger::Outcome& locked);
// SELLER_SECURITIES_LOCKED → BUYER_CASH_LOCKED.
std::string cashLockedDetails(const ledger::Outcome& locked);
// BUYER_CASH_LOCKED → EXECUTING: what is locked (s.locked_*) and where the DvP now sits.
std::string executingDetails(const Settlement& s, const ledger::Outcome& reassigned);
// EXECUTING → CONFIRMED, or → PARTIALLY_SETTLED when the settle left a remainder DvP. `s` already
// holds the settled totals including this settle.
std::string settleDetails(const Settlement& s, const ledger::Outcome& settled);
// CONFIRMED → SETTLED: the settle update verified on the ledger at `ledger_offset`.
std::string settledDetails(const Settlement& s, int64_t ledger_offset);
// PARTIALLY_SETTLED → INITIATED in the next round (s.retry_count already counts it).
std::string recycledDetails(const Settlement& s);
// → FAILED once the round is fenced; `fence_detail` names what fenced it, `fence_ref` its id.
std::string failedDetails(const Settlement& s, std::string_view fence_detail,
                          const std::string& fence_ref);
// FAILED or PARTIALLY_SETTLED → `resumed_at` by an operator retry (s.retry_count counts it).
std::string retriedDetails(const Settlement& s, const std::string& reason, Status resumed_at);

}  // namespace sc::workflow

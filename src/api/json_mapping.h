#pragma once
// Domain values → the REST API's JSON shapes (spec "REST API Endpoints"). Decimals are strings
// with 8 fractional digits, timestamps RFC 3339 UTC, settlement dates "YYYY-MM-DDT00:00:00Z",
// absent timestamps and references null.
#include <nlohmann/json.hpp>

#include "domain/settlement.h"
#include "ledger/ledger.h"

namespace sc::api {

using Json = nlohmann::ordered_json;

// GET /settlements/{id}: the spec's fields first, then the extra ones.
Json settlementJson(const Settlement& s);
// One row of GET /settlements.
Json settlementSummaryJson(const Settlement& s);
// One element of GET /settlements/{id}/events.
Json eventJson(const SettlementEvent& e);
Json accountJson(const Account& a);
Json holdingJson(const ledger::HoldingView& h);

// Serialises without ever throwing on invalid UTF-8 (replaced).
std::string dump(const Json& j);

}  // namespace sc::api

#pragma once
// Text codecs between PostgreSQL's text format and the domain types (internal to the store).
// Timestamps travel as "YYYY-MM-DD HH:MM:SS.ffffff+00" (sessions run with TimeZone=UTC), decimals
// as NUMERIC text, UUIDs in canonical form. Empty strings are stored as NULL.
#include <optional>
#include <string>
#include <string_view>

#include "domain/decimal.h"
#include "domain/ids.h"
#include "domain/settlement.h"
#include "domain/time.h"
#include "store/pg.h"

namespace sc::store::codec {

std::string timestamp(Timestamp t);
pg::Param timestamp(const std::optional<Timestamp>& t);
std::optional<Timestamp> parseTimestamp(std::string_view s);
std::string date(Date d);
inline pg::Param text(const std::string& s) { return s.empty() ? pg::Param{} : pg::Param{s}; }

// Settlement rows: kSettlementColumns in this order; decode() fails on a value it cannot read.
// kLeasedSettlementColumns adds lease_token (only leaseDue selects it): every other read returns
// a nil lease_token, so writing back a row read with find() is guarded as "not leased".
extern const std::string_view kSettlementColumns;
extern const std::string_view kLeasedSettlementColumns;
Result<Settlement> decodeSettlement(const pg::Rows& rows, int row);

extern const std::string_view kEventColumns;
Result<SettlementEvent> decodeEvent(const pg::Rows& rows, int row);

}  // namespace sc::store::codec

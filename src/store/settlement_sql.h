#pragma once
// Private to PgSettlementRepository's sources (settlement_intake.cpp, settlement_reads.cpp,
// settlement_writes.cpp): what their sections share.
#include <string>
#include <string_view>
#include <vector>

#include "store/codec.h"
#include "store/errors.h"
#include "store/pg.h"
#include "store/store_metrics.h"

namespace sc::store {

// Deadlocks and serialization failures roll the whole transaction back, so running it again is
// safe; every other error is returned as is.
template <class F>
auto withRetry(F&& f) -> decltype(f()) {
  for (int attempt = 1;; ++attempt) {
    auto r = f();
    if (r.ok()) return r;
    if (attempt >= 3 || r.error().code != kDatabaseConflict) {
      metrics().errors.inc();
      return r;
    }
    metrics().retries.inc();
  }
}

inline std::string selectSettlements(std::string_view where_and_rest) {
  return "SELECT " + std::string(codec::kSettlementColumns) + " FROM settlements " +
         std::string(where_and_rest);
}

inline Result<std::vector<Settlement>> decodeAll(const pg::Rows& rows) {
  std::vector<Settlement> out;
  out.reserve(rows.size());
  for (int i = 0; i < rows.size(); ++i) {
    auto s = codec::decodeSettlement(rows, i);
    if (!s.ok()) return s.error();
    out.push_back(std::move(s).value());
  }
  return out;
}

}  // namespace sc::store

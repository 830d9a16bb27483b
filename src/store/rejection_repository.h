#pragma once
// PostgreSQL implementation of store/rejection.h on the `rejections` table (migration 0006). One
// pooled connection per call; record() is one statement (an insert from arrays) whatever the
// number of rejections.
#include "store/pool.h"
#include "store/rejection.h"

namespace sc::store {

class PgRejectionRepository final : public RejectionRepository {
 public:
  explicit PgRejectionRepository(pg::ConnectionPool& pool) : pool_(pool) {}
  Result<int64_t> record(std::span<const Rejection> rejections) override;
  Result<std::vector<Rejection>> list(const RejectionQuery& q) override;
  Result<int64_t> prune(Duration max_age, int64_t max_rows) override;

  // prune() deletes at most this many rows per statement, and runs at most kPruneBatches
  // statements per call for each rule (the next call goes on).
  static constexpr int64_t kPruneBatch = 10000;
  static constexpr int kPruneBatches = 100;

 private:
  pg::ConnectionPool& pool_;
};

}  // namespace sc::store

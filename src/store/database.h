#pragma once
// The store as the application sees it: a connection pool, the schema migrated at open, and the
// repositories. ready() answers /ready (database reachable and every migration applied).
#include <memory>
#include <string>

#include "domain/result.h"
#include "store/audit_repository.h"
#include "store/pg_repositories.h"
#include "store/pool.h"
#include "store/rejection_repository.h"

namespace sc::store {

class Database {
 public:
  // Opens a pool of `pool_size` connections (DB_POOL_SIZE) on `conninfo` and applies missing
  // migrations. Errors: "database_unavailable" (retryable, names host:port), migration errors.
  static Result<std::unique_ptr<Database>> open(const std::string& conninfo, int pool_size);

  Result<void> ready();

  pg::ConnectionPool& pool() { return pool_; }
  SettlementRepository& settlements() { return settlements_; }
  AccountRepository& accounts() { return accounts_; }
  OutboxRepository& outbox() { return outbox_; }
  AuditRepository& audit() { return audit_; }
  CreditRequestRepository& creditRequests() { return credit_requests_; }
  RejectionRepository& rejections() { return rejections_; }

 private:
  Database(const std::string& conninfo, int pool_size)
      : pool_(conninfo, pool_size),
        settlements_(pool_),
        accounts_(pool_),
        outbox_(pool_),
        audit_(pool_),
        credit_requests_(pool_),
        rejections_(pool_) {}

  pg::ConnectionPool pool_;
  PgSettlementRepository settlements_;
  PgAccountRepository accounts_;
  PgOutboxRepository outbox_;
  PgAuditRepository audit_;
  PgCreditRequestRepository credit_requests_;
  PgRejectionRepository rejections_;
};

}  // namespace sc::store

#pragma once
// PostgreSQL implementations of store/audit.h. One pooled connection per call.
#include "store/audit.h"
#include "store/pool.h"

namespace sc::store {

class PgAuditRepository final : public AuditRepository {
 public:
  explicit PgAuditRepository(pg::ConnectionPool& pool) : pool_(pool) {}
  Result<void> record(const AuditEntry& e) override;
  Result<std::vector<AuditEntry>> list(const AuditQuery& q) override;

 private:
  pg::ConnectionPool& pool_;
};

class PgCreditRequestRepository final : public CreditRequestRepository {
 public:
  explicit PgCreditRequestRepository(pg::ConnectionPool& pool) : pool_(pool) {}
  Result<CreditClaim> claim(const std::string& key, const std::string& body_sha256) override;
  Result<void> complete(const std::string& key, int status, const std::string& response) override;
  Result<void> release(const std::string& key) override;

 private:
  pg::ConnectionPool& pool_;
};

}  // namespace sc::store

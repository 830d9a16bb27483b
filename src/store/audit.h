#pragma once
// The audit log of operator actions and the idempotency records of ledger credits (DESIGN §10),
// as interfaces (PostgreSQL implementations in audit_repository.cpp, fakes in tests).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/result.h"
#include "domain/time.h"

namespace sc {

struct AuditEntry {
  int64_t id = 0;  // assigned by the store
  Timestamp at{};  // assigned by the store when left at the epoch
  std::string actor, role, action, target, request_id, remote_address;
  std::string outcome;  // "succeeded", "refused" (403 and other 4xx), "failed" (5xx)
  int status = 0;       // the HTTP status answered
  std::string error_code;
};

struct AuditQuery {
  std::optional<std::string> actor, action, target;
  std::optional<Timestamp> since, until;  // since inclusive, until exclusive
  std::optional<int64_t> before_id;       // keyset cursor: entries with id < before_id
  int limit = 100;
};

class AuditRepository {
 public:
  virtual ~AuditRepository() = default;
  virtual Result<void> record(const AuditEntry& e) = 0;
  // Newest first (id descending), at most q.limit entries.
  virtual Result<std::vector<AuditEntry>> list(const AuditQuery& q) = 0;
};

// One idempotency key of POST /ledger/holdings.
struct CreditClaim {
  enum class Kind { kClaimed, kDone, kPending, kOtherBody } kind = Kind::kClaimed;
  int status = 0;        // kDone: the stored response
  std::string response;  // kDone
};

class CreditRequestRepository {
 public:
  virtual ~CreditRequestRepository() = default;
  // Claims `key` for a body with `body_sha256`: kClaimed (new, the caller credits), kDone (same
  // body, answered before: replay), kPending (same body, another request is crediting it),
  // kOtherBody (the key was used for another body).
  virtual Result<CreditClaim> claim(const std::string& key, const std::string& body_sha256) = 0;
  virtual Result<void> complete(const std::string& key, int status,
                                const std::string& response) = 0;
  // The credit failed: the key may be used again.
  virtual Result<void> release(const std::string& key) = 0;
};

}  // namespace sc

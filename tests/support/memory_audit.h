#pragma once
// In-memory audit log and credit idempotency claims with the PostgreSQL repositories' semantics
// (newest first, keyset by id; one claim per key, the same body replays its first answer), for
// the API tests.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "store/audit.h"

namespace sc::test {

class MemoryAudit final : public AuditRepository {
 public:
  Result<void> record(const AuditEntry& e) override {
    std::lock_guard l(mu_);
    entries_.push_back(e);
    entries_.back().id = static_cast<int64_t>(entries_.size());
    return {};
  }
  Result<std::vector<AuditEntry>> list(const AuditQuery& q) override {
    std::lock_guard l(mu_);
    std::vector<AuditEntry> out;
    for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
      if (q.actor && it->actor != *q.actor) continue;
      if (q.action && it->action != *q.action) continue;
      if (q.target && it->target != *q.target) continue;
      if (q.before_id && it->id >= *q.before_id) continue;
      if (static_cast<int>(out.size()) == q.limit) break;
      out.push_back(*it);
    }
    return out;
  }
  std::vector<AuditEntry> entries() {
    std::lock_guard l(mu_);
    return entries_;
  }

 private:
  std::mutex mu_;
  std::vector<AuditEntry> entries_;
};

class MemoryCreditRequests final : public CreditRequestRepository {
 public:
  Result<CreditClaim> claim(const std::string& key, const std::string& sha) override {
    std::lock_guard l(mu_);
    auto [it, inserted] = rows_.try_emplace(key, Row{sha, false, 0, {}});
    if (inserted) return CreditClaim{};
    CreditClaim c;
    if (it->second.sha != sha)
      c.kind = CreditClaim::Kind::kOtherBody;
    else if (it->second.done)
      c = CreditClaim{CreditClaim::Kind::kDone, it->second.status, it->second.response};
    else
      c.kind = CreditClaim::Kind::kPending;
    return c;
  }
  Result<void> complete(const std::string& key, int status, const std::string& body) override {
    std::lock_guard l(mu_);
    rows_[key] = Row{rows_[key].sha, true, status, body};
    return {};
  }
  Result<void> release(const std::string& key) override {
    std::lock_guard l(mu_);
    rows_.erase(key);
    return {};
  }

 private:
  struct Row {
    std::string sha;
    bool done;
    int status;
    std::string response;
  };
  std::mutex mu_;
  std::map<std::string, Row> rows_;
};

}  // namespace sc::test

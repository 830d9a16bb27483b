#pragma once
// Versioned schema migrations (src/store/migrations/NNNN_name.sql, embedded at build time).
// migrate() applies the missing ones in version order inside one transaction that holds
// pg_advisory_xact_lock(kMigrationLock), so several processes starting at once are safe, and
// records each in schema_migrations(version, name, checksum, applied_at). Running it again is a
// no-op; an applied migration whose checksum changed is an error naming it.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "domain/result.h"

namespace sc::store::pg {
class ConnectionPool;
}

namespace sc::store {

struct EmbeddedMigration {
  std::string name;      // file name without .sql, e.g. "0001_init"; version = leading digits
  std::string checksum;  // SHA-256 of the file, hex
  std::string sql;
};

inline constexpr int64_t kMigrationLock = 0x5c0057012e;  // advisory lock key ("sc store")

// The migrations compiled into this binary, in version order.
const std::vector<EmbeddedMigration>& embeddedMigrations();

// Applies what is missing; returns how many were applied now.
Result<int> migrate(pg::ConnectionPool& pool);
Result<int> migrate(pg::ConnectionPool& pool, std::span<const EmbeddedMigration> migrations);

// Ok when every embedded migration is recorded with its checksum (for /ready); otherwise a
// retryable "migrations_pending" or the database error.
Result<void> migrationsApplied(pg::ConnectionPool& pool);

}  // namespace sc::store

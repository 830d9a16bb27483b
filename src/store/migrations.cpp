#include "store/migrations.h"

#include <algorithm>
#include <map>

#include "common/log.h"
#include "store/errors.h"
#include "store/pool.h"

namespace sc::store {
namespace {

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " checksum TEXT NOT NULL,"
    " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())";

Result<int> versionOf(const EmbeddedMigration& m) {
  size_t n = 0;
  while (n < m.name.size() && m.name[n] >= '0' && m.name[n] <= '9') ++n;
  if (n == 0)
    return Error::permanent(std::string(store::kInvalidMigration),
                            "migration " + m.name + " does not start with a version number");
  return std::stoi(m.name.substr(0, n));
}

struct Applied {
  std::string name, checksum;
};

Result<std::map<int, Applied>> appliedMigrations(pg::Connection& c) {
  auto rows = c.exec("SELECT version, name, checksum FROM schema_migrations");
  if (!rows.ok()) return rows.error();
  std::map<int, Applied> out;
  for (int i = 0; i < rows->size(); ++i)
    out[std::stoi(std::string(rows->text(i, 0)))] = {std::string(rows->text(i, 1)),
                                                     std::string(rows->text(i, 2))};
  return out;
}

}  // namespace

Result<int> migrate(pg::ConnectionPool& pool) { return migrate(pool, embeddedMigrations()); }

Result<int> migrate(pg::ConnectionPool& pool, std::span<const EmbeddedMigration> migrations) {
  auto log = sc::log::get("store");
  std::vector<std::pair<int, const EmbeddedMigration*>> ordered;
  for (const auto& m : migrations) {
    auto v = versionOf(m);
    if (!v.ok()) return v.error();
    ordered.emplace_back(*v, &m);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  auto lease = pool.lease();
  if (!lease.ok()) return lease.error();
  pg::Connection& c = **lease;
  // A migration may legitimately run long (an index on a big table, waiting for another instance's
  // migration lock): no statement_timeout and no I/O timeout for this transaction.
  struct NoIoTimeout {
    pg::Connection& c;
    std::chrono::milliseconds saved = c.ioTimeout();
    ~NoIoTimeout() { c.setIoTimeout(saved); }
  } no_io_timeout{c};
  c.setIoTimeout(std::chrono::milliseconds::zero());
  // The Lease rolls back whatever is left open when we return early with an error.
  if (auto r = c.script("BEGIN; SET LOCAL statement_timeout = 0"); !r.ok()) return r.error();
  // Another instance migrating (or starting) holds the lock: said before waiting, so that a start
  // that waits long shows on what.
  auto got =
      c.exec("SELECT pg_try_advisory_xact_lock($1::bigint)", {std::to_string(kMigrationLock)});
  if (!got.ok()) return got.error();
  if (got->text(0, 0) != "t") {
    log->info("waiting for the migration lock (another instance is starting or migrating)");
    if (auto r =
            c.exec("SELECT pg_advisory_xact_lock($1::bigint)", {std::to_string(kMigrationLock)});
        !r.ok())
      return r.error();
  }
  if (auto r = c.script(kCreateTable); !r.ok()) return r.error();
  auto applied = appliedMigrations(c);
  if (!applied.ok()) return applied.error();

  int count = 0;
  for (const auto& [version, m] : ordered) {
    auto it = applied->find(version);
    if (it != applied->end()) {
      if (it->second.checksum != m->checksum)
        return Error::permanent(
            std::string(store::kMigrationChecksumMismatch),
            "migration " + m->name + " (version " + std::to_string(version) +
                ") was applied with checksum " + it->second.checksum +
                " but the embedded file has " + m->checksum +
                "; applied migrations must never change, add a new one instead");
      continue;
    }
    if (auto r = c.script(m->sql); !r.ok()) {
      Error e = r.error();
      e.message = "migration " + m->name + " failed: " + e.message;
      return e;
    }
    if (auto r = c.exec(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::int, $2, $3)",
            {std::to_string(version), m->name, m->checksum});
        !r.ok())
      return r.error();
    log->info("applied migration {}", m->name);
    ++count;
  }
  if (auto r = c.script("COMMIT"); !r.ok()) return r.error();
  return count;
}

Result<void> migrationsApplied(pg::ConnectionPool& pool) {
  auto lease = pool.lease();
  if (!lease.ok()) return lease.error();
  auto exists = (*lease)->exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists.ok()) return exists.error();
  if (exists->text(0, 0) != "t")
    return Error::transient(std::string(store::kMigrationsPending),
                            "schema_migrations does not exist yet");
  auto applied = appliedMigrations(**lease);
  if (!applied.ok()) return applied.error();
  for (const auto& m : embeddedMigrations()) {
    auto v = versionOf(m);
    if (!v.ok()) return v.error();
    auto it = applied->find(*v);
    if (it == applied->end())
      return Error::transient(std::string(store::kMigrationsPending),
                              "migration " + m.name + " is not applied");
    if (it->second.checksum != m.checksum)
      return Error::permanent(std::string(store::kMigrationChecksumMismatch),
                              "migration " + m.name + " was applied with a different checksum");
  }
  return {};
}

}  // namespace sc::store

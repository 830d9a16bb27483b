#include "store/database.h"

#include "common/log.h"
#include "store/migrations.h"

namespace sc::store {

Result<std::unique_ptr<Database>> Database::open(const std::string& conninfo, int pool_size) {
  std::unique_ptr<Database> db(new Database(conninfo, pool_size));
  auto applied = migrate(db->pool_);
  if (!applied.ok()) return applied.error();
  sc::log::get("store")->info("database ready: {} migration(s) applied now, pool size {}", *applied,
                              db->pool_.size());
  return db;
}

Result<void> Database::ready() {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  if (auto r = (*lease)->exec("SELECT 1"); !r.ok()) return r.error();
  return migrationsApplied(pool_);
}

}  // namespace sc::store

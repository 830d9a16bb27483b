#include "store/advisory_lock.h"

namespace sc::store {
namespace {

constexpr std::string_view kTryLock = "SELECT pg_try_advisory_lock($1::bigint)";
// A bigint advisory key shows in pg_locks as classid = high 32 bits, objid = low 32 bits,
// objsubid = 1.
constexpr std::string_view kStillHeld =
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND objsubid = 1"
    " AND classid = oid(($1::bigint >> 32) & 4294967295) AND objid = oid($1::bigint & 4294967295)";

}  // namespace

SessionAdvisoryLock::SessionAdvisoryLock(std::string conninfo, int64_t key,
                                         std::chrono::milliseconds io_timeout)
    : conninfo_(std::move(conninfo)), key_(key), io_timeout_(io_timeout) {}

SessionAdvisoryLock::~SessionAdvisoryLock() { release(); }

void SessionAdvisoryLock::drop() {
  held_ = false;
  conn_.reset();  // ends the session: PostgreSQL releases its session locks
}

Result<bool> SessionAdvisoryLock::tryAcquire() {
  if (held_) return true;
  if (conn_ && conn_->broken()) conn_.reset();
  if (!conn_) {
    auto c = pg::Connection::connect(conninfo_);
    if (!c) return c.error();
    conn_ = std::move(*c);
    conn_->setIoTimeout(io_timeout_);
  }
  auto r = conn_->exec(kTryLock, {std::to_string(key_)});
  if (!r) {
    drop();
    return r.error();
  }
  held_ = r->size() == 1 && r->text(0, 0) == "t";
  return held_.load();
}

Result<bool> SessionAdvisoryLock::confirm() {
  if (!held_ || !conn_) return false;
  auto r = conn_->exec(kStillHeld, {std::to_string(key_)});
  if (!r) {
    drop();
    return r.error();
  }
  if (r->size() != 1 || r->text(0, 0) != "1") {
    drop();
    return false;
  }
  return true;
}

// Unlocks explicitly before closing: the server ends a closed session asynchronously, so without
// it a standby trying right after this returns could still find the lock taken.
void SessionAdvisoryLock::release() {
  if (held_ && conn_ && !conn_->broken())
    (void)conn_->exec("SELECT pg_advisory_unlock($1::bigint)", {std::to_string(key_)});
  drop();
}

}  // namespace sc::store

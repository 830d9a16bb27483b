#pragma once
// Leadership by a PostgreSQL session-level advisory lock (DESIGN §8): the lock is held by one
// dedicated connection's session, so it ends exactly when that session ends — the holder's process
// dies (the kernel closes the socket), its connection is terminated (pg_terminate_backend), or
// PostgreSQL restarts. Nothing is home-made: PostgreSQL decides who holds it.
//
// Used by one thread at a time (the outbox relay's). held() may be read from any thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "domain/result.h"
#include "store/pg.h"

namespace sc::store {

// The fixed key of the outbox relay's leadership ("SCRLAY"); one relay per database holds it.
inline constexpr int64_t kOutboxRelayLockKey = 0x5343524C4159;

class SessionAdvisoryLock {
 public:
  // io_timeout bounds every call on the lock's connection: a server that stops answering ends
  // leadership after at most that long (the connection is then dropped).
  SessionAdvisoryLock(std::string conninfo, int64_t key,
                      std::chrono::milliseconds io_timeout = std::chrono::seconds(2));
  ~SessionAdvisoryLock();
  SessionAdvisoryLock(const SessionAdvisoryLock&) = delete;
  SessionAdvisoryLock& operator=(const SessionAdvisoryLock&) = delete;

  // Not held: connects when needed and tries pg_try_advisory_lock once (never waits for the
  // holder). Returns whether the lock is held now; an error (database unreachable) means not held.
  Result<bool> tryAcquire();
  // Held: asks the server whether this session still holds the lock (pg_locks). False, or an
  // error (connection lost or silent past io_timeout), means leadership is over; the connection
  // is then closed, so the lock cannot linger in a session we no longer watch.
  Result<bool> confirm();
  // Releases the lock (pg_advisory_unlock, then closes the session). Safe when not held.
  void release();

  bool held() const { return held_.load(std::memory_order_relaxed); }
  int64_t key() const { return key_; }

 private:
  void drop();

  std::string conninfo_;
  int64_t key_;
  std::chrono::milliseconds io_timeout_;
  std::unique_ptr<pg::Connection> conn_;
  std::atomic<bool> held_{false};
};

}  // namespace sc::store

#pragma once
// A thread-safe pool of libpq connections (DB_POOL_SIZE of them at most, opened lazily).
// lease() hands one connection to one caller; the Lease returns it when destroyed. A connection
// that broke, or that still holds a transaction, is rolled back or replaced on return.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "domain/result.h"
#include "store/pg.h"

namespace sc::store::pg {

class ConnectionPool;

class Lease {
 public:
  Lease(ConnectionPool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
  Lease(Lease&&) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease();
  Connection& operator*() { return *c_; }
  Connection* operator->() { return c_.get(); }

 private:
  ConnectionPool* pool_;
  std::unique_ptr<Connection> c_;
};

class ConnectionPool {
 public:
  ConnectionPool(std::string conninfo, int size,
                 std::chrono::milliseconds wait = std::chrono::seconds(10));
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection for the caller's exclusive use: an idle one, a new one while fewer than `size`
  // exist, or the next one returned (up to `wait`; then retryable "database_pool_exhausted").
  // Connect failure → retryable "database_unavailable" naming host:port.
  Result<Lease> lease();

  int size() const { return size_; }
  int open() const;  // connections currently open (idle + leased)
  const std::string& conninfo() const { return conninfo_; }

 private:
  friend class Lease;
  void giveBack(std::unique_ptr<Connection> c);

  const std::string conninfo_;
  const int size_;
  const std::chrono::milliseconds wait_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
};

}  // namespace sc::store::pg

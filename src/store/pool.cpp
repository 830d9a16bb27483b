#include "store/pool.h"

#include "common/log.h"
#include "store/errors.h"
#include "store/store_metrics.h"

namespace sc::store::pg {

Lease::~Lease() {
  if (c_ && pool_) pool_->giveBack(std::move(c_));
}

ConnectionPool::ConnectionPool(std::string conninfo, int size, std::chrono::milliseconds wait)
    : conninfo_(std::move(conninfo)), size_(size < 1 ? 1 : size), wait_(wait) {}

ConnectionPool::~ConnectionPool() = default;

int ConnectionPool::open() const {
  std::lock_guard lock(mu_);
  return open_;
}

Result<Lease> ConnectionPool::lease() {
  {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, wait_, [&] { return !idle_.empty() || open_ < size_; })) {
      store::metrics().errors.inc();
      return Error::transient(
          std::string(store::kDatabasePoolExhausted),
          "no database connection free within " + std::to_string(wait_.count()) +
              " ms (all DB_POOL_SIZE=" + std::to_string(size_) + " connections busy)");
    }
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
    ++open_;  // reserve the slot, connect outside the lock
  }
  auto c = Connection::connect(conninfo_);
  if (!c.ok()) {
    {
      std::lock_guard lock(mu_);
      --open_;
    }
    cv_.notify_one();
    store::metrics().errors.inc();
    store::metrics().connect_failures.inc();
    return c.error();
  }
  store::metrics().connects.inc();
  return Lease(this, std::move(c).value());
}

void ConnectionPool::giveBack(std::unique_ptr<Connection> c) {
  if (!c->broken() && c->inTransaction()) {
    // A call that failed inside BEGIN … COMMIT: end it before anyone else uses the connection.
    if (!c->script("ROLLBACK").ok()) c.reset();
  }
  if (c && c->broken()) {
    sc::log::get("store")->warn("dropping broken database connection to {}", c->endpoint());
    c.reset();
  }
  {
    std::lock_guard lock(mu_);
    if (c)
      idle_.push_back(std::move(c));
    else
      --open_;
  }
  cv_.notify_one();
}

}  // namespace sc::store::pg

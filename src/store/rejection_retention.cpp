#include "store/rejection_retention.h"

#include "common/log.h"

namespace sc::store {

RejectionRetention::RejectionRetention(RejectionRepository& repo, RejectionRetentionOptions options)
    : repo_(repo), options_(options) {}

RejectionRetention::~RejectionRetention() { stop(); }

Result<int64_t> RejectionRetention::runOnce() {
  auto deleted = repo_.prune(options_.max_age, options_.max_rows);
  if (!deleted) {
    metrics_.failures.inc();
    log::get("store")->warn(
        "rejections retention failed (retried in {} s): {}",
        std::chrono::duration_cast<std::chrono::seconds>(options_.interval).count(),
        deleted.error().message);
    return deleted;
  }
  metrics_.pruned.inc(static_cast<uint64_t>(*deleted));
  if (*deleted > 0) log::get("store")->info("rejections retention deleted {} row(s)", *deleted);
  return deleted;
}

void RejectionRetention::start() {
  std::lock_guard l(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock l(mu_);
    do {
      l.unlock();
      (void)runOnce();
      l.lock();
    } while (!cv_.wait_for(l, options_.interval, [this] { return stopping_; }));
  });
}

void RejectionRetention::stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sc::store

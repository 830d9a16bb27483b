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
  periodic_.start(options_.interval, [this] { (void)runOnce(); });
}

void RejectionRetention::stop() { periodic_.stop(); }

}  // namespace sc::store

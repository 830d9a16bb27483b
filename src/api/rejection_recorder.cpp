#include "api/rejection_recorder.h"

#include <algorithm>
#include <vector>

#include "api/router.h"
#include "common/log.h"

namespace sc::api {
namespace {

constexpr int64_t kMicroTokens = 1000000;  // one rejection
constexpr size_t kLoggedPerFailure = 10;   // rejections named in the log line of a failed write

}  // namespace

RejectionRecorder::RejectionRecorder(store::RejectionRepository& repo, const Clock& clock,
                                     RejectionRecorderOptions options)
    : repo_(repo), clock_(clock), options_(options), thread_([this] { run(); }) {}

RejectionRecorder::~RejectionRecorder() { stop(); }

bool RejectionRecorder::admit(const std::string& address, Timestamp now) {
  const int64_t per_minute = options_.per_address_per_minute;
  if (per_minute <= 0) return false;
  const int64_t full = per_minute * kMicroTokens;
  auto refilled = [&](const Bucket& b) {
    const int64_t elapsed_us = std::max<int64_t>(0, (now - b.at).count());
    if (elapsed_us >= 60 * kMicroTokens) return full;  // a minute refills any bucket
    return std::min(full, b.micro_tokens + elapsed_us * per_minute / 60);
  };
  auto it = buckets_.find(address);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_addresses)  // forget the addresses that are full again
      std::erase_if(buckets_, [&](const auto& kv) { return refilled(kv.second) == full; });
    if (buckets_.size() >= options_.max_addresses) return false;
    it = buckets_.emplace(address, Bucket{full, now}).first;
  }
  Bucket& b = it->second;
  b.micro_tokens = refilled(b);
  b.at = now;
  if (b.micro_tokens < kMicroTokens) return false;
  b.micro_tokens -= kMicroTokens;
  return true;
}

bool RejectionRecorder::submit(store::Rejection r) {
  const Timestamp now = clock_.now();
  {
    std::lock_guard l(mu_);
    const bool limited = !admit(r.remote_address, now);
    const bool full = !limited && (stopping_ || queue_.size() >= options_.queue_capacity);
    if (!limited && !full) {
      queue_.push_back(std::move(r));
      ++queued_;
    } else {
      (limited ? metrics_.rate_limited : metrics_.queue_full).inc();
      if (now - last_drop_log_ >= std::chrono::minutes(1)) {
        last_drop_log_ = now;
        logger()->warn(
            "a rejection from {} (reason {}) is not recorded: {} (logged at most once a minute; "
            "sc_rejections_http_rate_limited_total and sc_rejections_http_queue_full_total count "
            "them)",
            r.remote_address, r.reason,
            limited ? "the address is over REJECTIONS_HTTP_PER_MINUTE" : "the write queue is full");
      }
      return false;
    }
  }
  wake_.notify_one();
  return true;
}

void RejectionRecorder::flush() {
  std::unique_lock l(mu_);
  const uint64_t target = queued_;
  written_cv_.wait(l, [&] { return written_ >= target || finished_; });
}

void RejectionRecorder::stop() {
  {
    std::lock_guard l(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RejectionRecorder::run() {
  std::unique_lock l(mu_);
  for (;;) {
    wake_.wait(l, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {  // stopping, everything written
      finished_ = true;
      written_cv_.notify_all();
      return;
    }
    std::vector<store::Rejection> batch(std::make_move_iterator(queue_.begin()),
                                        std::make_move_iterator(queue_.end()));
    queue_.clear();
    l.unlock();
    auto added = repo_.record(batch);
    if (added) {
      metrics_.recorded.inc(batch.size());
    } else {
      metrics_.write_failures.inc(batch.size());
      std::string what;
      for (size_t i = 0; i < batch.size() && i < kLoggedPerFailure; ++i)
        what += (i ? ", " : "") + batch[i].reason + " trade " + log::escape(batch[i].trade_id) +
                " from " + batch[i].remote_address;
      logger()->error("{} HTTP rejection(s) not recorded: {} ({}{})", batch.size(),
                      added.error().message, what, batch.size() > kLoggedPerFailure ? ", ..." : "");
    }
    l.lock();
    written_ += batch.size();
    written_cv_.notify_all();
  }
}

}  // namespace sc::api

#pragma once
// In-memory rejections with the PostgreSQL repository's semantics (store/rejection.h): ids in
// insertion order, a Kafka message recorded once per topic/partition/offset, newest first with
// the same filters and keyset cursor, retention by age (this store's clock) and row cap. Faults:
// failWith(e) fails every call until failWith(nullopt); `before_record` (set before use) runs at
// the start of record() without the lock, e.g. to hold the caller. Thread-safe.
#include <algorithm>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "store/rejection.h"

namespace sc::test {

class MemoryRejections final : public store::RejectionRepository {
 public:
  explicit MemoryRejections(const Clock* clock = nullptr) : clock_(clock) {}

  Result<int64_t> record(std::span<const store::Rejection> rejections) override {
    if (before_record) before_record();
    std::lock_guard l(mu_);
    if (fail_with_) return *fail_with_;
    int64_t added = 0;
    for (store::Rejection r : rejections) {
      if (r.source == store::RejectionSource::kKafka) {
        if (!coordinates_.emplace(r.topic, r.partition, r.offset).second) continue;
        r.remote_address.clear();
      } else {
        r.topic.clear();
        r.partition = 0;
        r.offset = 0;
      }
      r.id = ++last_id_;
      if (r.received_at == Timestamp{}) r.received_at = now();
      r.excerpt.resize(std::min(r.excerpt.size(), store::kRejectionExcerptBytes));
      r.original_size = std::max<int64_t>(r.original_size, static_cast<int64_t>(r.excerpt.size()));
      r.excerpt_truncated = r.original_size > static_cast<int64_t>(r.excerpt.size());
      rows_.push_back(std::move(r));
      ++added;
    }
    return added;
  }

  Result<std::vector<store::Rejection>> list(const store::RejectionQuery& q) override {
    std::lock_guard l(mu_);
    if (fail_with_) return *fail_with_;
    std::vector<store::Rejection> out;
    for (auto it = rows_.rbegin(); it != rows_.rend(); ++it) {
      if (static_cast<int>(out.size()) >= q.limit) break;
      if (q.source && it->source != *q.source) continue;
      if (q.reason && it->reason != *q.reason) continue;
      if (q.trade_id && it->trade_id != *q.trade_id) continue;
      if (q.since && it->received_at < *q.since) continue;
      if (q.until && it->received_at >= *q.until) continue;
      if (q.before_id && it->id >= *q.before_id) continue;
      out.push_back(*it);
    }
    return out;
  }

  Result<int64_t> prune(Duration max_age, int64_t max_rows) override {
    std::lock_guard l(mu_);
    if (fail_with_) return *fail_with_;
    const Timestamp cut = now() - max_age;
    const int64_t keep_above = last_id_ - max_rows;
    auto doomed = [&](const store::Rejection& r) {
      if (r.received_at >= cut && r.id > keep_above) return false;
      if (r.source == store::RejectionSource::kKafka)
        coordinates_.erase({r.topic, r.partition, r.offset});
      return true;
    };
    const auto before = rows_.size();
    std::erase_if(rows_, doomed);
    return static_cast<int64_t>(before - rows_.size());
  }

  // Every row, oldest first.
  std::vector<store::Rejection> rows() const {
    std::lock_guard l(mu_);
    return rows_;
  }

  void failWith(std::optional<Error> e) {
    std::lock_guard l(mu_);
    fail_with_ = std::move(e);
  }
  std::function<void()> before_record;

 private:
  Timestamp now() const { return clock_ ? clock_->now() : SystemClock().now(); }

  const Clock* clock_;
  mutable std::mutex mu_;
  std::vector<store::Rejection> rows_;
  std::optional<Error> fail_with_;
  std::set<std::tuple<std::string, int32_t, int64_t>> coordinates_;
  int64_t last_id_ = 0;
};

}  // namespace sc::test

#include "workflow/worker_pool.h"

#include "common/log.h"

namespace sc::workflow {

WorkerPool::WorkerPool(Workflow& workflow, int threads, Duration idle_poll)
    : workflow_(workflow), threads_(threads), idle_poll_(idle_poll) {}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  for (int i = 0; i < threads_; ++i) workers_.emplace_back([this, i] { loop(i); });
}

void WorkerPool::wake() {
  {
    std::lock_guard l(mu_);
    ++wakeups_;
  }
  cv_.notify_all();
}

void WorkerPool::stop() {
  stopping_ = true;
  cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void WorkerPool::loop(int index) {
  auto log = log::get("workflow");
  int consecutive_errors = 0;
  while (!stopping_) {
    uint64_t seen;
    {
      std::lock_guard l(mu_);
      seen = wakeups_;
    }
    auto n = workflow_.runOnce();
    if (!n) {
      if (consecutive_errors++ % 50 == 0)
        log->error("worker {}: {} (will keep retrying)", index, n.error().message);
    } else {
      consecutive_errors = 0;
      if (*n > 0) continue;  // more may be due right away
    }
    std::unique_lock l(mu_);
    cv_.wait_for(l, idle_poll_, [&] { return stopping_ || wakeups_ != seen; });
  }
}

}  // namespace sc::workflow

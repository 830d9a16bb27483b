#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "domain/time.h"
#include "workflow/workflow.h"

namespace sc::workflow {

// Runs Workflow::runOnce on N threads until stopped; wake() cuts the idle wait short (called by
// the intake when new trades arrive).
class WorkerPool {
 public:
  WorkerPool(Workflow& workflow, int threads, Duration idle_poll);
  ~WorkerPool();
  void start();
  void wake();
  void stop();  // finishes the batches in progress, then joins

 private:
  void loop(int index);
  Workflow& workflow_;
  int threads_;
  Duration idle_poll_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t wakeups_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace sc::workflow

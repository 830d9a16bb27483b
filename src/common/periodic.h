#pragma once
// A task run on its own thread every `interval` until stop(): the background passes (rejection
// retention, ledger pruning, the database clock's re-measurement) share it. The first run is at
// once, or after one interval (`run_at_start` false). stop() wakes the thread and joins it; the
// destructor stops.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sc {

class Periodic {
 public:
  Periodic() = default;
  ~Periodic() { stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  // Starts the thread (a second start while running does nothing).
  void start(std::chrono::milliseconds interval, std::function<void()> task,
             bool run_at_start = true) {
    std::lock_guard l(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this, interval, task = std::move(task), run_at_start] {
      std::unique_lock l(mu_);
      bool run = run_at_start;
      do {
        if (run) {
          l.unlock();
          task();
          l.lock();
        }
        run = true;
      } while (!cv_.wait_for(l, interval, [this] { return stopping_; }));
    });
  }

  void stop() {
    {
      std::lock_guard l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sc

#pragma once
// Waiting for an observable condition in tests that drive threads, brokers or processes: polls
// `pred` every `poll` until it holds (true) or `timeout` passes (false). Never a fixed sleep.
#include <chrono>
#include <thread>

namespace sc::test {

template <class Pred>
bool waitFor(Pred pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);  // polling interval of an observable condition
  }
  return true;
}

}  // namespace sc::test

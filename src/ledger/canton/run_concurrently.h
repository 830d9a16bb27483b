#pragma once
// runConcurrently: the Canton adapter's fan-out of a batch (canton_json_ledger.cpp), on plain
// threads, so that nothing it runs can take the process down.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <string>
#include <thread>
#include <vector>

namespace sc::ledger::canton {

// Runs f(0..n-1), each index once, on up to `width` threads (the caller's among them). An
// exception out of f(i) is caught on the thread that ran it and handed to on_error(i, what): it
// never reaches a thread's top (std::terminate) and never skips the other indexes. A thread that
// cannot be created leaves its share to the others (the caller's thread always works). Every
// thread started is joined before this returns, whatever happened.
template <class F, class OnError>
void runConcurrently(size_t n, int width, F&& f, OnError&& on_error) {
  std::atomic<size_t> next{0};
  auto report = [&](size_t i, const char* what) noexcept {
    try {
      on_error(i, std::string(what));
    } catch (...) {  // a failing report must not end the process either
    }
  };
  auto work = [&]() noexcept {
    for (size_t i = next++; i < n; i = next++) {
      try {
        f(i);
      } catch (const std::exception& e) {
        report(i, e.what());
      } catch (...) {
        report(i, "an exception that is not a std::exception");
      }
    }
  };
  std::vector<std::thread> threads;
  struct JoinAll {
    std::vector<std::thread>& threads;
    ~JoinAll() {
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } join_all{threads};
  const size_t extra =
      n == 0 ? 0 : std::min<size_t>(n, static_cast<size_t>(std::max(1, width))) - 1;
  for (size_t t = 0; t < extra; ++t) {
    try {
      threads.emplace_back(work);
    } catch (...) {  // std::system_error (no thread) or bad_alloc: fewer threads do the work
      break;
    }
  }
  work();
}

}  // namespace sc::ledger::canton

#pragma once
// Minimal lock-free metrics (STYLE 8): each component owns one struct of Counters/Gauges and
// registers it; /metrics renders every registered metric in Prometheus text format.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sc::metrics {

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(int64_t d) { v_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Registers a metric under a Prometheus name (e.g. "sc_store_transitions_total") with help text.
// The object must outlive the registry's use (components own theirs for the process lifetime).
void registerCounter(const std::string& name, const std::string& help, const Counter* c);
void registerGauge(const std::string& name, const std::string& help, const Gauge* g);
// A value computed when scraped.
void registerCallback(const std::string& name, const std::string& help,
                      std::function<int64_t()> fn);
std::string renderPrometheus();

}  // namespace sc::metrics

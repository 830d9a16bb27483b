#pragma once
// Metrics on prometheus-cpp (STYLE 8): one Probe per component, owning every series it adds for
// exactly as long as it lives. A component keeps one struct whose first member is its Probe and
// whose other members are the handles the Probe hands out, so destroying the component removes
// its series from /metrics and no handle can outlive the series it points at:
//
//   struct IntakeMetrics {
//     metrics::Probe probe{"intake"};
//     metrics::Counter accepted = probe.counter("sc_intake_accepted_total", "Trades accepted");
//   };
//
// Two live probes of one component (tests build several consumers or relays in one process) never
// share a series: the first carries no extra label, every further one the label probe="<n>".
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace sc::metrics {

using Labels = std::map<std::string, std::string>;

// Handles. Valid while the Probe that made them lives; cheap to use from any thread.
class Counter {
 public:
  void inc(uint64_t n = 1);
  uint64_t value() const;

 private:
  friend class Probe;
  explicit Counter(prometheus::Counter& c) : c_(&c) {}
  prometheus::Counter* c_;
};

class Gauge {
 public:
  void set(int64_t v);
  void add(int64_t d);
  int64_t value() const;

 private:
  friend class Probe;
  explicit Gauge(prometheus::Gauge& g) : g_(&g) {}
  prometheus::Gauge* g_;
};

class Histogram {
 public:
  void observe(double v);
  template <class Rep, class Period>
  void observe(std::chrono::duration<Rep, Period> d) {
    observe(std::chrono::duration<double>(d).count());
  }
  uint64_t count() const;  // observations so far
  double sum() const;

 private:
  friend class Probe;
  explicit Histogram(prometheus::Histogram& h) : h_(&h) {}
  prometheus::Histogram* h_;
};

// Observes, in seconds, how long the scope it lives in took.
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram h) : h_(h), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() { h_.observe(std::chrono::steady_clock::now() - start_); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Histogram h_;
  std::chrono::steady_clock::time_point start_;
};

// Bucket upper bounds for latencies in seconds (0.5 ms .. 10 s; the service runs at ~1-100 ms) and
// for batch sizes (1 .. 10,000).
const std::vector<double>& latencyBuckets();
const std::vector<double>& sizeBuckets();

// A prometheus::Registry plus the bookkeeping that lets probes come and go: which probe slots of
// each component are taken and how many live series each metric family has (a family is removed
// with its last series).
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The Prometheus text exposition format (version 0.0.4) of every live series.
  std::string render() const;
  prometheus::Registry& prometheusRegistry() { return *registry_; }

 private:
  friend class Probe;
  struct FamilyUse {
    void* family;  // prometheus::Family<T>*, T given by type
    int type;
    int series;
  };
  std::unique_ptr<prometheus::Registry> registry_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<bool>, std::less<>> slots_;  // component -> slot taken
  std::map<std::string, FamilyUse, std::less<>> families_;
};

class Probe;
// sc_batch_size{kind="<kind>"}: the one family every batching component (intake, workflow, relay)
// adds its series to, so they share one help text and one set of buckets.
Histogram batchSize(Probe& probe, std::string_view kind);

// The process's registry: GET /metrics renders it; probes register in it unless told otherwise.
Registry& processRegistry();
std::string renderPrometheus();

class Probe {
 public:
  // component names the owner ("consumer", "relay", ...); it picks the probe slot, not the metric
  // names, which are the caller's.
  explicit Probe(std::string_view component, Registry& registry = processRegistry());
  ~Probe();  // removes every series this probe added
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  // Adds a series to the family `name` (created on first use). Throws std::logic_error when a
  // live series already has this name and these labels (two owners of one series), or when the
  // name is already a family of another type.
  Counter counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram histogram(std::string_view name, std::string_view help,
                      const std::vector<double>& buckets, const Labels& labels = {});

  // {} for the first live probe of its component, {probe="<n>"} for the n-th.
  const Labels& labels() const { return labels_; }

 private:
  struct Added {
    std::string name;
    void* metric;
  };
  template <class T>
  T& add(int type, std::string_view name, std::string_view help, const Labels& labels,
         const std::vector<double>* buckets);

  Registry& registry_;
  std::string component_;
  size_t slot_;
  Labels labels_;
  std::vector<Added> added_;
};

}  // namespace sc::metrics

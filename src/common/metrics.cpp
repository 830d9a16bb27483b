#include "common/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <stdexcept>
#include <type_traits>

namespace sc::metrics {
namespace {

enum Type { kCounter, kGauge, kHistogram };

const char* typeName(int type) {
  switch (type) {
    case kCounter:
      return "counter";
    case kGauge:
      return "gauge";
    default:
      return "histogram";
  }
}

template <class T>
prometheus::Family<T>& buildFamily(prometheus::Registry& r, const std::string& name,
                                   const std::string& help) {
  if constexpr (std::is_same_v<T, prometheus::Counter>)
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
  else if constexpr (std::is_same_v<T, prometheus::Gauge>)
    return prometheus::BuildGauge().Name(name).Help(help).Register(r);
  else
    return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
}

// Removes one series, and its family with its last series. Caller holds the registry's lock.
template <class T>
void release(prometheus::Registry& r, prometheus::Family<T>& family, T* metric, int& series) {
  family.Remove(metric);
  if (--series == 0) r.Remove(family);
}

std::string describe(std::string_view name, const Labels& labels) {
  std::string s(name);
  if (labels.empty()) return s;
  s += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) s += ',';
    first = false;
    s += k + "=\"" + v + '"';
  }
  return s + '}';
}

}  // namespace

void Counter::inc(uint64_t n) { c_->Increment(static_cast<double>(n)); }
uint64_t Counter::value() const { return static_cast<uint64_t>(c_->Value()); }

void Gauge::set(int64_t v) { g_->Set(static_cast<double>(v)); }
void Gauge::add(int64_t d) { g_->Increment(static_cast<double>(d)); }
int64_t Gauge::value() const { return static_cast<int64_t>(g_->Value()); }

void Histogram::observe(double v) { h_->Observe(v); }
uint64_t Histogram::count() const { return h_->Collect().histogram.sample_count; }
double Histogram::sum() const { return h_->Collect().histogram.sample_sum; }

const std::vector<double>& latencyBuckets() {
  static const std::vector<double> b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return b;
}

const std::vector<double>& sizeBuckets() {
  static const std::vector<double> b{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
  return b;
}

Histogram batchSize(Probe& probe, std::string_view kind) {
  return probe.histogram("sc_batch_size",
                         "Items per batch: trades per intake call, settlements per workflow "
                         "lease, events per relay batch",
                         sizeBuckets(), {{"kind", std::string(kind)}});
}

Registry::Registry() : registry_(std::make_unique<prometheus::Registry>()) {}
Registry::~Registry() = default;

std::string Registry::render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

Registry& processRegistry() {
  // Never destroyed: a process-lifetime probe (the store's) or a thread still running during exit
  // may use its series after static destruction began.
  static Registry* r = new Registry();
  return *r;
}

std::string renderPrometheus() { return processRegistry().render(); }

Probe::Probe(std::string_view component, Registry& registry)
    : registry_(registry), component_(component) {
  std::lock_guard l(registry_.mu_);
  auto it = registry_.slots_.find(component_);
  if (it == registry_.slots_.end()) it = registry_.slots_.emplace(component_, 0).first;
  auto& taken = it->second;
  slot_ = 0;
  while (slot_ < taken.size() && taken[slot_]) ++slot_;
  if (slot_ == taken.size()) taken.push_back(false);
  taken[slot_] = true;
  if (slot_ > 0) labels_["probe"] = std::to_string(slot_ + 1);
}

Probe::~Probe() {
  std::lock_guard l(registry_.mu_);
  auto& r = *registry_.registry_;
  for (auto a = added_.rbegin(); a != added_.rend(); ++a) {
    auto f = registry_.families_.find(a->name);
    auto& use = f->second;
    switch (use.type) {
      case kCounter:
        release(r, *static_cast<prometheus::Family<prometheus::Counter>*>(use.family),
                static_cast<prometheus::Counter*>(a->metric), use.series);
        break;
      case kGauge:
        release(r, *static_cast<prometheus::Family<prometheus::Gauge>*>(use.family),
                static_cast<prometheus::Gauge*>(a->metric), use.series);
        break;
      default:
        release(r, *static_cast<prometheus::Family<prometheus::Histogram>*>(use.family),
                static_cast<prometheus::Histogram*>(a->metric), use.series);
    }
    if (use.series == 0) registry_.families_.erase(f);
  }
  auto& taken = registry_.slots_[component_];
  taken[slot_] = false;
  while (!taken.empty() && !taken.back()) taken.pop_back();
  if (taken.empty()) registry_.slots_.erase(component_);
}

template <class T>
T& Probe::add(int type, std::string_view name, std::string_view help, const Labels& extra,
              const std::vector<double>* buckets) {
  Labels labels = labels_;
  for (const auto& [k, v] : extra) labels[k] = v;
  std::lock_guard l(registry_.mu_);
  auto it = registry_.families_.find(name);
  if (it != registry_.families_.end() && it->second.type != type)
    throw std::logic_error("metric " + std::string(name) + " is already a " +
                           typeName(it->second.type) + ", not a " + typeName(type));
  prometheus::Family<T>* family;
  if (it == registry_.families_.end()) {
    // prometheus-cpp checks the name and labels (and throws std::invalid_argument naming them).
    family = &buildFamily<T>(*registry_.registry_, std::string(name), std::string(help));
    it = registry_.families_.emplace(std::string(name), Registry::FamilyUse{family, type, 0}).first;
  } else {
    family = static_cast<prometheus::Family<T>*>(it->second.family);
    if (family->Has(labels))
      throw std::logic_error("metric " + describe(name, labels) +
                             " already has a live owner (two probes may not share a series)");
  }
  T* metric;
  try {
    if constexpr (std::is_same_v<T, prometheus::Histogram>)
      metric = &family->Add(labels, *buckets);
    else
      metric = &family->Add(labels);
  } catch (...) {
    if (it->second.series == 0) {
      registry_.registry_->Remove(*family);
      registry_.families_.erase(it);
    }
    throw;
  }
  ++it->second.series;
  added_.push_back({std::string(name), metric});
  return *metric;
}

Counter Probe::counter(std::string_view name, std::string_view help, const Labels& labels) {
  return Counter(add<prometheus::Counter>(kCounter, name, help, labels, nullptr));
}

Gauge Probe::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  return Gauge(add<prometheus::Gauge>(kGauge, name, help, labels, nullptr));
}

Histogram Probe::histogram(std::string_view name, std::string_view help,
                           const std::vector<double>& buckets, const Labels& labels) {
  return Histogram(add<prometheus::Histogram>(kHistogram, name, help, labels, &buckets));
}

}  // namespace sc::metrics

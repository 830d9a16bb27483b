#include "common/metrics.h"

#include <map>
#include <mutex>

namespace sc::metrics {
namespace {

struct Entry {
  std::string help;
  std::string type;
  std::function<int64_t()> read;
};

std::mutex& mu() {
  static std::mutex m;
  return m;
}
std::map<std::string, Entry>& entries() {
  static std::map<std::string, Entry> e;
  return e;
}

}  // namespace

void registerCounter(const std::string& name, const std::string& help, const Counter* c) {
  std::lock_guard l(mu());
  entries()[name] = {help, "counter", [c] { return static_cast<int64_t>(c->value()); }};
}
void registerGauge(const std::string& name, const std::string& help, const Gauge* g) {
  std::lock_guard l(mu());
  entries()[name] = {help, "gauge", [g] { return g->value(); }};
}
void registerCallback(const std::string& name, const std::string& help,
                      std::function<int64_t()> fn) {
  std::lock_guard l(mu());
  entries()[name] = {help, "gauge", std::move(fn)};
}

std::string renderPrometheus() {
  std::lock_guard l(mu());
  std::string out;
  for (auto& [name, e] : entries()) {
    out += "# HELP " + name + " " + e.help + "\n# TYPE " + name + " " + e.type + "\n";
    out += name + " " + std::to_string(e.read()) + "\n";
  }
  return out;
}

}  // namespace sc::metrics

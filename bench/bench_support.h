#pragma once
// Shared pieces of the benchmark tools (bench/README.md): an HDR-style latency histogram, CPU and
// memory readings from /proc, command-line options, and a few formatting helpers. Header-only, no
// project dependencies.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace sc::bench {

// The `--name value` options of a bench tool, each bound to the variable it sets. A missing or
// malformed value, or an unknown option, prints "<tool>: <why>" and the usage, and exits 2.
class Args {
 public:
  Args(std::string tool, std::string usage) : tool_(std::move(tool)), usage_(std::move(usage)) {}

  void add(const std::string& name, std::string& v) {
    setters_[name] = [&v](const std::string& text) { v = text; };
  }
  void add(const std::string& name, double& v) {
    setters_[name] = [this, name, &v](const std::string& text) { v = number(name, text); };
  }
  void add(const std::string& name, int& v) {
    setters_[name] = [this, name, &v](const std::string& text) {
      double d = number(name, text);
      if (d != std::floor(d) || d < -2147483648.0 || d > 2147483647.0)
        fail(name + " must be an integer");
      v = static_cast<int>(d);
    };
  }
  void add(const std::string& name, std::function<void(const std::string&)> set) {
    setters_[name] = std::move(set);
  }

  void parse(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto it = setters_.find(a);
      if (it == setters_.end()) fail("unknown option " + a);
      if (i + 1 >= argc) fail(a + " needs a value");
      it->second(argv[++i]);
    }
  }

  [[noreturn]] void fail(const std::string& why) const {
    std::cerr << tool_ << ": " << why << "\n" << usage_;
    std::exit(2);
  }

  double number(const std::string& name, const std::string& text) const {
    size_t used = 0;
    double d = 0;
    try {
      d = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size()) fail(name + " must be a number, not '" + text + "'");
    return d;
  }

 private:
  std::string tool_, usage_;
  std::map<std::string, std::function<void(const std::string&)>> setters_;
};

// Log-linear histogram of non-negative integer values (microseconds here), in the manner of
// HdrHistogram: values below 256 are exact; above, each power of two is split into 128 equal
// sub-buckets, so a bucket is at most 1/128 (0.78%) of its lower bound wide and the reported value
// (the bucket's midpoint) is within 0.4% of every value recorded in it.
class Histogram {
 public:
  static constexpr int kSubBits = 7;                     // 128 sub-buckets per octave
  static constexpr uint64_t kLinear = 2ull << kSubBits;  // 256 exact values
  static constexpr int kOctaves = 48;

  Histogram() : counts_(kLinear + kOctaves * (1ull << kSubBits), 0) {}

  void record(uint64_t v) {
    counts_[index(v)]++;
    total_++;
    max_ = std::max(max_, v);
    min_ = std::min(min_, v);
    sum_ += static_cast<double>(v);
  }
  void merge(const Histogram& o) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
    min_ = std::min(min_, o.min_);
    sum_ += o.sum_;
  }

  uint64_t count() const { return total_; }
  uint64_t max() const { return total_ ? max_ : 0; }
  uint64_t min() const { return total_ ? min_ : 0; }
  double mean() const { return total_ ? sum_ / static_cast<double>(total_) : 0; }

  // Value at quantile q in [0, 1] (the midpoint of the bucket holding the q-th value, capped by
  // the exact maximum).
  double quantile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    rank = std::clamp<uint64_t>(rank, 1, total_);
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        auto [lo, hi] = bounds(i);
        double mid = lo == hi ? static_cast<double>(lo) : (static_cast<double>(lo) + hi) / 2.0;
        return std::min(mid, static_cast<double>(max_));
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static size_t index(uint64_t v) {
    if (v < kLinear) return static_cast<size_t>(v);
    int mag = 63 - std::countl_zero(v);  // >= kSubBits + 1
    int shift = mag - kSubBits;          // >= 1
    uint64_t top = v >> shift;           // in [128, 255]
    size_t octave = static_cast<size_t>(mag - kSubBits - 1);
    size_t i = kLinear + octave * (1ull << kSubBits) + (top - (1ull << kSubBits));
    return std::min<size_t>(i, kLinear + kOctaves * (1ull << kSubBits) - 1);
  }
  // Inclusive [lo, hi] of bucket i.
  static std::pair<uint64_t, uint64_t> bounds(size_t i) {
    if (i < kLinear) return {i, i};
    size_t rel = i - kLinear;
    size_t octave = rel >> kSubBits;
    uint64_t top = (1ull << kSubBits) + (rel & ((1ull << kSubBits) - 1));
    int shift = static_cast<int>(octave) + 1;
    return {top << shift, ((top + 1) << shift) - 1};
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0, max_ = 0, min_ = UINT64_MAX;
  double sum_ = 0;
};

// ---- /proc
// ---------------------------------------------------------------------------------------

inline double ticksPerSecond() { return static_cast<double>(sysconf(_SC_CLK_TCK)); }

// utime + stime of one process, in seconds; -1 when it is gone.
inline double processCpuSeconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!pid || !std::getline(f, line)) return -1;
  auto close = line.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return -1;
  std::istringstream in(line.substr(close + 2));
  std::string field;
  // Fields after the name start at #3 (state); utime is #14, stime #15.
  uint64_t utime = 0, stime = 0;
  for (int n = 3; n <= 15 && in >> field; ++n) {
    if (n == 14) utime = std::stoull(field);
    if (n == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / ticksPerSecond();
}

inline int parentPid(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(line.substr(close + 2));
  std::string state;
  int ppid = -1;
  in >> state >> ppid;
  return ppid;
}

// CPU seconds of `pid` and its direct children (PostgreSQL: the postmaster and its backends).
inline double processTreeCpuSeconds(int pid) {
  if (pid <= 0) return -1;
  double total = processCpuSeconds(pid);
  if (total < 0) return -1;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      int child = std::atoi(e->d_name);
      if (child > 0 && parentPid(child) == pid) {
        double c = processCpuSeconds(child);
        if (c > 0) total += c;
      }
    }
    closedir(d);
  }
  return total;
}

// A "Vm…:" line of /proc/<pid>/status, in MiB; -1 when unknown.
inline double processMemoryMiB(int pid, const std::string& key /* "VmHWM", "VmRSS" */) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream in(line.substr(key.size() + 1));
      double kb = 0;
      in >> kb;
      return kb / 1024.0;
    }
  }
  return -1;
}

// Busy and total jiffies of the whole machine (/proc/stat "cpu" line); busy excludes idle and
// iowait.
struct MachineTicks {
  uint64_t busy = 0, total = 0;
};
inline MachineTicks machineTicks() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  MachineTicks t;
  f >> cpu;
  uint64_t v[10] = {};
  for (int i = 0; i < 10 && f >> v[i]; ++i) {
  }
  for (int i = 0; i < 8; ++i) t.total += v[i];  // guest time is already in user
  t.busy = t.total - v[3] - v[4];
  return t;
}
inline double busyPercent(MachineTicks a, MachineTicks b) {
  if (b.total <= a.total) return 0;
  return 100.0 * static_cast<double>(b.busy - a.busy) / static_cast<double>(b.total - a.total);
}

// ---- output
// --------------------------------------------------------------------------------------

inline std::string fixed(double v, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// {"p50_ms":…,"p90_ms":…,…} from a histogram of microseconds.
inline std::string percentilesJson(const Histogram& h) {
  std::string s = "{\"count\":" + std::to_string(h.count());
  s += ",\"p50_ms\":" + fixed(h.quantile(0.50) / 1000.0, 3);
  s += ",\"p90_ms\":" + fixed(h.quantile(0.90) / 1000.0, 3);
  s += ",\"p99_ms\":" + fixed(h.quantile(0.99) / 1000.0, 3);
  s += ",\"p999_ms\":" + fixed(h.quantile(0.999) / 1000.0, 3);
  s += ",\"max_ms\":" + fixed(static_cast<double>(h.max()) / 1000.0, 3);
  s += ",\"mean_ms\":" + fixed(h.mean() / 1000.0, 3) + "}";
  return s;
}

// Percentile distribution for plotting: lines "<percentile> <1/(1-p)> <value_ms>", up to the
// resolution of the sample (1/(1-p) < count), then the maximum at x = count.
inline std::string percentileCurve(const Histogram& h) {
  std::string out;
  if (h.count() == 0) return out;
  const double n = static_cast<double>(h.count());
  for (double p : {0.0, 0.1, 0.25, 0.5, 0.75, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999, 0.9995,
                   0.9999, 0.99995, 0.99999}) {
    double x = 1.0 / (1.0 - p);
    if (x >= n) break;
    out += fixed(p * 100.0, 3) + " " + fixed(x, 3) + " " + fixed(h.quantile(p) / 1000.0, 3) + "\n";
  }
  out += "100.000 " + fixed(std::max(n, 1.0), 3) + " " +
         fixed(static_cast<double>(h.max()) / 1000.0, 3) + "\n";
  return out;
}

}  // namespace sc::bench

// sc-loadgen: offers trades to trade.events at fixed rates and measures, per trade, the time from
// its (scheduled) produce to the settlement_confirmed and settlement_settled events consumed from
// settlement.events. See bench/README.md.
//
// Pacing is a token bucket on a fixed schedule: trade i of a phase is due at start + i/rate and its
// latency is measured from that due time, so a producer that falls behind (CPU starvation on a
// shared machine) shows up as latency instead of silently lowering the offered rate.
//
// Output: one JSON object per line and phase on --out (and a short summary on stderr); with
// --plot-dir, a percentile curve per phase (<dir>/<phase>.dat) for gnuplot.
//
// Why one file of ~650 lines: it is one self-contained tool (options, per-trade slots, the
// settlement.events consumer, the producer and phases), its parts used by nothing else; what the
// bench tools share (latency histogram, CPU readings, option parsing) is in bench_support.h.
#include <librdkafka/rdkafkacpp.h>

#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench_support.h"

namespace {

using namespace std::chrono;
using sc::bench::fixed;
using sc::bench::Histogram;

int64_t nowNs() {
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

std::atomic<bool> g_interrupted{false};

// ---- options
// -------------------------------------------------------------------------------------

struct Options {
  std::string brokers = "127.0.0.1:9092";
  std::string trade_topic = "trade.events";
  std::string events_topic = "settlement.events";
  std::string account_prefix = "acc_bench";
  int pairs = 200;
  std::string symbol = "BNCH/USDC";
  std::vector<int> rates = {100, 1000, 5000};
  double warmup_s = 5, duration_s = 30;
  double drain_s = 30;      // after a phase: wait this long at most for its trades to settle
  double predrain_s = 120;  // before a phase: wait this long at most for any backlog to clear
  // Search for the highest sustainable rate: double from search_start, then bisect.
  int search_steps = 6;  // 0: no search
  int search_start = 0;  // 0: the highest sustainable fixed rate (or the first rate)
  int search_max = 64000;
  int search_min_step = 20;  // stop bisecting once good and bad are within max(this, 5 %)
  // A phase that ran its whole window and still missed (a marginal miss, not an overload that
  // stopped it early) is run again up to this many times; the last run's verdict counts. On a
  // shared machine one stall otherwise pins the search's upper bound.
  int retry_marginal = 0;
  double search_warmup_s = 3, search_duration_s = 15;
  double p99_target_ms = 2000;
  // Stop offering early once the lag exceeds factor × p99 target × rate: by Little's law the mean
  // latency is then above the target, so the verdict is known and the backlog stays bounded.
  // 0 = never (fixed phases of the full run keep their whole window).
  double abort_lag_factor = 0;
  double search_abort_lag_factor = 1.5;
  double lag_slope_fraction = 0.05;  // lag "grows" when it rises faster than this × rate per s
  // --service-pid takes one pid or several, comma-separated (instances of one cluster): their CPU
  // and RSS are summed. --ledger-pid: the ledger's process (sc-ledger-sandbox in canton mode).
  std::vector<int> service_pids;
  int pg_pid = 0, kafka_pid = 0, ledger_pid = 0;
  std::string out;       // JSON lines (default stdout)
  std::string plot_dir;  // percentile curves
  std::string tag;       // trade_id prefix part (default: from the clock)
};

Options parse(int argc, char** argv) {
  Options o;
  sc::bench::Args args(
      "sc-loadgen",
      "usage: sc-loadgen --brokers H:P [--rates 100,1000,5000] [--warmup S] [--duration S]\n"
      "  [--drain S] [--predrain S] [--search-steps N] [--search-start R] [--search-max R]\n"
      "  [--search-warmup S] [--search-duration S] [--search-min-step R] [--p99-target-ms MS]\n"
      "  [--abort-lag-factor F] [--search-abort-lag-factor F] [--retry-marginal N]\n"
      "  [--pairs N] [--account-prefix P] [--symbol SEC/CASH] [--trade-topic T]\n"
      "  [--events-topic T] [--service-pid PID[,PID…]] [--pg-pid PID] [--kafka-pid PID]\n"
      "  [--ledger-pid PID]\n"
      "  [--out FILE] [--plot-dir DIR] [--tag TAG]\n");
  args.add("--brokers", o.brokers);
  args.add("--trade-topic", o.trade_topic);
  args.add("--events-topic", o.events_topic);
  args.add("--account-prefix", o.account_prefix);
  args.add("--pairs", o.pairs);
  args.add("--symbol", o.symbol);
  args.add("--rates", [&](const std::string& text) {
    o.rates.clear();
    std::string list = text + ",";
    size_t start = 0;
    for (size_t p; (p = list.find(',', start)) != std::string::npos; start = p + 1) {
      if (p <= start) continue;
      double rate = args.number("--rates", list.substr(start, p - start));
      o.rates.push_back(static_cast<int>(rate));
    }
  });
  args.add("--warmup", o.warmup_s);
  args.add("--duration", o.duration_s);
  args.add("--drain", o.drain_s);
  args.add("--predrain", o.predrain_s);
  args.add("--search-steps", o.search_steps);
  args.add("--search-start", o.search_start);
  args.add("--search-max", o.search_max);
  args.add("--search-min-step", o.search_min_step);
  args.add("--retry-marginal", o.retry_marginal);
  args.add("--search-warmup", o.search_warmup_s);
  args.add("--search-duration", o.search_duration_s);
  args.add("--p99-target-ms", o.p99_target_ms);
  args.add("--abort-lag-factor", o.abort_lag_factor);
  args.add("--search-abort-lag-factor", o.search_abort_lag_factor);
  args.add("--service-pid", [&](const std::string& text) {
    o.service_pids.clear();
    std::string list = text + ",";
    size_t start = 0;
    for (size_t p; (p = list.find(',', start)) != std::string::npos; start = p + 1) {
      if (p <= start) continue;
      double pid = args.number("--service-pid", list.substr(start, p - start));
      if (pid > 0) o.service_pids.push_back(static_cast<int>(pid));
    }
  });
  args.add("--ledger-pid", o.ledger_pid);
  args.add("--pg-pid", o.pg_pid);
  args.add("--kafka-pid", o.kafka_pid);
  args.add("--out", o.out);
  args.add("--plot-dir", o.plot_dir);
  args.add("--tag", o.tag);
  args.parse(argc, argv);
  if (o.pairs < 1) args.fail("--pairs must be >= 1");
  if (o.tag.empty()) o.tag = std::to_string(time(nullptr) % 100000000);
  return o;
}

// ---- per-trade times
// -------------------------------------------------------------------------------

// Times (steady clock, ns) per trade sequence number, in lazily allocated chunks so the producer
// can grow it while the consumer thread reads it.
struct Slot {
  std::atomic<int64_t> due{0}, confirmed{0}, settled{0};
};

class Slots {
 public:
  static constexpr uint64_t kChunk = 1 << 16;
  ~Slots() {
    for (auto& c : chunks_) delete[] c.load();
  }
  // Producer only.
  Slot& create(uint64_t i) {
    auto& c = chunks_.at(i / kChunk);
    if (!c.load(std::memory_order_acquire)) c.store(new Slot[kChunk], std::memory_order_release);
    return c.load(std::memory_order_relaxed)[i % kChunk];
  }
  Slot* find(uint64_t i) {
    if (i / kChunk >= chunks_.size()) return nullptr;
    Slot* c = chunks_[i / kChunk].load(std::memory_order_acquire);
    return c ? &c[i % kChunk] : nullptr;
  }

 private:
  std::array<std::atomic<Slot*>, 8192> chunks_{};
};

// ---- settlement.events consumer
// ------------------------------------------------------------------

class EventsConsumer {
 public:
  EventsConsumer(const Options& o, Slots& slots, std::atomic<uint64_t>& produced)
      : o_(o), slots_(slots), produced_(produced), prefix_("bench_" + o.tag + "_") {}

  void start() {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    for (auto [k, v] : std::map<std::string, std::string>{{"bootstrap.servers", o_.brokers},
                                                          {"group.id", "sc-loadgen-" + o_.tag},
                                                          {"enable.auto.commit", "false"},
                                                          {"fetch.wait.max.ms", "5"},
                                                          {"client.id", "sc-loadgen-consumer"}})
      if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error(k + ": " + err);
    consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer_) throw std::runtime_error("consumer: " + err);

    // Start at the current end of every partition: only events of this run are seen.
    RdKafka::Metadata* md = nullptr;
    std::unique_ptr<RdKafka::Topic> topic(
        RdKafka::Topic::create(consumer_.get(), o_.events_topic, nullptr, err));
    if (consumer_->metadata(false, topic.get(), &md, 10000) != RdKafka::ERR_NO_ERROR || !md ||
        md->topics()->empty() || md->topics()->at(0)->partitions()->empty())
      throw std::runtime_error("no metadata for " + o_.events_topic + " (is it created?)");
    std::vector<RdKafka::TopicPartition*> parts;
    for (auto* p : *md->topics()->at(0)->partitions()) {
      int64_t lo = 0, hi = 0;
      consumer_->query_watermark_offsets(o_.events_topic, p->id(), &lo, &hi, 10000);
      parts.push_back(RdKafka::TopicPartition::create(o_.events_topic, p->id(), hi));
    }
    partitions_ = static_cast<int>(parts.size());
    delete md;
    if (consumer_->assign(parts) != RdKafka::ERR_NO_ERROR)
      throw std::runtime_error("assign " + o_.events_topic);
    RdKafka::TopicPartition::destroy(parts);
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    if (consumer_) consumer_->close();
  }

  uint64_t confirmed() const { return confirmed_.load(); }
  uint64_t settled() const { return settled_.load(); }
  uint64_t failed() const { return failed_.load(); }
  uint64_t events() const { return events_.load(); }
  int partitions() const { return partitions_; }

 private:
  static std::string_view jsonString(std::string_view json, std::string_view key) {
    std::string pat = "\"" + std::string(key) + "\":\"";
    auto p = json.find(pat);
    if (p == std::string_view::npos) return {};
    p += pat.size();
    auto e = json.find('"', p);
    return e == std::string_view::npos ? std::string_view{} : json.substr(p, e - p);
  }

  void run() {
    while (!stopping_) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(50));
      if (m->err() != RdKafka::ERR_NO_ERROR) {
        if (m->err() != RdKafka::ERR__TIMED_OUT && m->err() != RdKafka::ERR__PARTITION_EOF)
          std::cerr << "sc-loadgen: consume: " << m->errstr() << "\n";
        continue;
      }
      int64_t t = nowNs();
      events_++;
      std::string_view payload(static_cast<const char*>(m->payload()), m->len());
      std::string type;
      if (auto* h = m->headers()) {
        auto v = h->get_last("event_type");
        if (v.err() == RdKafka::ERR_NO_ERROR && v.value())
          type.assign(static_cast<const char*>(v.value()), v.value_size());
      }
      if (type.empty()) type = std::string(jsonString(payload, "event_type"));
      std::string key = m->key() ? *m->key() : std::string(jsonString(payload, "settlement_id"));

      if (type == "settlement_initiated") {
        auto trade_id = jsonString(payload, "trade_id");
        if (trade_id.substr(0, prefix_.size()) != prefix_) continue;  // not ours
        uint64_t seq = std::stoull(std::string(trade_id.substr(prefix_.size())));
        by_settlement_[key] = seq;
        // Events of one settlement are ordered (one partition), but be tolerant anyway.
        if (auto it = early_.find(key); it != early_.end()) {
          for (auto& [ty, at] : it->second) mark(seq, ty, at);
          early_.erase(it);
        }
      } else if (type == "settlement_confirmed" || type == "settlement_settled" ||
                 type == "settlement_failed") {
        auto it = by_settlement_.find(key);
        if (it == by_settlement_.end()) {
          if (early_.size() < 100000) early_[key].emplace_back(type, t);
          continue;
        }
        mark(it->second, type, t);
        if (type != "settlement_confirmed") by_settlement_.erase(it);
      }
    }
  }

  void mark(uint64_t seq, const std::string& type, int64_t t) {
    Slot* s = slots_.find(seq);
    if (!s) return;
    int64_t zero = 0;
    if (type == "settlement_confirmed") {
      if (s->confirmed.compare_exchange_strong(zero, t)) confirmed_++;
    } else if (type == "settlement_settled") {
      if (s->settled.compare_exchange_strong(zero, t)) settled_++;
      zero = 0;  // a settled event implies confirmation (counts it if that event was lost)
      if (s->confirmed.compare_exchange_strong(zero, t)) confirmed_++;
    } else {
      failed_++;
      // A failed trade never confirms: count it as done so lag accounting stays right.
      if (s->confirmed.compare_exchange_strong(zero, -1)) confirmed_++;
      zero = 0;
      s->settled.compare_exchange_strong(zero, -1);
    }
  }

  const Options& o_;
  Slots& slots_;
  std::atomic<uint64_t>& produced_;
  std::string prefix_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> confirmed_{0}, settled_{0}, failed_{0}, events_{0};
  std::unordered_map<std::string, uint64_t> by_settlement_;
  std::unordered_map<std::string, std::vector<std::pair<std::string, int64_t>>> early_;
  int partitions_ = 0;
};

// ---- producer and phases
// ---------------------------------------------------------------------------

class DeliveryErrors : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      if (failed++ < 5) std::cerr << "sc-loadgen: delivery failed: " << m.errstr() << "\n";
    }
  }
  std::atomic<uint64_t> failed{0};
};

struct Readings {
  int64_t t = 0;
  int64_t wall_ms = 0;  // system clock, to line the window up with samples taken outside
  double service_cpu = -1, pg_cpu = -1, kafka_cpu = -1, ledger_cpu = -1, self_cpu = -1;
  sc::bench::MachineTicks machine;
  uint64_t confirmed = 0, settled = 0, produced = 0;
};

struct PhaseResult {
  std::string json;
  bool sustainable = false;
  double p99_ms = 0;
  double confirmed_per_s = 0;
  bool dirty = false;    // started with more than a second's worth of an earlier phase's backlog
  bool aborted = false;  // stopped early: clearly overloaded
};

class LoadGen {
 public:
  explicit LoadGen(Options o) : o_(std::move(o)), consumer_(o_, slots_, produced_) {}

  void start() {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    for (auto [k, v] :
         std::map<std::string, std::string>{{"bootstrap.servers", o_.brokers},
                                            {"acks", "1"},
                                            {"linger.ms", "1"},
                                            {"queue.buffering.max.messages", "2000000"},
                                            {"queue.buffering.max.kbytes", "2097151"},
                                            {"client.id", "sc-loadgen-producer"}})
      if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error(k + ": " + err);
    if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&delivery_), err) !=
        RdKafka::Conf::CONF_OK)
      throw std::runtime_error("dr_cb: " + err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_) throw std::runtime_error("producer: " + err);
    consumer_.start();
    if (!o_.out.empty()) {
      out_ = std::fopen(o_.out.c_str(), "a");
      if (!out_) throw std::runtime_error("cannot open " + o_.out);
    }
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char date[16];
    std::strftime(date, sizeof date, "%Y-%m-%d", &utc);
    settlement_date_ = date;
  }

  void stop() {
    producer_->flush(10000);
    consumer_.stop();
    if (out_) std::fclose(out_);
  }

  PhaseResult runPhase(const std::string& kind, const std::string& name, int rate, double warmup_s,
                       double duration_s, double drain_s, double abort_lag_factor) {
    // Start from an empty pipeline: the previous phase's backlog would count against this one.
    int64_t predrain_deadline = nowNs() + static_cast<int64_t>(o_.predrain_s * 1e9);
    while (!g_interrupted && produced_.load() > consumer_.confirmed() &&
           nowNs() < predrain_deadline) {
      producer_->poll(0);
      std::this_thread::sleep_for(milliseconds(100));
    }
    const uint64_t backlog_at_start = produced_.load() - consumer_.confirmed();
    const uint64_t begin = next_seq_;
    const uint64_t warm = static_cast<uint64_t>(rate * warmup_s);
    const uint64_t total = warm + static_cast<uint64_t>(rate * duration_s);
    const double ns_per_trade = 1e9 / rate;
    std::cerr << "sc-loadgen: " << name << ": " << rate << " trades/s for " << warmup_s << " s + "
              << duration_s << " s\n";

    const int64_t t0 = nowNs() + 20'000'000;  // a little slack to start on schedule
    Readings start, end;
    std::vector<std::pair<double, double>> lag_samples;  // (seconds since measure start, lag)
    int64_t next_sample = 0;
    int64_t max_behind_ns = 0;
    uint64_t i = 0;
    bool aborted = false;
    const double abort_lag = abort_lag_factor * o_.p99_target_ms / 1000.0 * rate;
    while (i < total && !g_interrupted && !aborted) {
      int64_t now = nowNs();
      // Produce everything due by now (a token bucket refilled at `rate`).
      while (i < total) {
        int64_t due = t0 + static_cast<int64_t>(static_cast<double>(i) * ns_per_trade);
        if (due > now) break;
        if (i == warm) {
          start = read();
          next_sample = now;
        }
        max_behind_ns = std::max(max_behind_ns, now - due);
        produce(begin + i, due);
        ++i;
      }
      if (i > warm && now >= next_sample) {
        double lag =
            static_cast<double>(produced_.load()) - static_cast<double>(consumer_.confirmed());
        lag_samples.emplace_back(static_cast<double>(now - start.t) / 1e9, lag);
        next_sample = now + 250'000'000;
        if (abort_lag > 0 && lag > abort_lag) aborted = true;
      }
      producer_->poll(0);
      if (i < total) {
        int64_t due = t0 + static_cast<int64_t>(static_cast<double>(i) * ns_per_trade);
        int64_t wait = std::min<int64_t>(due - nowNs(), 1'000'000);
        if (wait > 0) std::this_thread::sleep_for(nanoseconds(wait));
      }
    }
    end = read();
    if (warm >= total) start = end;
    const uint64_t end_seq = begin + i;
    next_seq_ = end_seq;
    const uint64_t lag_end = end.produced - end.confirmed;

    // Drain: wait for this phase's trades to confirm and settle.
    int64_t drain_deadline = nowNs() + static_cast<int64_t>(drain_s * 1e9);
    uint64_t unsettled = 0;
    for (;;) {
      producer_->poll(0);
      unsettled = 0;
      for (uint64_t s = begin; s < end_seq; ++s)
        if (slots_.find(s)->settled.load() == 0) ++unsettled;
      if (unsettled == 0 || nowNs() >= drain_deadline || g_interrupted) break;
      std::this_thread::sleep_for(milliseconds(100));
    }
    const int64_t analysed_at = nowNs();

    // Latencies of the measured window (after warm-up). Trades still unconfirmed are recorded as
    // "at least this long" (now - due), so they push the percentiles up rather than vanish.
    Histogram confirm, settle;
    uint64_t unconfirmed = 0, failed = 0;
    for (uint64_t s = begin + std::min(warm, i); s < end_seq; ++s) {
      Slot* sl = slots_.find(s);
      int64_t due = sl->due.load(), c = sl->confirmed.load(), st = sl->settled.load();
      if (c < 0) {
        ++failed;
        continue;
      }
      if (c == 0) ++unconfirmed;
      confirm.record(
          static_cast<uint64_t>(std::max<int64_t>(0, (c ? c : analysed_at) - due) / 1000));
      settle.record(
          static_cast<uint64_t>(std::max<int64_t>(0, (st > 0 ? st : analysed_at) - due) / 1000));
    }

    double secs = static_cast<double>(end.t - start.t) / 1e9;
    auto rateOf = [&](uint64_t a, uint64_t b) {
      return secs > 0 ? static_cast<double>(b - a) / secs : 0.0;
    };
    auto cpu = [&](double a, double b) {
      return (a < 0 || b < 0) ? std::string("null") : fixed(b - a, 2);
    };
    auto pct = [&](double a, double b) {
      return (a < 0 || b < 0 || secs <= 0) ? std::string("null") : fixed(100.0 * (b - a) / secs, 1);
    };
    double slope = slopeOf(lag_samples);
    double p99 = confirm.quantile(0.99) / 1000.0;
    bool lag_growing = slope > o_.lag_slope_fraction * rate;
    bool sustainable = confirm.count() > 0 && p99 < o_.p99_target_ms && !lag_growing && !aborted &&
                       unconfirmed == 0 && failed == 0;
    double rss_peak = serviceMemoryMiB("VmHWM");
    double rss_now = serviceMemoryMiB("VmRSS");

    std::string j = "{\"type\":\"phase\",\"kind\":\"" + kind + "\",\"name\":\"" + name + "\"";
    j += ",\"offered_per_s\":" + std::to_string(rate);
    j += ",\"backlog_at_start\":" + std::to_string(backlog_at_start);
    j += ",\"warmup_s\":" + fixed(warmup_s, 1) + ",\"duration_s\":" + fixed(secs, 2);
    j += ",\"produced\":" + std::to_string(i) +
         ",\"measured\":" + std::to_string(i - std::min(warm, i));
    j += ",\"produced_per_s\":" + fixed(rateOf(start.produced, end.produced), 1);
    j += ",\"confirmed_per_s\":" + fixed(rateOf(start.confirmed, end.confirmed), 1);
    j += ",\"settled_per_s\":" + fixed(rateOf(start.settled, end.settled), 1);
    j += ",\"producer_max_behind_ms\":" + fixed(static_cast<double>(max_behind_ns) / 1e6, 2);
    j += ",\"confirm\":" + sc::bench::percentilesJson(confirm);
    j += ",\"settle\":" + sc::bench::percentilesJson(settle);
    j += ",\"lag_end\":" + std::to_string(lag_end);
    j += ",\"lag_slope_per_s\":" + fixed(slope, 1);
    j += ",\"lag_growing\":" + std::string(lag_growing ? "true" : "false");
    j += ",\"aborted_overload\":" + std::string(aborted ? "true" : "false");
    j += ",\"unconfirmed_after_drain\":" + std::to_string(unconfirmed);
    j += ",\"unsettled_after_drain\":" + std::to_string(unsettled);
    j += ",\"failed\":" + std::to_string(failed);
    j += ",\"delivery_failures\":" + std::to_string(delivery_.failed.load());
    j += ",\"service_cpu_s\":" + cpu(start.service_cpu, end.service_cpu);
    j += ",\"service_cpu_pct\":" + pct(start.service_cpu, end.service_cpu);
    j += ",\"pg_cpu_pct\":" + pct(start.pg_cpu, end.pg_cpu);
    j += ",\"kafka_cpu_pct\":" + pct(start.kafka_cpu, end.kafka_cpu);
    j += ",\"ledger_cpu_pct\":" + pct(start.ledger_cpu, end.ledger_cpu);
    j += ",\"service_instances\":" + std::to_string(o_.service_pids.size());
    j += ",\"window_start_unix_ms\":" + std::to_string(start.wall_ms);
    j += ",\"window_end_unix_ms\":" + std::to_string(end.wall_ms);
    j += ",\"loadgen_cpu_pct\":" + pct(start.self_cpu, end.self_cpu);
    j += ",\"machine_busy_pct\":" + fixed(sc::bench::busyPercent(start.machine, end.machine), 1);
    j += ",\"service_rss_peak_mib\":" + (rss_peak < 0 ? std::string("null") : fixed(rss_peak, 1));
    j += ",\"service_rss_mib\":" + (rss_now < 0 ? std::string("null") : fixed(rss_now, 1));
    j += ",\"sustainable\":" + std::string(sustainable ? "true" : "false") + "}";
    emit(j);
    std::cerr << "sc-loadgen: " << name << ": confirmed/s "
              << fixed(rateOf(start.confirmed, end.confirmed), 0) << ", confirm p50 "
              << fixed(confirm.quantile(0.5) / 1000.0, 1) << " ms, p99 " << fixed(p99, 1)
              << " ms, max " << fixed(confirm.max() / 1000.0, 1) << " ms, lag end " << lag_end
              << " (slope " << fixed(slope, 1) << "/s), unconfirmed " << unconfirmed
              << (aborted ? " (stopped early: overloaded)" : "")
              << (sustainable ? " -> sustainable" : " -> NOT sustainable") << "\n";
    if (!o_.plot_dir.empty()) {
      if (FILE* f = std::fopen((o_.plot_dir + "/" + name + ".dat").c_str(), "w")) {
        std::fputs("# percentile 1/(1-p) confirm_ms\n", f);
        std::fputs(sc::bench::percentileCurve(confirm).c_str(), f);
        std::fclose(f);
      }
    }
    return PhaseResult{j,
                       sustainable,
                       p99,
                       rateOf(start.confirmed, end.confirmed),
                       backlog_at_start > static_cast<uint64_t>(rate),
                       aborted};
  }

  void emit(const std::string& line) {
    FILE* f = out_ ? out_ : stdout;
    std::fprintf(f, "%s\n", line.c_str());
    std::fflush(f);
  }

  const Options& options() const { return o_; }
  int partitions() const { return consumer_.partitions(); }

 private:
  void produce(uint64_t seq, int64_t due) {
    Slot& s = slots_.create(seq);
    s.due.store(due, std::memory_order_release);
    int pair = static_cast<int>(seq % static_cast<uint64_t>(o_.pairs));
    std::string trade_id = "bench_" + o_.tag + "_" + std::to_string(seq);
    std::string payload;
    payload.reserve(400);
    payload +=
        "{\"event_id\":\"evt_" + trade_id + "\",\"event_type\":\"trade_executed\",\"trade_id\":\"";
    payload += trade_id;
    payload += "\",\"buyer_account_id\":\"" + o_.account_prefix + "_b" + std::to_string(pair);
    payload += "\",\"seller_account_id\":\"" + o_.account_prefix + "_s" + std::to_string(pair);
    payload +=
        "\",\"symbol\":\"" + o_.symbol + "\",\"quantity\":\"1.00000000\",\"price\":\"10.00\"";
    payload += ",\"amount\":\"10.00\",\"settlement_date\":\"" + settlement_date_;
    payload += "\",\"executed_at\":\"" + settlement_date_ + "T00:00:01Z\",\"allow_partial\":false}";
    for (;;) {
      auto rc = producer_->produce(o_.trade_topic, RdKafka::Topic::PARTITION_UA,
                                   RdKafka::Producer::RK_MSG_COPY, payload.data(), payload.size(),
                                   trade_id.data(), trade_id.size(), 0, nullptr, nullptr);
      if (rc == RdKafka::ERR_NO_ERROR) break;
      if (rc != RdKafka::ERR__QUEUE_FULL) {
        std::cerr << "sc-loadgen: produce: " << RdKafka::err2str(rc) << "\n";
        break;
      }
      producer_->poll(5);
    }
    produced_++;
  }

  Readings read() {
    Readings r;
    r.t = nowNs();
    r.wall_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    r.service_cpu = serviceCpuSeconds();
    r.ledger_cpu = o_.ledger_pid ? sc::bench::processCpuSeconds(o_.ledger_pid) : -1;
    r.pg_cpu = o_.pg_pid ? sc::bench::processTreeCpuSeconds(o_.pg_pid) : -1;
    r.kafka_cpu = o_.kafka_pid ? sc::bench::processCpuSeconds(o_.kafka_pid) : -1;
    r.self_cpu = sc::bench::processCpuSeconds(getpid());
    r.machine = sc::bench::machineTicks();
    r.produced = produced_.load();
    r.confirmed = consumer_.confirmed();
    r.settled = consumer_.settled();
    return r;
  }

  // Summed over the service's instances; -1 when none is given or one of them is gone (a sum
  // missing an instance would understate).
  double serviceCpuSeconds() const {
    if (o_.service_pids.empty()) return -1;
    double total = 0;
    for (int pid : o_.service_pids) {
      double c = sc::bench::processCpuSeconds(pid);
      if (c < 0) return -1;
      total += c;
    }
    return total;
  }
  double serviceMemoryMiB(const std::string& key) const {
    if (o_.service_pids.empty()) return -1;
    double total = 0;
    for (int pid : o_.service_pids) {
      double m = sc::bench::processMemoryMiB(pid, key);
      if (m < 0) return -1;
      total += m;
    }
    return total;
  }

  // Least-squares slope of (t, lag) samples, per second.
  static double slopeOf(const std::vector<std::pair<double, double>>& xs) {
    if (xs.size() < 3) return 0;
    double n = static_cast<double>(xs.size()), sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (auto [x, y] : xs) {
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    double d = n * sxx - sx * sx;
    return d == 0 ? 0 : (n * sxy - sx * sy) / d;
  }

  Options o_;
  Slots slots_;
  std::atomic<uint64_t> produced_{0};
  EventsConsumer consumer_;
  DeliveryErrors delivery_;
  std::unique_ptr<RdKafka::Producer> producer_;
  FILE* out_ = nullptr;
  uint64_t next_seq_ = 0;
  std::string settlement_date_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::signal(SIGINT, [](int) { g_interrupted = true; });
  std::signal(SIGTERM, [](int) { g_interrupted = true; });
  LoadGen gen(o);
  try {
    gen.start();
  } catch (const std::exception& e) {
    std::cerr << "sc-loadgen: " << e.what() << "\n";
    return 1;
  }

  // Fixed rates; they also bracket the search: `good` is the highest sustainable one, `bad` the
  // lowest unsustainable one above it, whose confirmed/s estimates the capacity.
  auto run = [&](const std::string& kind, const std::string& name, int rate, double warmup_s,
                 double duration_s, double abort_lag_factor) {
    auto r = gen.runPhase(kind, name, rate, warmup_s, duration_s, o.drain_s, abort_lag_factor);
    for (int again = 1; again <= o.retry_marginal && !r.sustainable && !r.aborted && !g_interrupted;
         ++again) {
      std::cerr << "sc-loadgen: " << name << ": a marginal miss (not stopped early): again\n";
      r = gen.runPhase(kind, name + "-again" + (again > 1 ? std::to_string(again) : ""), rate,
                       warmup_s, duration_s, o.drain_s, abort_lag_factor);
    }
    return r;
  };
  int good = 0, bad = 0;
  double capacity = 0;
  for (int rate : o.rates) {
    if (g_interrupted) break;
    auto r = run("fixed", "fixed-" + std::to_string(rate), rate, o.warmup_s, o.duration_s,
                 o.abort_lag_factor);
    if (r.sustainable) {
      good = std::max(good, rate);
    } else if (rate > good && (!bad || rate < bad)) {
      bad = rate;
      capacity = r.confirmed_per_s;
    }
  }
  if (bad && bad <= good) bad = 0;

  // Highest sustainable rate: start at the capacity estimate (or double the best fixed rate),
  // then double while sustainable and bisect between the last good and the first bad rate.
  if (o.search_steps > 0 && !g_interrupted) {
    int rate;
    if (bad)
      rate = std::clamp(static_cast<int>(capacity * 0.9), good + 1, bad - 1);
    else
      rate = good ? good * 2 : (o.rates.empty() ? 1000 : o.rates.front());
    if (bad && bad - good <= 1) rate = 0;
    for (int step = 1; rate > 0 && step <= o.search_steps && !g_interrupted; ++step) {
      auto r = run("search", "search-" + std::to_string(step) + "-" + std::to_string(rate), rate,
                   o.search_warmup_s, o.search_duration_s, o.search_abort_lag_factor);
      if (r.dirty && !r.sustainable) continue;  // the earlier backlog decided it: run it again
      if (r.sustainable)
        good = std::max(good, rate);
      else
        bad = bad ? std::min(bad, rate) : rate;
      if (bad && bad - good <= std::max(o.search_min_step, good / 20)) break;  // within 5 %
      rate = bad ? (good + bad) / 2 : std::min(rate * 2, o.search_max);
      if (rate <= good || (bad && rate >= bad)) break;
    }
    gen.emit("{\"type\":\"search\",\"highest_sustainable_per_s\":" + std::to_string(good) +
             ",\"first_unsustainable_per_s\":" + (bad ? std::to_string(bad) : std::string("null")) +
             ",\"p99_target_ms\":" + fixed(o.p99_target_ms, 0) + "}");
    std::cerr << "sc-loadgen: highest sustainable rate " << good << " trades/s"
              << (bad ? ", lowest unsustainable " + std::to_string(bad) : std::string()) << "\n";
  }
  gen.stop();
  return g_interrupted ? 130 : 0;
}

// sc-http-intake: drives POST /trades at a fixed concurrency (closed loop: each connection sends
// its next trade when the previous answer arrives, keep-alive) with unique trade_ids, and reports
// requests/s and latency percentiles as one JSON line (bench/README.md).
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <csignal>
#include <ctime>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono;
using sc::bench::fixed;
using sc::bench::Histogram;

std::atomic<bool> g_stop{false};

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "8003";
  int connections = 16;
  double warmup_s = 3, duration_s = 20;
  int pairs = 200;
  std::string account_prefix = "acc_bench";
  std::string symbol = "BNCH/USDC";
  std::string token;
  std::string tag;
  int service_pid = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  sc::bench::Args args(
      "sc-http-intake",
      "usage: sc-http-intake --port P [--host H] [--connections N] [--warmup S]\n"
      "  [--duration S] [--pairs N] [--account-prefix P] [--symbol S] [--token T]\n"
      "  [--service-pid PID] [--tag TAG]\n");
  args.add("--host", o.host);
  args.add("--port", o.port);
  args.add("--connections", o.connections);
  args.add("--warmup", o.warmup_s);
  args.add("--duration", o.duration_s);
  args.add("--pairs", o.pairs);
  args.add("--account-prefix", o.account_prefix);
  args.add("--symbol", o.symbol);
  args.add("--token", o.token);
  args.add("--service-pid", o.service_pid);
  args.add("--tag", o.tag);
  args.parse(argc, argv);
  if (o.tag.empty()) o.tag = std::to_string(time(nullptr) % 100000000);
  return o;
}

struct Shared {
  std::mutex mu;
  Histogram latency;  // measured window only, microseconds
  std::map<int, uint64_t> statuses;
  uint64_t errors = 0;
  std::atomic<bool> measuring{false};
};

void client(const Options& o, int index, std::atomic<uint64_t>& seq, const std::string& date,
            Shared& shared) {
  Histogram local;
  std::map<int, uint64_t> statuses;
  uint64_t errors = 0;
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  bool connected = false;
  beast::flat_buffer buffer;
  while (!g_stop) {
    try {
      if (!connected) {
        stream.connect(resolver.resolve(o.host, o.port));
        stream.socket().set_option(tcp::no_delay(true));
        connected = true;
      }
      uint64_t n = seq++;
      int pair = static_cast<int>(n % static_cast<uint64_t>(o.pairs));
      std::string trade_id = "http_" + o.tag + "_" + std::to_string(n);
      std::string body = "{\"event_id\":\"evt_" + trade_id +
                         "\",\"event_type\":\"trade_executed\",\"trade_id\":\"" + trade_id +
                         "\",\"buyer_account_id\":\"" + o.account_prefix + "_b" +
                         std::to_string(pair) + "\",\"seller_account_id\":\"" + o.account_prefix +
                         "_s" + std::to_string(pair) + "\",\"symbol\":\"" + o.symbol +
                         "\",\"quantity\":\"1.00000000\",\"price\":\"10.00\",\"amount\":\"10.00\","
                         "\"settlement_date\":\"" +
                         date + "\",\"executed_at\":\"" + date +
                         "T00:00:01Z\",\"allow_partial\":false}";
      http::request<http::string_body> req{http::verb::post, "/trades", 11};
      req.set(http::field::host, o.host);
      req.set(http::field::content_type, "application/json");
      if (!o.token.empty()) req.set(http::field::authorization, "Bearer " + o.token);
      req.keep_alive(true);
      req.body() = std::move(body);
      req.prepare_payload();
      bool measure = shared.measuring.load();
      auto t = steady_clock::now();
      http::write(stream, req);
      http::response<http::string_body> res;
      http::read(stream, buffer, res);
      auto us = duration_cast<microseconds>(steady_clock::now() - t).count();
      if (measure && shared.measuring.load()) {
        local.record(static_cast<uint64_t>(us));
        statuses[res.result_int()]++;
      }
      if (!res.keep_alive()) {
        beast::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream.close();
        connected = false;
      }
    } catch (const std::exception& e) {
      if (errors++ < 3)
        std::cerr << "sc-http-intake: connection " << index << ": " << e.what() << "\n";
      beast::error_code ec;
      stream.socket().close(ec);
      connected = false;
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
  std::lock_guard l(shared.mu);
  shared.latency.merge(local);
  for (auto [k, v] : statuses) shared.statuses[k] += v;
  shared.errors += errors;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  std::signal(SIGINT, [](int) { g_stop = true; });
  std::signal(SIGTERM, [](int) { g_stop = true; });
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &utc);

  Shared shared;
  std::atomic<uint64_t> seq{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < o.connections; ++i)
    threads.emplace_back([&, i] { client(o, i, seq, date, shared); });

  auto sleep = [](double s) {
    auto until = steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(s));
    while (!g_stop && steady_clock::now() < until) std::this_thread::sleep_for(milliseconds(20));
  };
  sleep(o.warmup_s);
  double cpu0 = o.service_pid ? sc::bench::processCpuSeconds(o.service_pid) : -1;
  auto m0 = sc::bench::machineTicks();
  auto t0 = steady_clock::now();
  shared.measuring = true;
  sleep(o.duration_s);
  shared.measuring = false;
  double secs = duration<double>(steady_clock::now() - t0).count();
  double cpu1 = o.service_pid ? sc::bench::processCpuSeconds(o.service_pid) : -1;
  auto m1 = sc::bench::machineTicks();
  g_stop = true;
  for (auto& t : threads) t.join();

  uint64_t ok = 0;
  std::string statuses = "{";
  for (auto [k, v] : shared.statuses) {
    if (k >= 200 && k < 300) ok += v;
    statuses +=
        (statuses.size() > 1 ? ",\"" : "\"") + std::to_string(k) + "\":" + std::to_string(v);
  }
  statuses += "}";
  std::string j = "{\"type\":\"http_intake\",\"connections\":" + std::to_string(o.connections);
  j += ",\"duration_s\":" + fixed(secs, 2);
  j += ",\"requests\":" + std::to_string(shared.latency.count());
  j += ",\"requests_per_s\":" + fixed(static_cast<double>(shared.latency.count()) / secs, 1);
  j += ",\"ok_per_s\":" + fixed(static_cast<double>(ok) / secs, 1);
  j += ",\"statuses\":" + statuses + ",\"errors\":" + std::to_string(shared.errors);
  j += ",\"latency\":" + sc::bench::percentilesJson(shared.latency);
  j += ",\"service_cpu_pct\":" +
       (cpu0 < 0 || cpu1 < 0 ? std::string("null") : fixed(100.0 * (cpu1 - cpu0) / secs, 1));
  j += ",\"machine_busy_pct\":" + fixed(sc::bench::busyPercent(m0, m1), 1) + "}";
  std::cout << j << std::endl;
  std::cerr << "sc-http-intake: " << fixed(static_cast<double>(shared.latency.count()) / secs, 0)
            << " requests/s, p50 " << fixed(shared.latency.quantile(0.5) / 1000.0, 1) << " ms, p99 "
            << fixed(shared.latency.quantile(0.99) / 1000.0, 1) << " ms\n";
  return 0;
}

#pragma once
// Asynchronous HTTP/1.1 server on Boost.Beast/Asio.
//
// Threading: `io_threads` threads run one io_context doing only non-blocking socket work
// (accept, read, write); each connection is serialised on its own strand. Handlers may block on
// the database or the ledger, so each parsed request is posted to a separate thread pool of
// `handler_threads`; the response is posted back to the connection's strand to be written.
// Keep-alive is honoured; one request at a time per connection (no pipelining concurrency).
//
// Limits: read timeout (idle keep-alive and slow requests) via tcp_stream::expires_after; body
// limit → 413; malformed HTTP → 400; oversized headers → 431; a body not declared
// "Content-Type: application/json" → 415. Those errors (but 415) close the connection.
//
// Bounded abuse: at most `max_connections` open connections (one more is answered 503
// too_many_connections and closed); an accept that fails for lack of descriptors or memory
// (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses accepting for `accept_backoff` instead of spinning;
// a request not answered within `request_deadline` (waiting for a handler thread, or in a slow
// handler) is answered 503 deadline_exceeded with Retry-After and its connection closed (a
// handler that was already running may still complete: retrying is safe because POST /trades is
// idempotent by trade id and credits by Idempotency-Key); a connection serves at most
// `max_requests_per_connection` requests, the last one answered with "Connection: close".
// GET /health and GET /ready run on their own `probe_threads`, never queued behind busy handlers.
//
// stop(): stops accepting, closes idle connections, lets in-flight requests finish and answers
// them with "Connection: close" (bounded by `drain_timeout`), then joins every thread.
//
// TLS (HTTPS): with `tls_cert_file` and `tls_key_file` set, every connection is TLS (1.2 or later,
// no compression) and nothing is served in plain HTTP. The handshake runs first, under the read
// timeout (counted in timeouts when it passes); a failed one (a plain-HTTP client, an untrusted
// certificate) closes that connection and counts in protocol_errors (a peer that just disconnects
// is not counted). Everything above applies unchanged after the handshake (the 503 of the
// connection limit is sent over TLS too). Closing sends close_notify (async_shutdown, bounded by a
// timeout) without waiting for the peer's; a connection that failed (socket or TLS error, timeout)
// is closed without it. start() throws std::runtime_error naming the file when the certificate
// chain or the key cannot be loaded.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/router.h"
#include "common/metrics.h"

namespace sc::api {

struct HttpServerOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = 8003;  // 0 = any free port (see HttpServer::port())
  int io_threads = 2;
  int handler_threads = 4;
  size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds read_timeout{30'000};
  std::chrono::milliseconds drain_timeout{10'000};  // stop(): wait at most this for in-flight
  int max_connections = 1024;                       // 0: unlimited
  std::chrono::milliseconds request_deadline{30'000};
  int max_requests_per_connection = 1000;  // 0: unlimited
  int probe_threads = 1;                   // GET /health and GET /ready
  std::chrono::milliseconds accept_backoff{100};
  std::string server_name = "settlement-coordinator";
  // Both set: HTTPS only, with this PEM certificate chain (leaf first) and PEM private key.
  // Both empty: plain HTTP.
  std::string tls_cert_file{};
  std::string tls_key_file{};
};

// The server's probe (STYLE 8): one per HttpServer, its series removed with the server.
struct ApiMetrics {
  metrics::Probe probe{"api"};
  metrics::Counter requests =  // every response written
      probe.counter("sc_api_requests_total", "HTTP responses written");
  metrics::Counter responses_2xx =
      probe.counter("sc_api_responses_2xx_total", "HTTP 2xx responses");
  metrics::Counter responses_3xx =
      probe.counter("sc_api_responses_3xx_total", "HTTP 3xx responses");
  metrics::Counter responses_4xx =
      probe.counter("sc_api_responses_4xx_total", "HTTP 4xx responses");
  metrics::Counter responses_5xx =
      probe.counter("sc_api_responses_5xx_total", "HTTP 5xx responses");
  metrics::Counter errors =  // 4xx + 5xx
      probe.counter("sc_api_errors_total", "HTTP responses with status >= 400");
  // Malformed HTTP, oversized body/header, TLS handshake.
  metrics::Counter protocol_errors =
      probe.counter("sc_api_protocol_errors_total",
                    "Malformed HTTP requests, oversized bodies or headers, failed TLS handshakes");
  metrics::Counter timeouts =
      probe.counter("sc_api_read_timeouts_total", "Connections closed by the read timeout");
  metrics::Counter refused_connections =  // over max_connections
      probe.counter("sc_api_refused_connections_total",
                    "Connections answered 503 because HTTP_MAX_CONNECTIONS were open");
  metrics::Counter accept_errors =  // failed accepts (EMFILE, ...)
      probe.counter("sc_api_accept_errors_total",
                    "Failed accepts (out of descriptors or memory); accepting pauses");
  metrics::Counter deadline_exceeded =  // requests answered 503 by the deadline
      probe.counter("sc_api_deadline_exceeded_total",
                    "Requests answered 503 because HTTP_REQUEST_DEADLINE_MS passed");
  metrics::Gauge open_connections = probe.gauge("sc_api_open_connections", "Open HTTP connections");
  metrics::Gauge in_flight =  // requests being handled
      probe.gauge("sc_api_requests_in_flight", "HTTP requests being handled");
  void countStatus(unsigned status);
};

class HttpServer {
 public:
  // The router must outlive the server. Nothing runs before start().
  HttpServer(HttpServerOptions options, const Router& router);
  ~HttpServer();  // calls stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Loads the TLS certificate and key (when set), binds and listens, then starts the threads.
  // Throws std::runtime_error naming the file or the address on failure (start-up error). Call at
  // most once.
  void start();
  // The bound port (the ephemeral one when options.port was 0). Valid after start().
  uint16_t port() const { return port_.load(); }
  // Graceful stop, idempotent, safe from any thread except the server's own.
  void stop();
  // This server's metrics (its series leave /metrics when the server and its connections are gone).
  const ApiMetrics& metrics() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
  std::atomic<uint16_t> port_{0};
};

}  // namespace sc::api

#pragma once
// A small HTTP/1.1 client for the JSON Ledger API (Boost.Beast): a pool of keep-alive
// connections, optional TLS verified against a CA file, and a deadline per request.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "domain/result.h"

namespace sc::ledger::canton {

struct HttpClientOptions {
  std::string host = "localhost";
  uint16_t port = 0;
  bool tls = false;
  std::string ca_file;  // TLS: verify the server against these CAs (empty: the system's)
  std::chrono::milliseconds timeout{10000};  // whole request: connect, write, read
  int pool_size = 4;                         // idle connections kept
  // A larger answer is refused (ledger_response_too_large) rather than held in memory.
  size_t max_response_bytes = 64 * 1024 * 1024;
};

// A retryable error code beside ledger.h's: the ledger answered more than max_response_bytes.
// Asking again the same way fails again (for a command, its outcome is unknown); a read asks for
// less, a smaller page.
inline constexpr const char* kResponseTooLarge = "ledger_response_too_large";

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Errors (retryable): ledger_unavailable when the request was certainly not processed (no
  // connection), ledger_timeout when it may have been (sent, then no answer: outcome unknown),
  // kResponseTooLarge when it was answered at more than max_response_bytes (outcome unknown too).
  // `idempotent` requests are retried once on a fresh connection when a pooled one was stale.
  Result<HttpResponse> request(const std::string& method, const std::string& target,
                               const std::string& body, const std::string& authorization,
                               bool idempotent,
                               const std::string& content_type = "application/json");

 private:
  struct Connection;
  std::unique_ptr<Connection> take();
  void give(std::unique_ptr<Connection> c);
  Result<HttpResponse> once(Connection& c, const std::string& method, const std::string& target,
                            const std::string& body, const std::string& authorization,
                            const std::string& content_type, bool& sent);

  HttpClientOptions opts_;
  struct TlsContext;
  std::unique_ptr<TlsContext> tls_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace sc::ledger::canton

#pragma once
// A tiny synchronous HTTP/1.1 client for tests (Boost.Beast over a blocking socket), plain or
// HTTPS. One connection, reused across requests while the server keeps it alive (reconnects
// otherwise). HTTPS verifies the server's certificate against a given CA and its host name.
// Every read has a receive timeout (default 10 s) so a broken server fails a test, never hangs it.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace sc::test {

struct HttpResult {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // names lower case
  std::string body;
  bool keep_alive = false;

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  // The body parsed as JSON (discarded value when it is not JSON).
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// HTTPS: the certificate chain must lead to `ca_file` and name `server_name` (a DNS name or an IP
// address; empty: the host connected to), which is also sent as SNI when it is a DNS name.
struct TlsClientOptions {
  std::string ca_file;  // PEM; empty: no CA is trusted (every handshake fails verification)
  std::string server_name;
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::string host = "127.0.0.1",
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // HTTPS. connect() (and so the first request) throws std::runtime_error when the handshake or
  // the verification fails.
  HttpClient(uint16_t port, TlsClientOptions tls, std::string host = "127.0.0.1",
             std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads its response. Throws std::runtime_error on I/O failure.
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = {},
                     const std::map<std::string, std::string>& headers = {});
  HttpResult get(const std::string& target) { return request("GET", target); }
  HttpResult post(const std::string& target, const std::string& body,
                  const std::map<std::string, std::string>& headers = {}) {
    return request("POST", target, body, headers);
  }

  // Raw access for malformed-request tests: writes bytes on the connection (connecting if needed)
  // and reads one response; nullopt when the server closes without answering.
  void sendRaw(std::string_view bytes);
  std::optional<HttpResult> readResponse();

  // Blocks until the server closes the connection (true) or `timeout` passes (false). Waits on
  // the socket, not a sleep.
  bool waitForServerClose(std::chrono::milliseconds timeout);

  void connect();
  void close();
  bool connected() const;
  int connectCount() const { return connects_; }  // to prove keep-alive reuse

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int connects_ = 0;
};

}  // namespace sc::test

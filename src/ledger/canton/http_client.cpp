#include "ledger/canton/http_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "ledger/ledger.h"

namespace sc::ledger::canton {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct HttpClient::TlsContext {
  ssl::context ctx{ssl::context::tls_client};
};

struct HttpClient::Connection {
  asio::io_context io;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool connected = false;
  bool reused = false;

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  void close() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().socket().close(ec);
    connected = false;
  }
};

HttpClient::HttpClient(HttpClientOptions options) : opts_(std::move(options)) {
  if (opts_.tls) {
    tls_ = std::make_unique<TlsContext>();
    tls_->ctx.set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (opts_.ca_file.empty())
      tls_->ctx.set_default_verify_paths(ec);
    else
      tls_->ctx.load_verify_file(opts_.ca_file, ec);
  }
}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Connection> HttpClient::take() {
  {
    std::lock_guard l(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      c->reused = true;
      return c;
    }
  }
  auto c = std::make_unique<Connection>();
  if (tls_)
    c->secure.emplace(c->io, tls_->ctx);
  else
    c->plain.emplace(c->io);
  return c;
}

void HttpClient::give(std::unique_ptr<Connection> c) {
  std::lock_guard l(mu_);
  if (static_cast<int>(idle_.size()) < opts_.pool_size) idle_.push_back(std::move(c));
}

Result<HttpResponse> HttpClient::once(Connection& c, const std::string& method,
                                      const std::string& target, const std::string& body,
                                      const std::string& authorization,
                                      const std::string& content_type, bool& sent) {
  const std::string where = opts_.host + ":" + std::to_string(opts_.port);
  auto deadline = std::chrono::steady_clock::now() + opts_.timeout;
  auto runUntilDone = [&](bool& done) {
    c.io.restart();
    while (!done) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      c.io.run_one_for(left);
    }
    if (!done) {
      c.close();
      c.io.restart();
      c.io.run_for(std::chrono::milliseconds(100));  // let the cancelled handlers finish
    }
    return done;
  };
  beast::error_code ec;
  if (!c.connected) {
    tcp::resolver resolver(c.io);
    bool done = false;
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(opts_.host, std::to_string(opts_.port),
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                             done = true;
                           });
    if (!runUntilDone(done))
      return Error::transient(kUnavailable, "resolving " + where + " timed out");
    if (ec) return Error::transient(kUnavailable, "cannot resolve " + where + ": " + ec.message());
    done = false;
    c.lowest().async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!runUntilDone(done))
      return Error::transient(kUnavailable, "connecting to " + where + " timed out");
    if (ec)
      return Error::transient(kUnavailable, "cannot connect to " + where + ": " + ec.message());
    if (c.secure) {
      if (!SSL_set_tlsext_host_name(c.secure->native_handle(), opts_.host.c_str())) {
        return Error::transient(kUnavailable, "TLS: cannot set SNI for " + opts_.host);
      }
      c.secure->set_verify_callback(ssl::host_name_verification(opts_.host));
      done = false;
      c.secure->async_handshake(ssl::stream_base::client, [&](beast::error_code e) {
        ec = e;
        done = true;
      });
      if (!runUntilDone(done))
        return Error::transient(kUnavailable, "TLS handshake with " + where + " timed out");
      if (ec)
        return Error::permanent(kUnavailable, "TLS handshake with " + where +
                                                  " failed: " + ec.message() +
                                                  " (check CANTON_LEDGER_API_CA_FILE)");
    }
    c.connected = true;
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, opts_.host);
  req.set(http::field::user_agent, "settlement-coordinator");
  req.set(http::field::content_type, content_type);
  req.set(http::field::accept, "application/json");
  req.keep_alive(true);
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  req.body() = body;
  req.prepare_payload();
  bool done = false;
  auto onWrite = [&](beast::error_code e, size_t) {
    ec = e;
    done = true;
  };
  if (c.secure)
    http::async_write(*c.secure, req, onWrite);
  else
    http::async_write(*c.plain, req, onWrite);
  if (!runUntilDone(done)) {
    sent = true;
    return Error::transient(
        kTimeout, method + " " + target + " to " + where + " timed out (outcome unknown)");
  }
  if (ec) {
    c.close();
    sent = true;
    return Error::transient(kTimeout, method + " " + target + " to " + where + ": " + ec.message() +
                                          " (outcome unknown)");
  }
  sent = true;
  http::response_parser<http::string_body> parser;
  parser.body_limit(opts_.max_response_bytes);
  done = false;
  auto onRead = [&](beast::error_code e, size_t) {
    ec = e;
    done = true;
  };
  if (c.secure)
    http::async_read(*c.secure, c.buffer, parser, onRead);
  else
    http::async_read(*c.plain, c.buffer, parser, onRead);
  if (!runUntilDone(done)) {
    return Error::transient(kTimeout,
                            method + " " + target + " to " + where + ": no answer within " +
                                std::to_string(opts_.timeout.count()) + " ms (outcome unknown)");
  }
  if (ec == http::error::body_limit) {
    c.close();  // the rest of the answer is unread
    return Error::transient(kResponseTooLarge,
                            method + " " + target + " to " + where + ": the answer exceeds " +
                                std::to_string(opts_.max_response_bytes) + " bytes");
  }
  if (ec) {
    c.close();
    return Error::transient(kTimeout, method + " " + target + " to " + where +
                                          ": connection lost (" + ec.message() +
                                          "; outcome unknown)");
  }
  auto res = parser.release();
  if (!res.keep_alive()) c.close();
  return HttpResponse{static_cast<int>(res.result_int()), std::move(res.body())};
}

Result<HttpResponse> HttpClient::request(const std::string& method, const std::string& target,
                                         const std::string& body, const std::string& authorization,
                                         bool idempotent, const std::string& content_type) {
  for (int attempt = 0;; ++attempt) {
    auto c = take();
    const bool reused = c->reused;
    bool sent = false;
    auto r = once(*c, method, target, body, authorization, content_type, sent);
    if (r) {
      if (c->connected) give(std::move(c));
      return r;
    }
    // A pooled connection the server closed meanwhile: try once more on a new one.
    if (reused && attempt == 0 && (idempotent || !sent)) continue;
    return r;
  }
}

}  // namespace sc::ledger::canton

#include "support/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <optional>
#include <stdexcept>

namespace sc::test {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

struct HttpClient::Impl {
  net::io_context ioc;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  std::string host;
  uint16_t port = 0;
  std::chrono::milliseconds timeout;
  std::optional<TlsClientOptions> tls_options;
  std::optional<ssl::context> tls_context;
  std::optional<ssl::stream<tcp::socket&>> tls;  // over `socket`, per connection

  // Runs f on the connection's stream: TLS when it is HTTPS, else the socket.
  template <class F>
  decltype(auto) onStream(F&& f) {
    if (tls) return f(*tls);
    return f(socket);
  }

  void handshake() {
    const std::string name = tls_options->server_name.empty() ? host : tls_options->server_name;
    tls.emplace(socket, *tls_context);
    beast::error_code ec;
    net::ip::make_address(name, ec);
    if (ec && !SSL_set_tlsext_host_name(tls->native_handle(), name.c_str()))
      throw std::runtime_error("tls: cannot set SNI " + name);
    tls->set_verify_mode(ssl::verify_peer);
    tls->set_verify_callback(ssl::host_name_verification(name));
    tls->handshake(ssl::stream_base::client, ec);
    if (ec) throw std::runtime_error("tls handshake: " + ec.message());
  }

  void setReceiveTimeout(std::chrono::milliseconds t) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(t.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
};

HttpClient::HttpClient(uint16_t port, std::string host, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpClient::HttpClient(uint16_t port, TlsClientOptions tls, std::string host,
                       std::chrono::milliseconds timeout)
    : HttpClient(port, std::move(host), timeout) {
  impl_->tls_context.emplace(ssl::context::tls_client);
  if (!tls.ca_file.empty()) impl_->tls_context->load_verify_file(tls.ca_file);
  impl_->tls_options = std::move(tls);
}

HttpClient::~HttpClient() { close(); }

bool HttpClient::connected() const { return impl_->socket.is_open(); }

void HttpClient::connect() {
  close();
  tcp::endpoint ep(net::ip::make_address(impl_->host), impl_->port);
  impl_->socket.connect(ep);
  impl_->setReceiveTimeout(impl_->timeout);
  impl_->buffer.clear();
  ++connects_;
  if (!impl_->tls_options) return;
  try {
    impl_->handshake();
  } catch (...) {
    close();
    throw;
  }
}

void HttpClient::close() {
  if (!impl_->socket.is_open()) return;
  beast::error_code ignored;
  if (impl_->tls && SSL_is_init_finished(impl_->tls->native_handle())) {
    // close_notify, without waiting for the server's.
    SSL* ssl = impl_->tls->native_handle();
    SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
    impl_->tls->shutdown(ignored);
  }
  impl_->tls.reset();
  impl_->socket.shutdown(tcp::socket::shutdown_both, ignored);
  impl_->socket.close(ignored);
}

static HttpResult toResult(http::response<http::string_body>& res) {
  HttpResult out;
  out.status = res.result_int();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = std::move(res.body());
  out.keep_alive = res.keep_alive();
  return out;
}

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  if (!connected()) connect();
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, impl_->host);
  for (const auto& [k, v] : headers) req.set(k, v);
  if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
    req.body() = body;
    if (req[http::field::content_type].empty())
      req.set(http::field::content_type, "application/json");
  }
  req.prepare_payload();
  beast::error_code ec;
  auto send = [&](auto& stream) { http::write(stream, req, ec); };
  impl_->onStream(send);
  if (ec) {  // a keep-alive connection the server closed meanwhile: retry once on a fresh one
    connect();
    impl_->onStream(send);
    if (ec) throw std::runtime_error("http write: " + ec.message());
  }
  auto res = readResponse();
  if (!res) throw std::runtime_error("server closed the connection without a response");
  return std::move(*res);
}

void HttpClient::sendRaw(std::string_view bytes) {
  if (!connected()) connect();
  impl_->onStream(
      [&](auto& stream) { net::write(stream, net::buffer(bytes.data(), bytes.size())); });
}

std::optional<HttpResult> HttpClient::readResponse() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code ec;
  impl_->onStream([&](auto& stream) { http::read(stream, impl_->buffer, parser, ec); });
  if (ec == http::error::end_of_stream || ec == net::error::connection_reset ||
      ec == net::error::eof || ec == ssl::error::stream_truncated) {
    close();
    return std::nullopt;
  }
  if (ec) throw std::runtime_error("http read: " + ec.message());
  auto res = parser.release();
  HttpResult out = toResult(res);
  if (!out.keep_alive) close();
  return out;
}

bool HttpClient::waitForServerClose(std::chrono::milliseconds timeout) {
  if (!connected()) return true;
  impl_->setReceiveTimeout(timeout);
  char byte;
  beast::error_code ec;
  for (;;) {
    size_t n =
        impl_->onStream([&](auto& stream) { return stream.read_some(net::buffer(&byte, 1), ec); });
    if (ec == net::error::would_block || ec == net::error::try_again ||
        ec == net::error::timed_out) {
      impl_->setReceiveTimeout(impl_->timeout);
      return false;
    }
    if (ec) {  // eof or reset: the server closed it
      close();
      return true;
    }
    (void)n;  // unexpected data: keep waiting for the close
  }
}

}  // namespace sc::test

#include "support/http_client.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <stdexcept>

namespace sc::test {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpClient::Impl {
  net::io_context ioc;
  tcp::socket socket{ioc};
  beast::flat_buffer buffer;
  std::string host;
  uint16_t port = 0;
  std::chrono::milliseconds timeout;

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

HttpClient::~HttpClient() { close(); }

bool HttpClient::connected() const { return impl_->socket.is_open(); }

void HttpClient::connect() {
  close();
  tcp::endpoint ep(net::ip::make_address(impl_->host), impl_->port);
  impl_->socket.connect(ep);
  impl_->setReceiveTimeout(impl_->timeout);
  impl_->buffer.clear();
  ++connects_;
}

void HttpClient::close() {
  if (!impl_->socket.is_open()) return;
  beast::error_code ignored;
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
  http::write(impl_->socket, req, ec);
  if (ec) {  // a keep-alive connection the server closed meanwhile: retry once on a fresh one
    connect();
    http::write(impl_->socket, req, ec);
    if (ec) throw std::runtime_error("http write: " + ec.message());
  }
  auto res = readResponse();
  if (!res) throw std::runtime_error("server closed the connection without a response");
  return std::move(*res);
}

void HttpClient::sendRaw(std::string_view bytes) {
  if (!connected()) connect();
  net::write(impl_->socket, net::buffer(bytes.data(), bytes.size()));
}

std::optional<HttpResult> HttpClient::readResponse() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code ec;
  http::read(impl_->socket, impl_->buffer, parser, ec);
  if (ec == http::error::end_of_stream || ec == net::error::connection_reset ||
      ec == net::error::eof) {
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
    size_t n = impl_->socket.read_some(net::buffer(&byte, 1), ec);
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

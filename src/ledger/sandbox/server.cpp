#include "ledger/sandbox/server.h"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <list>
#include <stdexcept>

namespace sc::ledger::sandbox {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct SandboxServer::Impl {
  Sandbox& sandbox;
  std::string bind;
  uint16_t port;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::atomic<bool> stopping{false};
  std::function<void(const HttpRequest&, const HttpReply&)> observer;
  std::mutex mu;
  struct Session {
    std::shared_ptr<tcp::socket> socket;
    std::shared_ptr<std::atomic<bool>> done;
    std::thread thread;
  };
  std::list<Session> sessions;

  Impl(Sandbox& s, std::string b, uint16_t p) : sandbox(s), bind(std::move(b)), port(p) {}

  void serve(std::shared_ptr<tcp::socket> socket) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(16 * 1024 * 1024);
      http::read(*socket, buffer, parser, ec);
      if (ec) break;
      auto& req = parser.get();
      HttpRequest r{std::string(req.method_string()), std::string(req.target()),
                    std::string(req[http::field::authorization]), req.body()};
      HttpReply reply = sandbox.handle(r);
      if (observer) observer(r, reply);
      if (reply.drop_connection) break;
      http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
      res.set(http::field::server, "sc-ledger-sandbox");
      res.set(http::field::content_type, "application/json");
      res.keep_alive(req.keep_alive());
      res.body() = std::move(reply.body);
      res.prepare_payload();
      http::write(*socket, res, ec);
      if (ec || !res.keep_alive()) break;
    }
    socket->shutdown(tcp::socket::shutdown_both, ec);
  }

  void acceptLoop() {
    while (!stopping) {
      auto socket = std::make_shared<tcp::socket>(io);
      beast::error_code ec;
      acceptor.accept(*socket, ec);
      if (ec) {
        if (stopping) break;
        continue;
      }
      std::lock_guard l(mu);
      // Reap finished sessions.
      for (auto it = sessions.begin(); it != sessions.end();) {
        if (it->done->load()) {
          it->thread.join();
          it = sessions.erase(it);
        } else {
          ++it;
        }
      }
      auto done = std::make_shared<std::atomic<bool>>(false);
      sessions.push_back(Session{socket, done, std::thread([this, socket, done] {
                                   serve(socket);
                                   done->store(true);
                                 })});
    }
  }
};

SandboxServer::SandboxServer(Sandbox& sandbox, std::string bind, uint16_t port)
    : impl_(std::make_unique<Impl>(sandbox, std::move(bind), port)) {}

SandboxServer::~SandboxServer() { stop(); }

void SandboxServer::setObserver(
    std::function<void(const HttpRequest&, const HttpReply&)> observer) {
  impl_->observer = std::move(observer);
}

void SandboxServer::start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(impl_->bind, ec);
  if (ec) throw std::runtime_error("invalid bind address '" + impl_->bind + "'");
  tcp::endpoint ep{address, impl_->port};
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + impl_->bind + ":" + std::to_string(impl_->port) +
                             ": " + ec.message());
  }
  bound_port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept_thread = std::thread([this] { impl_->acceptLoop(); });
}

void SandboxServer::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  beast::error_code ec;
  impl_->acceptor.cancel(ec);
  // Unblock accept() with a throwaway connection, then close.
  if (bound_port_ != 0) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), bound_port_}, ec);
  }
  impl_->acceptor.close(ec);
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  std::lock_guard l(impl_->mu);
  for (auto& s : impl_->sessions) s.socket->shutdown(tcp::socket::shutdown_both, ec);
  for (auto& s : impl_->sessions) {
    if (s.thread.joinable()) s.thread.join();
  }
  impl_->sessions.clear();
}

}  // namespace sc::ledger::sandbox

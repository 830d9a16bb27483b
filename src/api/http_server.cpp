#include "api/http_server.h"

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <future>
#include <map>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "api/errors.h"
#include "common/log.h"

namespace sc::api {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr auto kDrainTimeout = std::chrono::seconds(2);
constexpr size_t kDrainLimit = 4 << 20;
constexpr auto kShutdownTimeout = std::chrono::seconds(2);  // sending close_notify

// Probes answer from memory or one cheap query: they must not wait behind the handler pool.
bool isProbe(const std::string& method, std::string_view target) {
  if (method != "GET") return false;
  target = target.substr(0, target.find('?'));
  return target == "/health" || target == "/ready";
}

// "application/json", "application/json; charset=utf-8" (media types are case-insensitive).
bool isJsonMediaType(std::string_view content_type) {
  auto media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) media.remove_prefix(1);
  return beast::iequals(media, "application/json");
}

// Accept failures that mean "no descriptor or memory right now": retrying at once would spin.
bool isResourceExhaustion(const beast::error_code& ec) {
  return ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
         ec == net::error::no_memory || ec.value() == ENFILE;
}

}  // namespace

void ApiMetrics::countStatus(unsigned status) {
  requests.inc();
  if (status < 300)
    responses_2xx.inc();
  else if (status < 400)
    responses_3xx.inc();
  else if (status < 500)
    responses_4xx.inc();
  else
    responses_5xx.inc();
  if (status >= 400) errors.inc();
}

// A connection as stop() sees it, whatever its transport.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void closeIfIdle() = 0;
  virtual void forceClose() = 0;
  virtual net::any_io_executor executor() = 0;
};

struct HttpServer::Impl {
  Impl(HttpServerOptions o, const Router& r)
      : options(std::move(o)),
        router(r),
        ioc(std::max(1, options.io_threads)),
        acceptor(net::make_strand(ioc)),
        accept_timer(acceptor.get_executor()),
        pool(static_cast<size_t>(std::max(1, options.handler_threads))),
        probe_pool(static_cast<size_t>(std::max(1, options.probe_threads))) {}

  void accept();
  void registerSession(Connection* s, std::weak_ptr<Connection> w) {
    std::lock_guard l(mu);
    sessions[s] = std::move(w);
  }
  void unregisterSession(Connection* s) {
    std::lock_guard l(mu);
    sessions.erase(s);
    cv.notify_all();
  }

  HttpServerOptions options;
  const Router& router;
  ApiMetrics metrics;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;
  std::mutex stop_mu;               // serialises start()/stop()
  std::optional<ssl::context> tls;  // set by start() when options name a certificate
  std::string scheme() const { return options.tls_cert_file.empty() ? "HTTP" : "HTTPS"; }

  // Declared before the io_context and pool so they outlive the sessions those destroy.
  std::mutex mu;
  std::condition_variable cv;
  std::map<Connection*, std::weak_ptr<Connection>> sessions;
  std::atomic<int> connections{0};  // live Session objects (max_connections)
  std::chrono::steady_clock::time_point last_accept_warning;

  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer accept_timer;  // on the acceptor's strand: the pause after a failed accept
  net::thread_pool pool;
  net::thread_pool probe_pool;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;
};

namespace {

// The TLS context of `options` (TLS 1.2 or later, no compression). Throws naming the file.
void loadTls(std::optional<ssl::context>& tls, const HttpServerOptions& o) {
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) return;
  if (o.tls_cert_file.empty() || o.tls_key_file.empty())
    throw std::runtime_error("HTTPS needs both a certificate chain file and a private key file");
  tls.emplace(ssl::context::tls_server);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                   ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                   ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  if (SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION) != 1)
    throw std::runtime_error("cannot require TLS 1.2 or later");
  beast::error_code ec;
  tls->use_certificate_chain_file(o.tls_cert_file, ec);
  if (ec)
    throw std::runtime_error("cannot load the TLS certificate chain file '" + o.tls_cert_file +
                             "': " + ec.message());
  tls->use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
  if (ec)
    throw std::runtime_error("cannot load the TLS private key file '" + o.tls_key_file +
                             "': " + ec.message());
}

// Handshake failures that are the peer just going away (not a protocol error).
bool isDisconnect(const beast::error_code& ec) {
  return ec.category() != net::error::get_ssl_category();
}

}  // namespace

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection, plain or TLS. Every member function runs on the connection's strand.
template <class Stream>
class Session final : public Connection, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  using std::enable_shared_from_this<Session>::shared_from_this;
  using std::enable_shared_from_this<Session>::weak_from_this;

 public:
  Session(tcp::socket socket, HttpServer::Impl& server)
      : stream_(makeStream(std::move(socket), server)),
        server_(server),
        deadline_(stream_.get_executor()) {
    server_.metrics.open_connections.add(1);
    server_.connections.fetch_add(1);
  }
  ~Session() override {
    server_.connections.fetch_sub(1);
    server_.metrics.open_connections.add(-1);
    server_.unregisterSession(this);
  }

  // `refuse`: the connection limit is reached; answer 503 and close without reading a request.
  void start(bool refuse) {
    server_.registerSession(this, weak_from_this());
    net::dispatch(stream_.get_executor(), [self = shared_from_this(), refuse] {
      if (self->server_.stopping) return self->close();
      if constexpr (kTls) {
        self->state_ = State::kHandshake;
        self->lowest().expires_after(self->server_.options.read_timeout);
        self->stream_.async_handshake(
            ssl::stream_base::server,
            [self, refuse](beast::error_code ec) { self->onHandshake(ec, refuse); });
      } else {
        self->begin(refuse);
      }
    });
  }

  // stop(): a connection waiting for a request is closed; a busy one closes after its response.
  void closeIfIdle() override {
    if (state_ == State::kHandshake) return close();
    if (state_ != State::kReading) return;
    if constexpr (kTls) {
      // close_notify once the pending read has given the stream back (see readDone).
      closing_ = true;
      lowest().cancel();
    } else {
      close();
    }
  }
  void forceClose() override { close(); }
  net::any_io_executor executor() override { return stream_.get_executor(); }

 private:
  enum class State { kHandshake, kReading, kHandling, kWriting, kShuttingDown, kClosed };

  static Stream makeStream(tcp::socket socket, HttpServer::Impl& server) {
    if constexpr (kTls)
      return Stream(std::move(socket), *server.tls);
    else
      return Stream(std::move(socket));
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void onHandshake(beast::error_code ec, bool refuse) {
    if (state_ == State::kClosed) return;
    if (ec) {
      if (ec == beast::error::timeout) {
        server_.metrics.timeouts.inc();
      } else if (!isDisconnect(ec)) {
        server_.metrics.protocol_errors.inc();
        logger()->debug("TLS handshake failed: {}", ec.message());
      }
      return close();
    }
    begin(refuse);
  }

  void begin(bool refuse) {
    if (refuse) {
      return writeErrorAndClose(
          Error::transient(std::string(kTooManyConnections),
                           "the server has " + std::to_string(server_.options.max_connections) +
                               " open connections (HTTP_MAX_CONNECTIONS); retry later"));
    }
    readHeader();
  }

  // The completion of a read: false when the session goes no further (error, or stop()).
  bool readDone(beast::error_code ec) {
    if (closing_ && state_ != State::kClosed) {
      shutdownAndClose();
      return false;
    }
    if (ec) {
      onReadError(ec);
      return false;
    }
    return true;
  }

  void readHeader() {
    state_ = State::kReading;
    parser_.emplace();
    parser_->body_limit(server_.options.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    lowest().expires_after(server_.options.read_timeout);  // one deadline for the whole request
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onHeader(ec); });
  }

  void onHeader(beast::error_code ec) {
    if (!readDone(ec)) return;
    auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](beast::error_code ec, size_t) {
                          if (ec) return self->close();
                          if (self->readDone(ec)) self->readBody();
                        });
      return;
    }
    readBody();
  }

  void readBody() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
  }

  void onReadError(beast::error_code ec) {
    if (state_ == State::kClosed || ec == net::error::operation_aborted) return;
    if (ec == beast::error::timeout) {
      server_.metrics.timeouts.inc();
      logger()->debug("closing a connection idle past the read timeout");
      return close();
    }
    if (ec == http::error::end_of_stream) return shutdownAndClose();  // the peer is done
    if (ec == http::error::partial_message ||
        ec.category() != http::make_error_code(http::error::bad_target).category()) {
      return close();  // the peer went away, or a socket or TLS error: nothing to answer
    }
    server_.metrics.protocol_errors.inc();
    if (ec == http::error::body_limit) {
      return writeErrorAndClose(Error::permanent(
          std::string(kPayloadTooLarge),
          "request body exceeds " + std::to_string(server_.options.max_body_bytes) + " bytes"));
    }
    if (ec == http::error::header_limit) {
      return writeErrorAndClose(
          Error::permanent(std::string(kHeaderTooLarge), "request headers too large"));
    }
    writeErrorAndClose(Error::permanent(std::string(kMalformedRequest),
                                        "malformed HTTP request: " + ec.message()));
  }

  void onRead(beast::error_code ec) {
    if (!readDone(ec)) return;
    state_ = State::kHandling;
    lowest().expires_never();
    auto beast_req = parser_->release();
    keep_alive_ = beast_req.keep_alive();
    version_ = beast_req.version();

    auto req = std::make_shared<HttpRequest>();
    req->method = std::string(beast_req.method_string());
    req->target = std::string(beast_req.target());
    for (const auto& f : beast_req) {
      auto name = lowerCase(f.name_string());
      auto [it, inserted] = req->headers.emplace(name, std::string(f.value()));
      if (!inserted) it->second += ", " + std::string(f.value());
    }
    req->body = std::move(beast_req.body());
    beast::error_code peer_ec;
    auto peer = lowest().socket().remote_endpoint(peer_ec);
    if (!peer_ec) req->remote_address = peer.address().to_string();
    ++requests_served_;
    const int max_requests = server_.options.max_requests_per_connection;
    if (max_requests > 0 && requests_served_ >= max_requests) keep_alive_ = false;
    if (!req->body.empty() && !isJsonMediaType(req->header("content-type"))) {
      const std::string sent = req->header("content-type");
      return write(
          errorResponse(kUnsupportedMediaType,
                        "a request body must be sent with Content-Type: application/json (" +
                            (sent.empty() ? std::string("none was sent")
                                          : "got '" + log::escape(sent) + "'") +
                            ")"),
          keep_alive_ && !server_.stopping);
    }
    server_.metrics.in_flight.add(1);
    started_ = std::chrono::steady_clock::now();
    const uint64_t generation = ++generation_;
    const auto deadline = server_.options.request_deadline;
    deadline_.expires_after(deadline);
    deadline_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
      if (!ec) self->onDeadline(generation);
    });

    // Handlers may block (database, ledger): never on the io threads. A request that waited
    // past its deadline for a thread is not run at all (the client has its 503 already).
    auto& pool = isProbe(req->method, req->target) ? server_.probe_pool : server_.pool;
    net::post(pool, [self = shared_from_this(), req, generation, queued = started_, deadline] {
      std::shared_ptr<HttpResponse> res;
      if (std::chrono::steady_clock::now() - queued >= deadline) {
        res = std::make_shared<HttpResponse>(errorResponse(
            Error::transient(std::string(kDeadlineExceeded),
                             "the request waited past its deadline for a handler; not run")));
      } else {
        res = std::make_shared<HttpResponse>(self->server_.router.dispatch(*req));
      }
      net::post(self->stream_.get_executor(), [self, req, res, generation] {
        self->onHandled(*req, std::move(*res), generation);
      });
    });
  }

  void onHandled(const HttpRequest& req, HttpResponse res, uint64_t generation) {
    server_.metrics.in_flight.add(-1);
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - started_)
                      .count();
    if (answered_by_deadline_ == generation) {
      logger()->warn(
          "{} {} finished after its deadline had answered 503 (its own answer: {}, after {} us)",
          req.method, log::escape(req.path.empty() ? req.target : req.path), res.status, micros);
      return;
    }
    deadline_.cancel();
    logger()->debug("{} {} -> {} ({} us)", req.method, req.path.empty() ? req.target : req.path,
                    res.status, micros);
    write(std::move(res), keep_alive_ && !server_.stopping);
  }

  // The request of `generation` is still being handled at its deadline: answer 503 now and close
  // the connection (its late response is dropped in onHandled).
  void onDeadline(uint64_t generation) {
    if (state_ != State::kHandling || generation != generation_) return;
    answered_by_deadline_ = generation;
    server_.metrics.deadline_exceeded.inc();
    logger()->warn("request deadline of {} ms passed; answering 503",
                   server_.options.request_deadline.count());
    write(errorResponse(Error::transient(
              std::string(kDeadlineExceeded),
              "the request was not answered within " +
                  std::to_string(server_.options.request_deadline.count()) +
                  " ms; its outcome is unknown: retrying is safe (trades are idempotent by "
                  "trade_id, credits by Idempotency-Key)")),
          false);
  }

  void write(HttpResponse res, bool keep_alive, bool drain_after = false) {
    if (state_ == State::kClosed || state_ == State::kShuttingDown) return;
    state_ = State::kWriting;
    server_.metrics.countStatus(res.status);
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(version_);
    msg->result(res.status);
    msg->set(http::field::server, server_.options.server_name);
    msg->set(http::field::content_type, res.content_type);
    for (auto& [name, value] : res.headers) msg->set(name, value);
    msg->body() = std::move(res.body);
    msg->keep_alive(keep_alive);
    msg->prepare_payload();
    lowest().expires_after(server_.options.read_timeout);  // a peer that never reads
    http::async_write(
        stream_, *msg,
        [self = shared_from_this(), msg, keep_alive, drain_after](beast::error_code ec, size_t) {
          self->onWrite(ec, keep_alive, drain_after);
        });
  }

  void onWrite(beast::error_code ec, bool keep_alive, bool drain_after) {
    if (ec) return close();
    if (drain_after) return endWriting([this] { drain(); });
    if (!keep_alive || server_.stopping) return shutdownAndClose();
    readHeader();
  }

  // 400/413/431: answer, then close. Unread request bytes would make close() send a reset that
  // can destroy the response in flight, so half-close and discard what the peer still sends.
  void writeErrorAndClose(const Error& e) {
    version_ = 11;
    keep_alive_ = false;
    write(errorResponse(e), false, true);
  }

  // Ends our side of a healthy connection, then runs `then`: over TLS, close_notify without
  // waiting for the peer's (bounded by kShutdownTimeout); then the TCP half-close.
  template <class Then>
  void endWriting(Then then) {
    if (state_ == State::kClosed || state_ == State::kShuttingDown) return;
    state_ = State::kShuttingDown;
    auto half_close = [self = shared_from_this(), then] {
      if (self->state_ == State::kClosed) return;
      beast::error_code ignored;
      self->lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
      then();
    };
    if constexpr (kTls) {
      // Received-shutdown set by hand: SSL_shutdown sends close_notify and completes at once.
      SSL* ssl = stream_.native_handle();
      SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
      lowest().expires_after(kShutdownTimeout);
      stream_.async_shutdown([half_close](beast::error_code) { half_close(); });
    } else {
      half_close();
    }
  }

  void drain() {
    lowest().expires_after(kDrainTimeout);
    drainMore();
  }
  // Raw bytes (still encrypted over TLS): they are discarded unread.
  void drainMore() {
    if (!drain_buf_) drain_buf_ = std::make_unique<std::array<char, 8192>>();
    lowest().async_read_some(net::buffer(*drain_buf_),
                             [self = shared_from_this()](beast::error_code ec, size_t n) {
                               self->drained_ += n;
                               if (ec || self->drained_ > kDrainLimit) return self->close();
                               self->drainMore();
                             });
  }

  void shutdownAndClose() {
    endWriting([this] { close(); });
  }

  void close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  Stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  State state_ = State::kReading;
  bool closing_ = false;  // stop() cancelled the pending read to close this idle connection
  bool keep_alive_ = true;
  unsigned version_ = 11;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<std::array<char, 8192>> drain_buf_;
  size_t drained_ = 0;
  net::steady_timer deadline_;         // the request deadline
  uint64_t generation_ = 0;            // the request being handled
  uint64_t answered_by_deadline_ = 0;  // the request the deadline answered, if any
  int requests_served_ = 0;
};

void HttpServer::Impl::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping || !acceptor.is_open()) return;
    if (ec) {
      metrics.accept_errors.inc();
      if (isResourceExhaustion(ec)) {
        // The pending connection stays in the backlog; accepting again at once fails again.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_accept_warning >= std::chrono::seconds(10)) {
          last_accept_warning = now;
          logger()->warn("accept failed: {} ({} connections open); pausing accepts for {} ms",
                         ec.message(), connections.load(), options.accept_backoff.count());
        }
        accept_timer.expires_after(options.accept_backoff);
        accept_timer.async_wait([this](beast::error_code) {
          if (!stopping && acceptor.is_open()) accept();
        });
        return;
      }
      logger()->warn("accept failed: {}", ec.message());
    } else {
      const bool refuse =
          options.max_connections > 0 && connections.load() >= options.max_connections;
      if (refuse) metrics.refused_connections.inc();
      if (tls)
        std::make_shared<Session<TlsStream>>(std::move(socket), *this)->start(refuse);
      else
        std::make_shared<Session<PlainStream>>(std::move(socket), *this)->start(refuse);
    }
    accept();
  });
}

HttpServer::HttpServer(HttpServerOptions options, const Router& router)
    : impl_(std::make_shared<Impl>(std::move(options), router)) {}

HttpServer::~HttpServer() { stop(); }

const ApiMetrics& HttpServer::metrics() const { return impl_->metrics; }

void HttpServer::start() {
  std::lock_guard l(impl_->stop_mu);
  if (impl_->started) throw std::logic_error("HttpServer::start called twice");
  auto& o = impl_->options;
  loadTls(impl_->tls, o);
  beast::error_code ec;
  auto address = net::ip::make_address(o.bind_address, ec);
  if (ec)
    throw std::runtime_error("HTTP_BIND: invalid address '" + o.bind_address +
                             "': " + ec.message());
  tcp::endpoint endpoint(address, o.port);
  auto& acc = impl_->acceptor;
  const std::string where = o.bind_address + ":" + std::to_string(o.port);
  acc.open(endpoint.protocol(), ec);
  if (ec) throw std::runtime_error("cannot open socket for " + where + ": " + ec.message());
  acc.set_option(net::socket_base::reuse_address(true), ec);
  acc.bind(endpoint, ec);
  if (ec) throw std::runtime_error("cannot bind " + where + ": " + ec.message());
  acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + where + ": " + ec.message());
  port_ = acc.local_endpoint().port();
  impl_->started = true;

  impl_->work.emplace(impl_->ioc.get_executor());
  impl_->accept();
  for (int i = 0; i < std::max(1, o.io_threads); ++i)
    impl_->threads.emplace_back([impl = impl_.get()] { impl->ioc.run(); });
  logger()->info("{} server listening on {}:{} ({} io threads, {} handler threads)",
                 impl_->scheme(), o.bind_address, port_.load(), o.io_threads, o.handler_threads);
}

void HttpServer::stop() {
  auto& s = *impl_;
  std::lock_guard l(s.stop_mu);
  if (!s.started || s.stopped) return;
  s.stopped = true;
  s.stopping = true;

  // 1. Stop accepting (on the acceptor's strand).
  std::promise<void> closed;
  net::post(s.acceptor.get_executor(), [&] {
    beast::error_code ignored;
    s.accept_timer.cancel();
    s.acceptor.close(ignored);
    closed.set_value();
  });
  closed.get_future().wait();

  // 2. Close idle connections; busy ones close after writing their response.
  // Runs fn on every live session's strand and waits (bounded) until each has run it.
  auto each_session = [&](auto fn) {
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard g(s.mu);
      for (auto& [_, w] : s.sessions)
        if (auto p = w.lock()) live.push_back(std::move(p));
    }
    std::vector<std::future<void>> done;
    for (auto& p : live) {
      auto ran = std::make_shared<std::promise<void>>();
      done.push_back(ran->get_future());
      net::post(p->executor(), [p, fn, ran] {
        fn(*p);
        ran->set_value();
      });
    }
    live.clear();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (auto& f : done) f.wait_until(until);
  };
  each_session([](Connection& x) { x.closeIfIdle(); });

  // 3. Wait (bounded) for in-flight requests to be answered.
  {
    std::unique_lock g(s.mu);
    if (!s.cv.wait_for(g, s.options.drain_timeout, [&] { return s.sessions.empty(); })) {
      logger()->warn("HTTP stop: {} connections still busy after {} ms; closing them",
                     s.sessions.size(), s.options.drain_timeout.count());
      g.unlock();
      each_session([](Connection& x) { x.forceClose(); });
    }
  }

  // 4. Join. Handlers still running finish first (they only post back to a stopped context).
  s.work.reset();
  s.ioc.stop();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  s.pool.join();
  s.probe_pool.join();
  logger()->info("{} server stopped", s.scheme());
}

}  // namespace sc::api

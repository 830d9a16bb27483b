// The HTTP layer over real sockets: keep-alive, limits, malformed input, timeouts, stop().
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include "api/test_server.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

class HttpServerTest : public ApiServerTest {
 protected:
  // Makes POST /settlements/{id}/retry block until release() (a handler thread held busy).
  void blockRetry() {
    auto released = release_.get_future().share();
    commands.before_retry = [this, released] {
      if (!entered_once_.exchange(true)) entered_.set_value();
      released.wait();
    };
  }
  static HttpResult retry(uint16_t port) {
    return HttpClient(port).post("/settlements/" + Uuid::generateV7().canonical() + "/retry",
                                 R"({"reason":"test"})");
  }

  // Makes GET /ready block until release() (a request in flight on the handler pool).
  void blockReady() {
    auto released = release_.get_future().share();
    readiness = [this, released]() -> Result<void> {
      entered_.set_value();
      released.wait();
      return {};
    };
  }
  void waitEntered() { ASSERT_EQ(entered_.get_future().wait_for(10s), std::future_status::ready); }
  void release() { release_.set_value(); }

  std::promise<void> entered_, release_;
  std::atomic<bool> entered_once_{false};
};

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  auto a = http().get("/health");
  auto b = http().get("/health");
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(b.status, 200u);
  EXPECT_TRUE(b.keep_alive);
  EXPECT_EQ(http().connectCount(), 1);
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  auto r = http().request("GET", "/health", "", {{"Connection", "close"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_TRUE(http().waitForServerClose(5s));
}

TEST_F(HttpServerTest, UnknownRouteIs404AndWrongMethodIs405WithAllow) {
  auto missing = http().get("/nope");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_EQ(missing.json()["error"]["code"], "not_found");
  EXPECT_EQ(missing.header("content-type"), "application/json");
  auto wrong = http().request("DELETE", "/settlements");
  EXPECT_EQ(wrong.status, 405u);
  EXPECT_EQ(wrong.header("allow"), "GET");
  EXPECT_EQ(wrong.json()["error"]["code"], "method_not_allowed");
  auto retry_get =
      http().get("/settlements/" + Uuid::generateV7().prefixed(kSettlementPrefix) + "/retry");
  EXPECT_EQ(retry_get.status, 405u);
  EXPECT_EQ(retry_get.header("allow"), "POST");
}

TEST_F(HttpServerTest, OversizedBodyIs413AndClosesTheConnection) {
  options.max_body_bytes = 1024;
  start();
  auto r = http().post("/trades", std::string(4096, 'x'));
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.json()["error"]["code"], "payload_too_large");
  EXPECT_FALSE(r.keep_alive);
  // A body just under the limit is read and handled (here: rejected as JSON).
  HttpClient fresh(server->port());
  EXPECT_EQ(fresh.post("/trades", std::string(1000, 'x')).json()["error"]["code"], "invalid_json");
}

TEST_F(HttpServerTest, OversizedChunkedBodyIs413) {
  options.max_body_bytes = 100;
  start();
  std::string chunk(200, 'y');
  http().sendRaw("POST /trades HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nc8\r\n" +
                 chunk + "\r\n0\r\n\r\n");
  auto r = http().readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413u);
}

TEST_F(HttpServerTest, MalformedHttpIs400JsonThenClose) {
  http().sendRaw("THIS IS NOT HTTP\r\n\r\n");
  auto r = http().readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400u);
  EXPECT_EQ(r->json()["error"]["code"], "malformed_request");
  EXPECT_TRUE(http().waitForServerClose(5s));

  HttpClient other(server->port());
  other.sendRaw("GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
  auto r2 = other.readResponse();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 400u);
}

TEST_F(HttpServerTest, OversizedHeadersAre431JsonThenClose) {
  auto r = http().request("GET", "/health", "", {{"X-Padding", std::string(20000, 'p')}});
  EXPECT_EQ(r.status, 431u);
  EXPECT_EQ(r.json()["error"]["code"], "header_too_large");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(HttpClient(server->port()).get("/health").status, 200u);
}

TEST_F(HttpServerTest, MalformedJsonBodyIs400AndKeepsTheConnection) {
  auto r = http().post("/accounts", "{\"account_id\":");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.json()["error"]["code"], "invalid_json");
  EXPECT_EQ(http().get("/health").status, 200u);
  EXPECT_EQ(http().connectCount(), 1);
}

TEST_F(HttpServerTest, ExpectContinueIsAnswered) {
  start();
  std::string body = R"({"account_id":"acc_c"})";
  http().sendRaw(
      "POST /accounts HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: "
      "application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  auto cont = http().readResponse();
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100u);
  http().sendRaw(body);
  auto r = http().readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201u) << r->body;
}

TEST_F(HttpServerTest, ReadTimeoutClosesAnIdleConnection) {
  options.read_timeout = 1s;
  start();
  EXPECT_EQ(http().get("/health").status, 200u);
  // The server closes the idle keep-alive connection by itself; the client waits on the socket.
  EXPECT_TRUE(http().waitForServerClose(10s));
  // A request left half-written is cut off too.
  HttpClient slow(server->port());
  slow.sendRaw("GET /health HTTP/1.1\r\nHost: x\r\n");
  EXPECT_TRUE(slow.waitForServerClose(10s));
}

TEST_F(HttpServerTest, BlockingHandlersDoNotBlockTheIoThreads) {
  options.io_threads = 1;
  options.handler_threads = 2;
  blockRetry();
  start();
  auto blocked = std::async(std::launch::async, [port = server->port()] { return retry(port); });
  waitEntered();
  HttpClient other(server->port());
  EXPECT_EQ(other.get("/settlements").status, 200u);  // answered while the retry is blocked
  release();
  EXPECT_EQ(blocked.get().status, 404u);  // settlement_not_found, once released
}

TEST_F(HttpServerTest, ProbesAreAnsweredWhileEveryHandlerThreadIsBusy) {
  options.handler_threads = 1;
  blockRetry();
  start();
  auto blocked = std::async(std::launch::async, [port = server->port()] { return retry(port); });
  waitEntered();
  HttpClient probe(server->port());
  EXPECT_EQ(probe.get("/health").status, 200u);
  EXPECT_EQ(probe.get("/ready").status, 200u);
  release();
  EXPECT_EQ(blocked.get().status, 404u);
}

TEST_F(HttpServerTest, ARequestPastItsDeadlineIs503WithRetryAfterAndTheConnectionCloses) {
  options.request_deadline = 300ms;
  blockRetry();
  start();
  auto r = retry(server->port());
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.json()["error"]["code"], "deadline_exceeded") << r.body;
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_FALSE(r.keep_alive);
  release();
  EXPECT_EQ(http().get("/health").status, 200u);  // the server is fine afterwards
}

TEST_F(HttpServerTest, ARequestThatWaitedPastItsDeadlineForAHandlerIsNeverRun) {
  options.handler_threads = 1;
  options.request_deadline = 300ms;
  blockRetry();
  start();
  auto blocked = std::async(std::launch::async, [port = server->port()] { return retry(port); });
  waitEntered();
  // Queued behind the blocked retry on the only handler thread, until past its deadline.
  auto queued = std::async(std::launch::async, [port = server->port()] {
    return HttpClient(port).post("/trades", tradeJson("trd_late"));
  });
  auto late = queued.get();
  EXPECT_EQ(late.status, 503u);
  EXPECT_EQ(late.json()["error"]["code"], "deadline_exceeded");
  release();
  EXPECT_EQ(blocked.get().status, 503u);
  // The queued trade was answered 503 and then dropped by the pool, never stored.
  HttpClient after(server->port());
  auto list = after.get("/settlements");
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(list.json()["total"], 0) << list.body;
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitAreAnswered503AndClosed) {
  options.max_connections = 2;
  start();  // the fixture's client is not connected until its first request
  HttpClient a(server->port()), b(server->port());
  EXPECT_EQ(a.get("/health").status, 200u);
  EXPECT_EQ(b.get("/health").status, 200u);
  HttpClient c(server->port());
  auto refused = c.get("/health");
  EXPECT_EQ(refused.status, 503u);
  EXPECT_EQ(refused.json()["error"]["code"], "too_many_connections");
  EXPECT_EQ(refused.header("retry-after"), "1");
  EXPECT_FALSE(refused.keep_alive);
  EXPECT_GE(server->metrics().refused_connections.value(), 1u);
  a.close();
  // Once a slot is free (the server notices the close asynchronously), a new connection is served.
  unsigned status = 0;
  for (int i = 0; i < 200 && status != 200; ++i) {
    HttpClient d(server->port());
    status = d.get("/health").status;
    if (status != 200) std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(status, 200u);
}

TEST_F(HttpServerTest, AConnectionServesAtMostTheConfiguredNumberOfRequests) {
  options.max_requests_per_connection = 2;
  start();
  EXPECT_TRUE(http().get("/health").keep_alive);
  auto second = http().get("/health");
  EXPECT_EQ(second.status, 200u);
  EXPECT_FALSE(second.keep_alive);                // "Connection: close" on the last one
  EXPECT_TRUE(http().get("/health").keep_alive);  // the client reconnects
  EXPECT_EQ(http().connectCount(), 2);
}

TEST_F(HttpServerTest, ABodyNotDeclaredAsJsonIs415) {
  start();
  auto text = http().post("/trades", tradeJson("trd_text"), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(text.status, 415u);
  EXPECT_EQ(text.json()["error"]["code"], "unsupported_media_type");
  EXPECT_NE(text.json()["error"]["message"].get<std::string>().find("text/plain"),
            std::string::npos);
  EXPECT_TRUE(text.keep_alive);  // a well-formed request: the connection stays usable
  HttpClient raw(server->port());
  const std::string body = tradeJson("trd_none");
  raw.sendRaw("POST /trades HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n\r\n" + body);
  auto none = raw.readResponse();
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 415u);
  EXPECT_NE(none->body.find("none was sent"), std::string::npos) << none->body;
  // Parameters and case do not matter.
  auto ok = http().post("/trades", tradeJson("trd_ok"),
                        {{"Content-Type", "Application/JSON; charset=utf-8"}});
  EXPECT_EQ(ok.status, 201u) << ok.body;
  EXPECT_EQ(http().get("/settlements").json()["total"], 1);
}

TEST_F(HttpServerTest, AcceptPausesInsteadOfSpinningWhenOutOfDescriptors) {
  options.accept_backoff = 100ms;
  start();
  ASSERT_EQ(http().get("/health").status, 200u);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  size_t open_fds = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++open_fds;
  rlimit tight = saved;
  tight.rlim_cur = open_fds + 8;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::vector<int> clients;
  struct Restore {  // descriptors and the limit come back whatever fails below
    std::vector<int>& fds;
    rlimit limit;
    ~Restore() {
      for (int fd : fds) ::close(fd);
      fds.clear();
      setrlimit(RLIMIT_NOFILE, &limit);
    }
  };
  std::optional<Restore> restore;
  restore.emplace(clients, saved);
  // Take every free descriptor before connecting any of them, so that no accept can win a race
  // for the last one: from here on the server's accepts can only fail (a descriptor the server
  // frees meanwhile lets at most one through; the rest stay queued and fail).
  int last_errno = 0;
  for (int i = 0; i < 64; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
      last_errno = errno;
      break;
    }
    clients.push_back(fd);
  }
  ASSERT_EQ(last_errno, EMFILE) << "the test could not take every descriptor";
  ASSERT_GE(clients.size(), 2u);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const uint64_t before = server->metrics().accept_errors.value();
  for (int fd : clients)  // the handshake completes in the kernel; each waits in the backlog
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  std::this_thread::sleep_for(1s);  // the observation window: failures per second, not a wait
  const uint64_t failed = server->metrics().accept_errors.value() - before;
  restore.reset();
  EXPECT_GE(failed, 1u) << "the test did not exhaust the descriptors";
  EXPECT_LE(failed, 20u) << "accept retried " << failed << " times in 1 s: it spins";
  // With descriptors back, the server accepts and answers again.
  unsigned status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    try {
      status = HttpClient(server->port()).get("/health").status;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(20ms);
    }
  }
  EXPECT_EQ(status, 200u);
}

TEST_F(HttpServerTest, StopLetsAnInFlightRequestFinishAndClosesIdleConnections) {
  blockReady();
  start();
  HttpClient idle(server->port());
  EXPECT_EQ(idle.get("/health").status, 200u);  // now an idle keep-alive connection

  auto in_flight = std::async(std::launch::async,
                              [port = server->port()] { return HttpClient(port).get("/ready"); });
  waitEntered();
  auto stopping = std::async(std::launch::async, [this] { server->stop(); });
  EXPECT_TRUE(idle.waitForServerClose(5s));  // idle connection closed promptly
  EXPECT_EQ(stopping.wait_for(200ms), std::future_status::timeout);  // stop waits for the request
  release();
  auto r = in_flight.get();
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(r.keep_alive);  // answered with Connection: close
  ASSERT_EQ(stopping.wait_for(10s), std::future_status::ready);
  // No longer accepting.
  HttpClient late(server->port());
  EXPECT_THROW(late.get("/health"), std::exception);
}

TEST_F(HttpServerTest, StopIsBoundedWhenAHandlerOutlivesTheDrainTimeout) {
  options.drain_timeout = 300ms;
  blockReady();
  start();
  auto in_flight = std::async(std::launch::async, [port = server->port()] {
    try {
      return HttpClient(port).get("/ready").status;
    } catch (const std::exception&) {
      return 0u;  // the connection was closed by the bounded stop
    }
  });
  waitEntered();
  auto stopping = std::async(std::launch::async, [this] { server->stop(); });
  // The connection is force-closed after the drain timeout; the handler is then released so the
  // pool can be joined.
  EXPECT_EQ(in_flight.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(in_flight.get(), 0u);
  release();
  EXPECT_EQ(stopping.wait_for(10s), std::future_status::ready);
}

TEST_F(HttpServerTest, BindFailureThrowsNamingTheAddress) {
  start();
  api::HttpServerOptions o;
  o.bind_address = "127.0.0.1";
  o.port = server->port();
  api::HttpServer second(o, api->router());
  try {
    second.start();
    FAIL() << "bound a port already in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(server->port())), std::string::npos);
  }
}

}  // namespace
}  // namespace sc::test

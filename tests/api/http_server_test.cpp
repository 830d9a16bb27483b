// The HTTP layer over real sockets: keep-alive, limits, malformed input, timeouts, stop().
#include <future>
#include <thread>

#include "api/test_server.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

class HttpServerTest : public ApiServerTest {
 protected:
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
  blockReady();
  start();
  auto blocked = std::async(std::launch::async,
                            [port = server->port()] { return HttpClient(port).get("/ready"); });
  waitEntered();
  HttpClient other(server->port());
  EXPECT_EQ(other.get("/health").status, 200u);  // answered while /ready is still blocked
  release();
  EXPECT_EQ(blocked.get().status, 200u);
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

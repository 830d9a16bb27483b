// AUTH_JWKS_URL over plain HTTP against a one-shot server on a free port: the keys are fetched,
// a non-200 answer and an unreachable server are auth_keys_unavailable naming the URL.
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <thread>

#include "auth/errors.h"
#include "auth/key_provider.h"
#include "support/test_tokens.h"

namespace sc::test {
using namespace sc::auth;
namespace {

namespace net = boost::asio;

// Accepts one connection, reads the request head, writes `response`, closes.
class OneShotServer {
 public:
  explicit OneShotServer(std::string response)
      : acceptor_(io_, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        response_(std::move(response)) {
    thread_ = std::thread([this] {
      net::ip::tcp::socket s(io_);
      acceptor_.accept(s);
      net::streambuf buf;
      net::read_until(s, buf, "\r\n\r\n");
      net::write(s, net::buffer(response_));
    });
  }
  ~OneShotServer() { thread_.join(); }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/jwks";
  }

 private:
  net::io_context io_;
  net::ip::tcp::acceptor acceptor_;
  std::string response_;
  std::thread thread_;
};

std::string httpResponse(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}

TEST(JwksUrl, FetchesTheKeysOverHttp) {
  test::TestKey k = test::TestKey::ec("url-1");
  OneShotServer server(httpResponse(200, test::jwks({&k})));
  auto text = jwksUrlLoader(server.url())();
  ASSERT_TRUE(text) << text.error().message;
  auto set = KeySet::parseJwks(*text);
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_NE(set->find("url-1"), nullptr);
}

TEST(JwksUrl, ANon200AnswerIsUnavailable) {
  OneShotServer server(httpResponse(500, "oops"));
  auto text = jwksUrlLoader(server.url())();
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, kKeysUnavailable);
  EXPECT_NE(text.error().message.find("500"), std::string::npos);
}

TEST(JwksUrl, AnUnreachableServerOrABadUrlIsAnErrorNamingIt) {
  auto down = jwksUrlLoader("http://127.0.0.1:1/jwks")();
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, kKeysUnavailable);
  EXPECT_NE(down.error().message.find("127.0.0.1:1"), std::string::npos);
  EXPECT_FALSE(jwksUrlLoader("ftp://x/jwks")());
}

}  // namespace
}  // namespace sc::test

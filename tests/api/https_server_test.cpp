// The HTTP layer over TLS: a CA and server certificate made at test time (support/test_tls.h), a
// client that verifies them, and what happens to clients that cannot or do not speak TLS.
#include <fstream>
#include <future>
#include <memory>

#include "api/test_server.h"
#include "support/test_tls.h"

namespace sc::test {
namespace {

using namespace std::chrono_literals;

class HttpsServerTest : public ApiServerTest {
 protected:
  void SetUp() override {
    ApiServerTest::SetUp();
    options.tls_cert_file = pki.certChainFile();
    options.tls_key_file = pki.keyFile();
  }
  void TearDown() override {
    clients.clear();  // their close_notify first: the server has no idle connection to wait for
    ApiServerTest::TearDown();
  }

  // A client that trusts the test CA and checks the certificate names `server_name`.
  HttpClient& https(const std::string& server_name = "") {
    return trusting(pki.caFile(), server_name);
  }
  HttpClient& trusting(const std::string& ca_file, const std::string& server_name = "") {
    if (!server) start();
    clients.push_back(std::make_unique<HttpClient>(
        server->port(), TlsClientOptions{.ca_file = ca_file, .server_name = server_name}));
    return *clients.back();
  }
  // The message of what `f` throws ("" when it does not throw).
  template <class F>
  static std::string thrown(F f) {
    try {
      f();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }
  std::string writeFile(const std::string& name, const std::string& text) {
    const std::string path = pki.dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  TestPki pki;
  std::vector<std::unique_ptr<HttpClient>> clients;
};

TEST_F(HttpsServerTest, TlsHealthAndAJsonPostSucceedWithAVerifiedCertificate) {
  auto& client = https();
  auto health = client.get("/health");
  EXPECT_EQ(health.status, 200u) << health.body;
  EXPECT_TRUE(health.keep_alive);
  auto created = client.post("/trades", tradeJson("trd_tls"));
  EXPECT_EQ(created.status, 201u) << created.body;
  EXPECT_FALSE(created.json().value("settlement_id", "").empty()) << created.body;
  EXPECT_EQ(client.get("/settlements/" + created.json().value("settlement_id", "")).status, 200u);
  EXPECT_EQ(client.connectCount(), 1);  // keep-alive over one TLS connection
  // The certificate names localhost too (SNI and host name check on a DNS name).
  EXPECT_EQ(https("localhost").get("/health").status, 200u);
}

TEST_F(HttpsServerTest, TlsAClientThatDoesNotTrustTheCaFailsTheHandshake) {
  start();
  TestPki other("another CA");
  auto other_ca = thrown([&] { trusting(other.caFile()).get("/health"); });
  EXPECT_NE(other_ca.find("certificate verify failed"), std::string::npos) << other_ca;
  auto no_ca = thrown([&] { trusting("").get("/health"); });
  EXPECT_NE(no_ca.find("certificate verify failed"), std::string::npos) << no_ca;
  // The right CA, the wrong name.
  auto wrong_name = thrown([&] { https("elsewhere.example").get("/health"); });
  EXPECT_NE(wrong_name.find("certificate verify failed"), std::string::npos) << wrong_name;
  EXPECT_EQ(https().get("/health").status, 200u);
}

TEST_F(HttpsServerTest, TlsPlainHttpToTheTlsPortGetsNoHttpAnswerAndCountsAProtocolError) {
  auto& established = https();
  EXPECT_EQ(established.get("/health").status, 200u);
  const auto before = server->metrics().protocol_errors.value();

  HttpClient plain(server->port());
  plain.sendRaw("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_FALSE(plain.readResponse());  // closed without an answer
  EXPECT_EQ(server->metrics().protocol_errors.value(), before + 1);

  // Neither the established connection nor new ones are disturbed.
  EXPECT_EQ(established.get("/health").status, 200u);
  EXPECT_EQ(established.connectCount(), 1);
  EXPECT_EQ(https().get("/health").status, 200u);
}

TEST_F(HttpsServerTest, TlsStartThrowsNamingAnUnreadableOrGarbageFile) {
  start();  // for the router
  const std::string garbage = writeFile("garbage.pem", "not a PEM file\n");
  const std::string missing = pki.dir() + "/missing-key.pem";
  auto startWith = [&](const std::string& cert, const std::string& key) {
    api::HttpServerOptions o;
    o.bind_address = "127.0.0.1";
    o.port = 0;
    o.tls_cert_file = cert;
    o.tls_key_file = key;
    api::HttpServer s(o, api->router());
    return thrown([&] { s.start(); });
  };
  auto garbage_key = startWith(pki.certChainFile(), garbage);
  EXPECT_NE(garbage_key.find(garbage), std::string::npos) << garbage_key;
  auto missing_key = startWith(pki.certChainFile(), missing);
  EXPECT_NE(missing_key.find(missing), std::string::npos) << missing_key;
  auto garbage_cert = startWith(garbage, pki.keyFile());
  EXPECT_NE(garbage_cert.find(garbage), std::string::npos) << garbage_cert;
  TestPki other("another CA");  // a key that does not match the certificate
  auto mismatch = startWith(pki.certChainFile(), other.keyFile());
  EXPECT_NE(mismatch.find(other.keyFile()), std::string::npos) << mismatch;
}

TEST_F(HttpsServerTest, TlsHandshakeIsBoundedByTheReadTimeout) {
  options.read_timeout = 1s;
  start();
  const auto before = server->metrics().timeouts.value();
  HttpClient silent(server->port());  // connects over TCP, never says hello
  silent.connect();
  EXPECT_TRUE(silent.waitForServerClose(10s));
  server->stop();  // the timeout closes the socket before it is counted: wait for the count
  EXPECT_EQ(server->metrics().timeouts.value(), before + 1);
}

TEST_F(HttpsServerTest, TlsOversizedBodyIs413AndClosesTheConnection) {
  options.max_body_bytes = 1024;
  auto& client = https();
  auto r = client.post("/trades", std::string(256 * 1024, 'x'));
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.json()["error"]["code"], "payload_too_large");
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(https().post("/trades", std::string(1000, 'x')).json()["error"]["code"],
            "invalid_json");
}

TEST_F(HttpsServerTest, TlsConnectionsOverTheLimitAreAnswered503) {
  options.max_connections = 1;
  auto& held = https();
  EXPECT_EQ(held.get("/health").status, 200u);  // the one connection allowed, kept alive
  auto refused = https().get("/health");
  EXPECT_EQ(refused.status, 503u);
  EXPECT_EQ(refused.json()["error"]["code"], "too_many_connections");
  EXPECT_FALSE(refused.keep_alive);
}

TEST_F(HttpsServerTest, TlsStopClosesAnIdleConnectionAndIsPrompt) {
  auto& idle = https();
  EXPECT_EQ(idle.get("/health").status, 200u);  // now an idle keep-alive TLS connection
  auto stopping = std::async(std::launch::async, [this] { server->stop(); });
  EXPECT_TRUE(idle.waitForServerClose(5s));
  EXPECT_EQ(stopping.wait_for(5s), std::future_status::ready);
}

}  // namespace
}  // namespace sc::test

// PostgreSQL over TLS with the application's own connection string (Config::postgresConnInfo):
// DB_SSLMODE=verify-full against the test CA of scripts/pg connects, as the TLS-only role sc_tls
// with DB_PASSWORD_FILE; a CA that did not sign the server's certificate, or a host name the
// certificate does not name, is refused before any password is sent. Needs the DB_TEST_TLS_*
// variables that ./scripts/test exports from `scripts/pg start`.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "app/config.h"
#include "store/pg.h"

namespace sc::test {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

class DbTls : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* n : {"DB_HOST", "DB_PORT", "DB_TEST_SSLROOTCERT", "DB_TEST_WRONG_SSLROOTCERT",
                          "DB_TEST_TLS_USER", "DB_TEST_TLS_PASSWORD_FILE", "DB_TEST_TLS_DB_NAME"})
      ASSERT_FALSE(env(n).empty()) << n << " is not set: run through ./scripts/test, or export "
                                   << "the output of `./scripts/pg start`";
  }
  // The service's settings for the sc_tls role, with `overrides`.
  static std::string connInfo(std::map<std::string, std::string> overrides) {
    std::map<std::string, std::string> e = {{"DB_HOST", env("DB_HOST")},
                                            {"DB_PORT", env("DB_PORT")},
                                            {"DB_NAME", env("DB_TEST_TLS_DB_NAME")},
                                            {"DB_USER", env("DB_TEST_TLS_USER")},
                                            {"DB_PASSWORD_FILE", env("DB_TEST_TLS_PASSWORD_FILE")},
                                            {"DB_SSLMODE", "verify-full"},
                                            {"DB_SSLROOTCERT", env("DB_TEST_SSLROOTCERT")}};
    for (auto& [k, v] : overrides) e[k] = v;
    return app::Config::fromEnvironment(e).postgresConnInfo();
  }
};

TEST_F(DbTls, VerifyFullAgainstTheTestCaConnectsOverTls) {
  auto c = store::pg::Connection::connect(connInfo({}));
  ASSERT_TRUE(c.ok()) << c.error().message;
  auto r = (*c)->exec("SELECT ssl::text, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1);
  EXPECT_EQ(r->text(0, 0), "true");
  EXPECT_EQ(std::string(r->text(0, 1)).rfind("TLSv1.", 0), 0u) << r->text(0, 1);
}

TEST_F(DbTls, AServerCertificateFromAnotherCaIsRefused) {
  auto c = store::pg::Connection::connect(
      connInfo({{"DB_SSLROOTCERT", env("DB_TEST_WRONG_SSLROOTCERT")}}));
  ASSERT_FALSE(c.ok()) << "connected although the CA did not sign the server's certificate";
  EXPECT_NE(c.error().message.find("certificate verify failed"), std::string::npos)
      << c.error().message;
}

TEST_F(DbTls, AHostNameTheCertificateDoesNotNameIsRefused) {
  // The certificate names localhost and 127.0.0.1; libpq connects to DB_HOST's address (hostaddr)
  // but checks the certificate against the name asked for.
  auto c = store::pg::Connection::connect(connInfo({{"DB_HOST", "db.example.invalid"}}) +
                                          " hostaddr=" + env("DB_HOST"));
  ASSERT_FALSE(c.ok()) << "verify-full accepted a certificate for another host";
  EXPECT_NE(c.error().message.find("does not match host name"), std::string::npos)
      << c.error().message;
}

TEST_F(DbTls, TheTlsOnlyRoleCannotLogInWithoutTls) {
  auto c =
      store::pg::Connection::connect(connInfo({{"DB_SSLMODE", "disable"}, {"DB_SSLROOTCERT", ""}}));
  ASSERT_FALSE(c.ok()) << "sc_tls logged in without TLS";
}

}  // namespace
}  // namespace sc::test

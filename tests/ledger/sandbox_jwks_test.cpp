// The sandbox checking RS256/ES256 ledger API tokens as a participant configured with a JWKS (or a
// PEM certificate / public key) does: real keys made here, Canton's token format (aud = this
// participant, sub = user, scope daml_ledger_api), src/auth's verifier behind the sandbox's
// TokenVerifier, and the user rights still deciding what a verified user may do.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <functional>

#include "auth/key_provider.h"
#include "ledger/daml_json.h"
#include "ledger/sandbox/jwks_verifier.h"
#include "ledger/sandbox/sandbox.h"
#include "ledger_test_util.h"
#include "test_tokens.h"

namespace sc::test {
namespace {

using namespace sc::ledger;
using nlohmann::json;
using sandbox::HttpReply;
using sandbox::HttpRequest;
using sandbox::Sandbox;

const TestKey& rsaKey() {
  static TestKey k = TestKey::rsa("rsa-1");
  return k;
}
const TestKey& ecKey() {
  static TestKey k = TestKey::ec("ec-1");
  return k;
}

std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> privateKey(const TestKey& k) {
  const std::string pem = k.privatePem();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                BIO_free);
  return {PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free};
}

std::string pemOf(const std::function<int(BIO*)>& write) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (write(bio.get()) != 1) ADD_FAILURE() << "cannot write PEM";
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// "-----BEGIN PUBLIC KEY-----" of a test key.
std::string publicKeyPem(const TestKey& k) {
  auto key = privateKey(k);
  return pemOf([&](BIO* b) { return PEM_write_bio_PUBKEY(b, key.get()); });
}

// A self-signed X.509 certificate of a test key (what Canton's jwt-rs-256-crt reads).
std::string certificatePem(const TestKey& k) {
  auto key = privateKey(k);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("sandbox-test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) ADD_FAILURE() << "cannot sign";
  return pemOf([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SandboxJwks : public ::testing::Test {
 protected:
  static constexpr const char* kSecret = "dev-secret-0123456789";

  // A sandbox verifying with `keys` (and HS256 with kSecret when `with_secret`).
  void open(auth::KeyProvider::Loader loader, bool with_secret = false) {
    sandbox_.reset();
    keys_ = std::make_shared<auth::KeyProvider>(std::move(loader), "test keys", clock_);
    Sandbox::Options so;
    so.data_dir = dir_.path();
    so.durable = false;
    so.hs256_secret = kSecret;  // makeToken's, for the HS256 cases
    so.verifier =
        std::make_shared<sandbox::JwksVerifier>(keys_, with_secret ? kSecret : std::string());
    auto s = Sandbox::open(so);
    ASSERT_TRUE(s) << s.error().message;
    sandbox_ = std::move(*s);
  }
  void openWithJwks(const std::vector<const TestKey*>& keys, bool with_secret = false) {
    const std::string path = dir_.path() + "/jwks.json";
    std::ofstream(path) << test::jwks(keys);
    open(auth::jwksFileLoader(path), with_secret);
  }
  void openWithPem(const std::string& pem) {
    const std::string path = dir_.path() + "/key.pem";
    std::ofstream(path) << pem;
    open(sandbox::pemFileLoader(path));
  }

  // Canton's audience-based claims for `user`.
  json claims(const std::string& user = "settlement-coordinator") const {
    return json{{"aud", sandbox_->audience()},
                {"sub", user},
                {"scope", "daml_ledger_api"},
                {"exp", nowSeconds() + 600}};
  }
  HttpReply call(const std::string& token, const std::string& method = "GET",
                 const std::string& target = "/v2/authenticated-user", const json& body = nullptr) {
    return sandbox_->handle(
        HttpRequest{method, target, "Bearer " + token, body.is_null() ? "" : body.dump()});
  }
  // 401 with a JsCantonError UNAUTHENTICATED whose cause contains `why`.
  void expectUnauthenticated(const std::string& token, const std::string& why) {
    HttpReply r = call(token);
    EXPECT_EQ(r.status, 401) << r.body;
    auto body = json::parse(r.body, nullptr, false);
    auto err = daml::parseCantonError(body);
    ASSERT_TRUE(err) << r.body;
    EXPECT_EQ(err->code, daml::kUnauthenticated);
    EXPECT_EQ(err->category(), daml::Category::kAuthInterceptorInvalidAuthenticationCredentials);
    EXPECT_NE(err->cause.find(why), std::string::npos) << err->cause;
  }

  TempDir dir_;
  SystemClock clock_;
  std::shared_ptr<auth::KeyProvider> keys_;
  std::unique_ptr<Sandbox> sandbox_;
};

TEST_F(SandboxJwks, AcceptsAnRs256TokenFromTheJwksAndTheUserRightsStillDecide) {
  openWithJwks({&rsaKey(), &ecKey()});
  auto me = call(rsaKey().token(claims()));
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_NE(me.body.find("settlement-coordinator"), std::string::npos) << me.body;

  // A user with CanReadAs only: verified, but may not allocate parties (ParticipantAdmin).
  auto created =
      call(rsaKey().token(claims()), "POST", "/v2/users",
           json{{"user", {{"id", "reader"}}},
                {"rights",
                 {{{"kind", {{"CanReadAs", {{"value", {{"party", "cash-provider::67890"}}}}}}}}}}});
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string reader = rsaKey().token(claims("reader"));
  EXPECT_EQ(call(reader).status, 200);
  auto denied = call(reader, "POST", "/v2/parties", json{{"partyIdHint", "alice"}});
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_NE(denied.body.find("PERMISSION_DENIED"), std::string::npos) << denied.body;
  auto granted =
      call(rsaKey().token(claims()), "POST", "/v2/users/reader/rights",
           json{{"userId", "reader"},
                {"rights", {{{"kind", {{"ParticipantAdmin", {{"value", json::object()}}}}}}}}});
  ASSERT_EQ(granted.status, 200) << granted.body;
  auto allowed = call(reader, "POST", "/v2/parties", json{{"partyIdHint", "alice"}});
  EXPECT_EQ(allowed.status, 200) << allowed.body;
  // A verified token for a user the participant does not know.
  EXPECT_EQ(call(rsaKey().token(claims("nobody"))).status, 403);
}

TEST_F(SandboxJwks, AcceptsAnEs256TokenFromTheJwks) {
  openWithJwks({&rsaKey(), &ecKey()});
  auto me = call(ecKey().token(claims()));
  EXPECT_EQ(me.status, 200) << me.body;
}

TEST_F(SandboxJwks, RefusesATokenSignedByAKeyNotInTheJwksWith401AndAJsCantonError) {
  openWithJwks({&rsaKey(), &ecKey()});
  TestKey impostor = TestKey::rsa("rsa-1");  // the JWKS's kid, another key
  expectUnauthenticated(impostor.token(claims()), "bad_signature");
  TestKey stranger = TestKey::ec("ec-9");  // a kid the JWKS does not have
  expectUnauthenticated(stranger.token(claims()), "unknown_kid");
}

TEST_F(SandboxJwks, RefusesAlgNoneAndHs256SignedWithThePublicKey) {
  openWithJwks({&rsaKey()}, /*with_secret=*/true);
  const std::string unsigned_token =
      test::assembleToken(json{{"alg", "none"}, {"typ", "JWT"}}, claims(), "x");
  expectUnauthenticated(unsigned_token, "alg_none_refused");
  // The public key (as PEM and as its JWK) used as the HMAC secret: never verified as HS256 with
  // a public key; with the development secret configured it is simply a wrong signature.
  for (const std::string& pub : {publicKeyPem(rsaKey()), rsaKey().jwk().dump()}) {
    expectUnauthenticated(test::hs256Token(pub, json{{"alg", "HS256"}, {"kid", "rsa-1"}}, claims()),
                          "bad_signature");
  }
  // The development secret's own tokens still pass next to the JWKS.
  EXPECT_EQ(call(sandbox_->makeToken("settlement-coordinator", 60)).status, 200);
}

TEST_F(SandboxJwks, RefusesHs256OutrightWithoutADevelopmentSecret) {
  openWithJwks({&rsaKey()});
  expectUnauthenticated(
      test::hs256Token(publicKeyPem(rsaKey()), json{{"alg", "HS256"}, {"kid", "rsa-1"}}, claims()),
      "alg_key_mismatch");
  expectUnauthenticated(sandbox_->makeToken("settlement-coordinator", 60), "alg_key_mismatch");
}

// The same claim rules as the HS256 path: aud, scope, sub and exp when present; no iss needed.
TEST_F(SandboxJwks, KeepsCantonsClaimRules) {
  openWithJwks({&rsaKey()});
  json c = claims();
  c.erase("exp");
  EXPECT_EQ(call(rsaKey().token(c)).status, 200) << "a token without exp does not expire";
  c = claims();
  c["iss"] = "https://any-issuer.test";
  EXPECT_EQ(call(rsaKey().token(c)).status, 200);
  c = claims();
  c["scope"] = "openid profile";
  expectUnauthenticated(rsaKey().token(c), "daml_ledger_api");
  c.erase("scope");
  expectUnauthenticated(rsaKey().token(c), "daml_ledger_api");
  c = claims();
  c["aud"] = "https://daml.com/jwt/aud/participant/another";
  expectUnauthenticated(rsaKey().token(c), "wrong_audience");
  c.erase("aud");
  expectUnauthenticated(rsaKey().token(c), "aud");
  c = claims();
  c["exp"] = nowSeconds() - 5;
  expectUnauthenticated(rsaKey().token(c), "expired");
  c = claims();
  c.erase("sub");
  expectUnauthenticated(rsaKey().token(c), "sub");
}

TEST_F(SandboxJwks, VerifiesAgainstAPemCertificateOrPublicKey) {
  openWithPem(certificatePem(rsaKey()));
  const json no_kid{{"kid", nullptr}};
  auto ok = call(rsaKey().token(claims(), no_kid));
  EXPECT_EQ(ok.status, 200) << ok.body;
  expectUnauthenticated(TestKey::rsa("").token(claims(), no_kid), "bad_signature");
  expectUnauthenticated(ecKey().token(claims(), no_kid), "alg_key_mismatch");

  openWithPem(publicKeyPem(ecKey()));
  ok = call(ecKey().token(claims(), no_kid));
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(SandboxPemKeys, RefusesWhatIsNotAnRsaOrP256PublicKey) {
  EXPECT_FALSE(sandbox::pemToJwks("not a pem"));
  auto p384 = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"), EVP_PKEY_free);
  auto pem = pemOf([&](BIO* b) { return PEM_write_bio_PUBKEY(b, p384.get()); });
  auto jwks = sandbox::pemToJwks(pem);
  ASSERT_FALSE(jwks);
  EXPECT_NE(jwks.error().message.find("P-256"), std::string::npos) << jwks.error().message;
  auto rsa = sandbox::pemToJwks(publicKeyPem(rsaKey()));
  ASSERT_TRUE(rsa) << rsa.error().message;
  EXPECT_EQ(json::parse(*rsa)["keys"][0]["n"], rsaKey().jwk()["n"]);
}

}  // namespace
}  // namespace sc::test

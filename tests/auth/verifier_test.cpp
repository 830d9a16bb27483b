// The JWT verifier against real RSA and P-256 keys made here: good tokens pass with their roles and
// accounts; every hostile token of issue 11 is refused with its own reason code.
#include "auth/verifier.h"

#include <gtest/gtest.h>

#include <limits>

#include "auth/errors.h"
#include "support/fake_clock.h"
#include "support/test_tokens.h"

namespace sc::test {
using namespace sc::auth;
namespace {

using nlohmann::json;
using test::TestKey;

constexpr const char* kIss = "https://issuer.test";
constexpr const char* kAud = "settlement-coordinator";

class VerifierTest : public ::testing::Test {
 protected:
  static const TestKey& rsa() {
    static TestKey k = TestKey::rsa("rsa-1");
    return k;
  }
  static const TestKey& ec() {
    static TestKey k = TestKey::ec("ec-1");
    return k;
  }
  static const TestKey& other() {
    static TestKey k = TestKey::rsa("rsa-1");  // same kid, another key
    return k;
  }

  std::shared_ptr<KeyProvider> provider(std::string doc) {
    jwks_ = std::move(doc);
    return std::make_shared<KeyProvider>(
        [this]() -> Result<std::string> {
          ++fetches_;
          return jwks_;
        },
        "test JWKS", clock_);
  }
  Verifier verifier(std::shared_ptr<KeyProvider> keys, std::string hs_secret = {}) {
    VerifierOptions o;
    o.issuer = kIss;
    o.audience = kAud;
    o.leeway = std::chrono::seconds(30);
    o.hs256_secret = std::move(hs_secret);
    return Verifier(o, std::move(keys), clock_);
  }
  json claims(std::vector<std::string> roles = {"auditor"}) {
    int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
    return json{{"iss", kIss}, {"aud", kAud},      {"sub", "alice"},
                {"iat", now},  {"exp", now + 600}, {"roles", roles}};
  }
  void expectRefused(const Verifier& v, const std::string& token, std::string_view code) {
    auto p = v.verify(token);
    ASSERT_FALSE(p) << "token accepted: " << token;
    EXPECT_EQ(p.error().code, code) << p.error().message;
  }

  FakeClock clock_{Timestamp(std::chrono::seconds(1'800'000'000))};
  std::string jwks_;
  int fetches_ = 0;
};

TEST_F(VerifierTest, AcceptsRs256AndEs256WithRolesAndAccounts) {
  auto v = verifier(provider(test::jwks({&rsa(), &ec()})));
  json c = claims({"account_holder", "auditor"});
  c["accounts"] = {"ACC-1", "ACC-2"};
  for (const TestKey* k : {&rsa(), &ec()}) {
    auto p = v.verify(k->token(c));
    ASSERT_TRUE(p) << k->alg() << ": " << p.error().message;
    EXPECT_EQ(p->subject, "alice");
    EXPECT_TRUE(p->hasRole("account_holder"));
    EXPECT_TRUE(p->hasRole("auditor"));
    EXPECT_FALSE(p->hasRole("operator"));
    EXPECT_TRUE(p->hasAccount("ACC-2"));
    EXPECT_FALSE(p->hasAccount("ACC-3"));
  }
}

TEST_F(VerifierTest, AcceptsAnAudienceListAndASingleKeyWithoutKid) {
  auto v = verifier(provider(test::jwks({&ec()})));
  json c = claims();
  c["aud"] = {"other", kAud};
  EXPECT_TRUE(v.verify(ec().token(c, json{{"kid", nullptr}})));
}

TEST_F(VerifierTest, ReadsRolesFromANestedConfiguredClaim) {
  VerifierOptions o;
  o.issuer = kIss;
  o.audience = kAud;
  o.roles_claim = "realm_access.roles";
  Verifier v(o, provider(test::jwks({&rsa()})), clock_);
  json c = claims({});
  c.erase("roles");
  c["realm_access"] = {{"roles", {"operator"}}};
  auto p = v.verify(rsa().token(c));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->hasRole("operator"));
}

TEST_F(VerifierTest, RefusesAlgNoneInAnySpelling) {
  auto v = verifier(provider(test::jwks({&rsa()})));
  for (const char* alg : {"none", "None", "NONE"}) {
    std::string t = test::assembleToken(json{{"alg", alg}, {"kid", "rsa-1"}}, claims(), "");
    expectRefused(v, t, kAlgNone);
    expectRefused(v, t + "x", kAlgNone);
  }
}

TEST_F(VerifierTest, RefusesHmacSignedWithThePublicKey) {
  // The classic confusion: HS256 with the RSA public key's bytes as the secret.
  auto v = verifier(provider(test::jwks({&rsa()})));
  std::string pub = rsa().jwk().dump();
  expectRefused(v, test::hs256Token(pub, json{{"alg", "HS256"}, {"kid", "rsa-1"}}, claims()),
                kAlgKeyMismatch);
}

TEST_F(VerifierTest, RefusesAnAlgThatDoesNotFitTheKey) {
  auto v = verifier(provider(test::jwks({&rsa(), &ec()})));
  // ES256 header naming the RSA key (signed with the EC key).
  expectRefused(v, ec().token(claims(), json{{"kid", "rsa-1"}}), kAlgKeyMismatch);
  expectRefused(v, rsa().token(claims(), json{{"alg", "RS512"}}), kUnsupportedAlg);
  expectRefused(v, rsa().token(claims(), json{{"alg", "PS256"}}), kUnsupportedAlg);
}

TEST_F(VerifierTest, RefusesAMissingKidWhenSeveralKeysExist) {
  auto v = verifier(provider(test::jwks({&rsa(), &ec()})));
  expectRefused(v, rsa().token(claims(), json{{"kid", nullptr}}), kMissingKid);
}

TEST_F(VerifierTest, RefusesAnotherKeysSignature) {
  auto v = verifier(provider(test::jwks({&rsa()})));
  expectRefused(v, other().token(claims()), kBadSignature);
}

TEST_F(VerifierTest, RefusesATamperedPayload) {
  auto v = verifier(provider(test::jwks({&rsa()})));
  std::string t = rsa().token(claims({"auditor"}));
  size_t d1 = t.find('.'), d2 = t.rfind('.');
  std::string forged =
      t.substr(0, d1 + 1) + base64UrlEncode(claims({"operator"}).dump()) + t.substr(d2);
  expectRefused(v, forged, kBadSignature);
}

TEST_F(VerifierTest, RefusesMalformedTokens) {
  auto v = verifier(provider(test::jwks({&rsa()})));
  std::string good = rsa().token(claims());
  size_t d1 = good.find('.');
  for (std::string t :
       {std::string("abc"), std::string("a.b"), good + ".x", std::string(".."),
        "!!!." + good.substr(d1 + 1), base64UrlEncode("[1]") + good.substr(d1),
        base64UrlEncode("{\"alg\":5}") + good.substr(d1), good.substr(0, good.rfind('.') + 1),
        good + "=", std::string(Verifier::kMaxTokenBytes + 1, 'a')})
    expectRefused(v, t, kMalformedToken);
  expectRefused(v, "", kMissingToken);
  EXPECT_EQ(v.verifyAuthorization("Basic abc").error().code, kMissingToken);
  EXPECT_TRUE(v.verifyAuthorization("bearer " + good));
}

TEST_F(VerifierTest, RefusesAPayloadThatIsNotJsonEvenWhenSigned) {
  auto v = verifier(provider(test::jwks({&rsa()})));
  std::string h = base64UrlEncode(json{{"alg", "RS256"}, {"kid", "rsa-1"}}.dump());
  std::string input = h + "." + base64UrlEncode("not json");
  expectRefused(v, input + "." + base64UrlEncode(rsa().signature(input)), kMalformedToken);
}

TEST_F(VerifierTest, ChecksExpAndNbfWithTheLeeway) {
  auto v = verifier(provider(test::jwks({&rsa()})));
  int64_t now = 1'800'000'000;
  json c = claims();
  c["exp"] = now - 20;  // within 30 s leeway
  EXPECT_TRUE(v.verify(rsa().token(c)));
  c["exp"] = now - 31;
  expectRefused(v, rsa().token(c), kTokenExpired);
  c["exp"] = now + 600;
  c["nbf"] = now + 20;
  EXPECT_TRUE(v.verify(rsa().token(c)));
  c["nbf"] = now + 31;
  expectRefused(v, rsa().token(c), kTokenNotYetValid);
  c.erase("nbf");
  c.erase("exp");
  expectRefused(v, rsa().token(c), kMissingClaim);
  c["exp"] = "tomorrow";
  expectRefused(v, rsa().token(c), kInvalidClaim);
}

// Caught by tests/fuzz/jwt_fuzz's properties (corpus/jwt/regression_exp_*): exp = INT64_MAX
// overflowed exp + leeway (undefined behaviour), and an exp above INT64_MAX (valid JSON) wrapped to
// a negative date and was reported as expired.
TEST_F(VerifierTest, RefusesNumericDatesBeyondAnyRealDateWithoutOverflow) {
  auto v = verifier(provider(test::jwks({&rsa()})));
  json c = claims();
  c["exp"] = std::numeric_limits<int64_t>::max();
  expectRefused(v, rsa().token(c), kInvalidClaim);
  c["exp"] = std::numeric_limits<uint64_t>::max();
  expectRefused(v, rsa().token(c), kInvalidClaim);
  c["exp"] = int64_t{1'000'000'000'000'000};
  expectRefused(v, rsa().token(c), kInvalidClaim);
  c["exp"] = int64_t{999'999'999'999'999};  // far, but a date
  EXPECT_TRUE(v.verify(rsa().token(c)));
  c = claims();
  c["nbf"] = std::numeric_limits<int64_t>::min();
  expectRefused(v, rsa().token(c), kInvalidClaim);
}

TEST_F(VerifierTest, ChecksIssuerAudienceAndSubject) {
  auto v = verifier(provider(test::jwks({&rsa()})));
  json c = claims();
  c["iss"] = "https://evil.test";
  expectRefused(v, rsa().token(c), kWrongIssuer);
  c = claims();
  c["aud"] = {"other"};
  expectRefused(v, rsa().token(c), kWrongAudience);
  c.erase("aud");
  expectRefused(v, rsa().token(c), kMissingClaim);
  c = claims();
  c.erase("sub");
  expectRefused(v, rsa().token(c), kMissingClaim);
  c = claims();
  c["roles"] = {1, 2};
  expectRefused(v, rsa().token(c), kInvalidClaim);
}

// Canton's ledger API tokens (the ledger sandbox): no iss, exp optional; everything else holds.
TEST_F(VerifierTest, LeavesIssuerAndExpOptionalOnlyWhenTold) {
  VerifierOptions o;
  o.audience = kAud;
  o.require_issuer = false;
  o.require_exp = false;
  Verifier v(o, provider(test::jwks({&rsa()})), clock_);
  json c = claims();
  c.erase("iss");
  c.erase("exp");
  auto p = v.verify(rsa().token(c));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->expires_at, 0);
  c["iss"] = "https://any.test";
  c["exp"] = 1'800'000'000 - 31;
  expectRefused(v, rsa().token(c), kTokenExpired);
  c["exp"] = 1'800'000'600;
  p = v.verify(rsa().token(c));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->expires_at, 1'800'000'600);
  c.erase("aud");
  expectRefused(v, rsa().token(c), kMissingClaim);
  // The defaults (the API's) still require both.
  c = claims();
  c.erase("iss");
  expectRefused(verifier(provider(test::jwks({&rsa()}))), rsa().token(c), kMissingClaim);
}

TEST_F(VerifierTest, ReloadsOnAnUnknownKidAtMostOncePerInterval) {
  TestKey rotated = TestKey::ec("ec-2");
  auto keys = provider(test::jwks({&rsa()}));
  auto v = verifier(keys);
  ASSERT_TRUE(v.verify(rsa().token(claims())));
  EXPECT_EQ(fetches_, 1);
  jwks_ = test::jwks({&rsa(), &rotated});  // the issuer rotates
  clock_.advance(std::chrono::seconds(31));
  EXPECT_TRUE(v.verify(rotated.token(claims())));
  EXPECT_EQ(fetches_, 2);
  // Made-up kids: one fetch per interval, not one per token.
  for (int i = 0; i < 20; ++i)
    expectRefused(v, rotated.token(claims(), json{{"kid", "junk-" + std::to_string(i)}}),
                  kUnknownKid);
  EXPECT_EQ(fetches_, 2);
}

TEST_F(VerifierTest, KeepsOldKeysWhenAReloadFailsAndReportsNoKeysAsUnavailable) {
  auto v = verifier(provider("{\"keys\":[]}"));
  auto p = v.verify(rsa().token(claims()));
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, kKeysUnavailable);
  EXPECT_TRUE(p.error().retryable);
}

TEST_F(VerifierTest, Hs256OnlyWithTheDevelopmentSecret) {
  auto v = verifier(nullptr, "dev-secret-of-some-length");
  json h = {{"alg", "HS256"}, {"typ", "JWT"}};
  EXPECT_TRUE(v.verify(test::hs256Token("dev-secret-of-some-length", h, claims())));
  expectRefused(v, test::hs256Token("wrong", h, claims()), kBadSignature);
  expectRefused(v, rsa().token(claims()), kAlgKeyMismatch);  // no public keys configured
}

TEST(KeySet, RefusesSymmetricAndBrokenKeys) {
  EXPECT_FALSE(KeySet::parseJwks(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})"));
  EXPECT_FALSE(KeySet::parseJwks(R"({"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}]})"));
  EXPECT_FALSE(KeySet::parseJwks(R"({"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]})"));
  EXPECT_FALSE(KeySet::parseJwks("not json"));
  // A point that is not on the curve.
  std::string x = base64UrlEncode(std::string(32, '\x01')),
              y = base64UrlEncode(std::string(32, '\x02'));
  EXPECT_FALSE(KeySet::parseJwks(R"({"keys":[{"kty":"EC","crv":"P-256","x":")" + x + R"(","y":")" +
                                 y + R"("}]})"));
}

// Caught by tests/fuzz/jwt_fuzz's properties (corpus/jwt/regression_jwks_*): the modulus was
// measured in bytes, so 256 bytes with leading zero bits passed as a 2048-bit key.
TEST(KeySet, RefusesAnRsaModulusUnder2048BitsEvenIn256Bytes) {
  json jwk = TestKey::rsa("rsa-1").jwk();
  std::string n = *base64UrlDecode(jwk["n"].get<std::string>());
  ASSERT_EQ(n.size(), 256u);
  auto parse = [&](const std::string& modulus) {
    json k = jwk;
    k["n"] = base64UrlEncode(modulus);
    return KeySet::parseJwks(json{{"keys", json::array({k})}}.dump());
  };
  EXPECT_TRUE(parse(n));
  EXPECT_TRUE(parse(std::string(1, '\0') + n));  // a leading zero byte: still 2048 bits
  n[0] = '\x01';                                 // 2041 bits in 256 bytes
  auto short_key = parse(n);
  ASSERT_FALSE(short_key);
  EXPECT_EQ(short_key.error().code, "invalid_jwks");
}

TEST(Base64Url, RoundTripsAndRefusesPaddingAndOtherAlphabets) {
  for (const std::string& s :
       std::vector<std::string>{"", "f", "fo", "foo", "foob", std::string("\xff\xfe\x00", 3)})
    EXPECT_EQ(base64UrlDecode(base64UrlEncode(s)), s);
  EXPECT_FALSE(base64UrlDecode("Zg=="));
  EXPECT_FALSE(base64UrlDecode("a+b/"));
  EXPECT_FALSE(base64UrlDecode("Zh"));  // non-canonical trailing bits
}

}  // namespace
}  // namespace sc::test

#pragma once
// Real signing keys made in the test (OpenSSL): RSA-2048 and P-256 key pairs, their JWKs, and
// JWS tokens signed with them, for the verifier, API and end-to-end tests.
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

struct evp_pkey_st;

namespace sc::test {

class TestKey {
 public:
  static TestKey rsa(std::string kid);
  static TestKey ec(std::string kid);

  const std::string& kid() const { return kid_; }
  std::string alg() const { return rsa_ ? "RS256" : "ES256"; }
  nlohmann::json jwk() const;  // public part only
  // The raw JWS signature of `input` (PKCS#1 v1.5 / r||s).
  std::string signature(const std::string& input) const;
  // header defaults: {"alg": alg(), "kid": kid(), "typ": "JWT"}; entries in `header` replace them
  // (a null value removes one).
  std::string token(const nlohmann::json& payload, const nlohmann::json& header = {}) const;
  // PEM of the private key (for tools that sign with openssl).
  std::string privatePem() const;

 private:
  std::string kid_;
  bool rsa_ = true;
  std::shared_ptr<evp_pkey_st> key_;
};

std::string jwks(const std::vector<const TestKey*>& keys);
// header.payload.signature with the parts given as JSON (signature raw bytes, base64url-encoded).
std::string assembleToken(const nlohmann::json& header, const nlohmann::json& payload,
                          const std::string& raw_signature);
std::string hs256Token(const std::string& secret, const nlohmann::json& header,
                       const nlohmann::json& payload);
// Standard claims for tests: iss, aud, sub, exp = now + 1 h, iat, roles, accounts.
nlohmann::json claims(const std::string& issuer, const std::string& audience,
                      const std::string& sub, const std::vector<std::string>& roles,
                      const std::vector<std::string>& accounts = {});

// The token issuer of an end-to-end test: one ES256 key, its JWKS written to `dir`/jwks.json, the
// service environment that trusts it, and tokens it signs.
class TestIssuer {
 public:
  TestIssuer(std::string kid, std::string issuer, const std::string& dir,
             std::string audience = "settlement-coordinator");
  // AUTH_JWKS_FILE, AUTH_ISSUER and AUTH_AUDIENCE.
  std::map<std::string, std::string> serviceEnv() const;
  std::string token(const std::string& sub, const std::vector<std::string>& roles,
                    const std::vector<std::string>& accounts = {}) const;
  // {"Authorization": "Bearer <token>"}
  std::map<std::string, std::string> bearer(const std::string& sub,
                                            const std::vector<std::string>& roles,
                                            const std::vector<std::string>& accounts = {}) const;
  const TestKey& key() const { return key_; }
  const std::string& issuer() const { return issuer_; }
  const std::string& audience() const { return audience_; }

 private:
  TestKey key_;
  std::string issuer_, audience_, jwks_file_;
};

}  // namespace sc::test

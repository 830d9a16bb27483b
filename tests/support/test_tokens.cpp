#include "test_tokens.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <chrono>
#include <fstream>
#include <stdexcept>

#include "auth/jwks.h"

namespace sc::test {
TestKey TestKey::rsa(std::string kid) {
  TestKey k;
  k.kid_ = std::move(kid);
  k.rsa_ = true;
  k.key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)),
               EVP_PKEY_free);
  if (!k.key_) throw std::runtime_error("RSA keygen failed");
  return k;
}

TestKey TestKey::ec(std::string kid) {
  TestKey k;
  k.kid_ = std::move(kid);
  k.rsa_ = false;
  k.key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
  if (!k.key_) throw std::runtime_error("EC keygen failed");
  return k;
}

nlohmann::json TestKey::jwk() const {
  nlohmann::json j = auth::publicJwk(key_.get()).value();
  if (!kid_.empty()) j["kid"] = kid_;
  j["alg"] = alg();
  return j;
}

std::string TestKey::signature(const std::string& input) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
      EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) == 1) {
    sig.resize(len);
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
  }
  EVP_MD_CTX_free(ctx);
  if (sig.empty()) throw std::runtime_error("signing failed");
  if (rsa_) return sig;
  // DER ECDSA-Sig-Value → r||s
  const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  ECDSA_SIG_free(es);
  return raw;
}

std::string TestKey::token(const nlohmann::json& payload, const nlohmann::json& header) const {
  nlohmann::json h = {{"alg", alg()}, {"typ", "JWT"}};
  if (!kid_.empty()) h["kid"] = kid_;
  if (header.is_object())
    for (auto it = header.begin(); it != header.end(); ++it) {
      if (it->is_null())
        h.erase(it.key());
      else
        h[it.key()] = *it;
    }
  std::string input = auth::base64UrlEncode(h.dump()) + "." + auth::base64UrlEncode(payload.dump());
  return input + "." + auth::base64UrlEncode(signature(input));
}

std::string TestKey::privatePem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string jwks(const std::vector<const TestKey*>& keys) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto* k : keys) list.push_back(k->jwk());
  return nlohmann::json{{"keys", list}}.dump();
}

std::string assembleToken(const nlohmann::json& header, const nlohmann::json& payload,
                          const std::string& raw_signature) {
  return auth::base64UrlEncode(header.dump()) + "." + auth::base64UrlEncode(payload.dump()) + "." +
         auth::base64UrlEncode(raw_signature);
}

std::string hs256Token(const std::string& secret, const nlohmann::json& header,
                       const nlohmann::json& payload) {
  std::string input =
      auth::base64UrlEncode(header.dump()) + "." + auth::base64UrlEncode(payload.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + auth::base64UrlEncode(std::string(reinterpret_cast<const char*>(mac), len));
}

nlohmann::json claims(const std::string& issuer, const std::string& audience,
                      const std::string& sub, const std::vector<std::string>& roles,
                      const std::vector<std::string>& accounts) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  nlohmann::json c = {{"iss", issuer}, {"aud", audience},   {"sub", sub},
                      {"iat", now},    {"exp", now + 3600}, {"roles", roles}};
  if (!accounts.empty()) c["accounts"] = accounts;
  return c;
}

TestIssuer::TestIssuer(std::string kid, std::string issuer, const std::string& dir,
                       std::string audience)
    : key_(TestKey::ec(std::move(kid))),
      issuer_(std::move(issuer)),
      audience_(std::move(audience)),
      jwks_file_(dir + "/jwks.json") {
  std::ofstream out(jwks_file_);
  out << jwks({&key_});
  if (!out.flush()) throw std::runtime_error("cannot write " + jwks_file_);
}

std::map<std::string, std::string> TestIssuer::serviceEnv() const {
  return {{"AUTH_JWKS_FILE", jwks_file_}, {"AUTH_ISSUER", issuer_}, {"AUTH_AUDIENCE", audience_}};
}

std::string TestIssuer::token(const std::string& sub, const std::vector<std::string>& roles,
                              const std::vector<std::string>& accounts) const {
  return key_.token(claims(issuer_, audience_, sub, roles, accounts));
}

std::map<std::string, std::string> TestIssuer::bearer(
    const std::string& sub, const std::vector<std::string>& roles,
    const std::vector<std::string>& accounts) const {
  return {{"Authorization", "Bearer " + token(sub, roles, accounts)}};
}

}  // namespace sc::test

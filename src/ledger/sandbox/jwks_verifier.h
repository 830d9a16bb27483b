#pragma once
// RS256/ES256 ledger API tokens, checked as a participant configured with a JWKS or a certificate
// checks them. The signature, algorithm and standard claims are src/auth's Verifier (keys from a
// JWKS file or URL through auth::KeyProvider, or from one PEM certificate or public key); on top
// of it the claim rules of Hs256Verifier: `aud` is this participant, `scope` includes
// daml_ledger_api, `sub` is the ledger user, `exp` checked when present, no `iss` required.
// Given the development secret as well, HS256 tokens signed with it pass too (never HS256 with a
// public key: the algorithm-confusion attack). Thread-safe (the KeyProvider guards its cache).
#include <memory>
#include <string>
#include <string_view>

#include "auth/key_provider.h"
#include "ledger/sandbox/jwt.h"

namespace sc::ledger::sandbox {

class JwksVerifier final : public TokenVerifier {
 public:
  // `hs256_secret` empty: public-key tokens only.
  explicit JwksVerifier(std::shared_ptr<auth::KeyProvider> keys, std::string hs256_secret = {});
  Result<TokenClaims> verify(const std::string& token, const std::string& audience,
                             int64_t now) const override;

 private:
  std::shared_ptr<auth::KeyProvider> keys_;
  std::string hs256_secret_;
};

// A PEM X.509 certificate or public key (RSA, or EC on P-256) as a one-key JWKS document without
// a kid: tokens for it carry no kid (one that names a kid is refused as unknown_kid).
// Error: invalid_key naming what is wrong.
Result<std::string> pemToJwks(std::string_view pem);
// An auth::KeyProvider loader reading such a PEM file (re-read when the provider reloads).
auth::KeyProvider::Loader pemFileLoader(std::string path);

}  // namespace sc::ledger::sandbox

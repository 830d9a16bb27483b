#pragma once
// Ledger API tokens in Canton's audience-based format (`aud`, `sub` = user id, `scope` =
// "daml_ledger_api", `exp`), signed HS256 with a shared secret. HS256 is for development and
// tests only, as on a participant; RS256/ES256 tokens are JwksVerifier's (jwks_verifier.h).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "domain/result.h"

namespace sc::ledger::sandbox {

inline constexpr const char* kLedgerApiScope = "daml_ledger_api";

struct TokenClaims {
  std::string user_id;     // sub
  std::string audience;    // aud
  int64_t expires_at = 0;  // exp, seconds since the epoch (0 = no expiry)
};

// A signed token "<header>.<claims>.<signature>" (base64url).
std::string signHs256(const std::string& secret, const TokenClaims& claims);
// Verifies signature, algorithm, scope, audience (when `audience` is non-empty) and expiry
// against `now` (seconds since the epoch). The error names what is wrong.
Result<TokenClaims> verifyHs256(const std::string& token, const std::string& secret,
                                const std::string& audience, int64_t now);

// The sandbox's one point of token verification (Sandbox::Options::verifier): a participant
// checks signature, algorithm, scope, audience and expiry. Hs256Verifier is the development one;
// JwksVerifier (RS256/ES256, JWKS or PEM keys) drops in behind the same call.
class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  virtual Result<TokenClaims> verify(const std::string& token, const std::string& audience,
                                     int64_t now) const = 0;
};

class Hs256Verifier final : public TokenVerifier {
 public:
  explicit Hs256Verifier(std::string secret) : secret_(std::move(secret)) {}
  Result<TokenClaims> verify(const std::string& token, const std::string& audience,
                             int64_t now) const override {
    return verifyHs256(token, secret_, audience, now);
  }

 private:
  std::string secret_;
};

std::string base64UrlEncode(const std::string& bytes);
Result<std::string> base64UrlDecode(const std::string& text);

}  // namespace sc::ledger::sandbox

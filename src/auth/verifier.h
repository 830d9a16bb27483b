#pragma once
// JWT bearer-token verification (DESIGN §10): a JWS compact token signed RS256 or ES256 by a key
// of the KeyProvider (or HS256 with a development secret, never with a JWKS key), iss = issuer,
// aud contains audience, exp required and nbf honoured with `leeway`, sub required. Every refusal
// is an Error whose code is one of auth/errors.h (401 in the API, except auth_keys_unavailable).
// Stateless apart from the KeyProvider; thread-safe.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/key_provider.h"

namespace sc::auth {

struct Principal {
  std::string subject;                // sub: the actor in the audit log
  std::vector<std::string> roles;     // from the roles claim
  std::vector<std::string> accounts;  // from the accounts claim (account_holder)
  int64_t expires_at = 0;             // exp (seconds since the epoch); 0 when the token has none

  bool hasRole(std::string_view role) const;
  bool hasAccount(std::string_view account_id) const;
};

struct VerifierOptions {
  std::string issuer;                          // AUTH_ISSUER
  std::string audience;                        // AUTH_AUDIENCE
  Duration leeway = std::chrono::seconds(30);  // AUTH_LEEWAY_SECONDS
  std::string roles_claim = "roles";           // AUTH_ROLES_CLAIM (dots walk into objects)
  std::string accounts_claim = "accounts";     // AUTH_ACCOUNTS_CLAIM
  std::string hs256_secret;                    // AUTH_HS256_SECRET_FILE's content (development)
  // Canton's ledger API tokens (the ledger sandbox) need neither: false leaves iss unchecked, and
  // lets a token without exp never expire (one with exp is still checked). The API keeps both.
  bool require_issuer = true;
  bool require_exp = true;
};

class Verifier {
 public:
  static constexpr size_t kMaxTokenBytes = 16 * 1024;

  // `keys` may be null when only the HS256 development secret is configured.
  Verifier(VerifierOptions options, std::shared_ptr<KeyProvider> keys, const Clock& clock);

  Result<Principal> verify(std::string_view token) const;
  // "Bearer <token>" (scheme case-insensitive); missing_token when absent or another scheme.
  Result<Principal> verifyAuthorization(std::string_view header) const;

 private:
  Result<void> checkSignature(const std::string& alg, const std::string& kid, bool has_kid,
                              std::string_view input, std::string_view sig) const;

  VerifierOptions options_;
  std::shared_ptr<KeyProvider> keys_;
  const Clock& clock_;
};

}  // namespace sc::auth

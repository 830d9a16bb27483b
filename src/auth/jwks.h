#pragma once
// Public keys from a JWKS document (RFC 7517): RSA keys (kty RSA, n/e) for RS256 and P-256 keys
// (kty EC, crv P-256, x/y) for ES256, each built into an OpenSSL EVP_PKEY. Symmetric ("oct") keys
// are refused: a JWKS is public, and HS256 with a public key is the algorithm-confusion attack.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/result.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace sc::auth {

// base64url without padding (RFC 7515 §2); decoding refuses padding and any other character.
std::string base64UrlEncode(std::string_view bytes);
std::optional<std::string> base64UrlDecode(std::string_view text);

enum class KeyType { kRsa, kEcP256 };

struct PublicKey {
  std::string kid;  // may be empty (a single-key set)
  KeyType type = KeyType::kRsa;
  std::string alg;  // the JWK's "alg" when given ("RS256"/"ES256"), else empty
  std::shared_ptr<evp_pkey_st> key;

  // The JWS algorithm this key verifies: "RS256" or "ES256".
  std::string_view algorithm() const { return type == KeyType::kRsa ? "RS256" : "ES256"; }
  // Verifies `signature` (raw JWS bytes: PKCS#1 v1.5 for RS256, r||s for ES256) over `input`.
  bool verify(std::string_view input, std::string_view signature) const;
};

class KeySet {
 public:
  // Parses {"keys":[...]}. Keys with "use" other than "sig" are skipped; an unsupported or broken
  // key is an error naming it (a JWKS that half-loads hides mistakes). Errors: invalid_jwks.
  static Result<KeySet> parseJwks(std::string_view json);

  const std::vector<PublicKey>& keys() const { return keys_; }
  const PublicKey* find(std::string_view kid) const;

 private:
  std::vector<PublicKey> keys_;
};

// The public JWK of an RSA or P-256 key — kty, use "sig", and n/e or crv/x/y; no kid and no alg,
// which are the caller's — the inverse of what parseJwks reads. Errors: invalid_jwks for any other
// kind of key.
Result<nlohmann::json> publicJwk(const evp_pkey_st* key);

// HMAC-SHA256 of `input` with `secret`, compared in constant time with `signature`.
bool verifyHs256(std::string_view secret, std::string_view input, std::string_view signature);

}  // namespace sc::auth

#pragma once
// The auth component's error codes (STYLE: one list per module). Every token refusal is 401 with
// one of the kToken* codes as the reason; api/errors.cpp maps them by these names.
#include <string_view>

namespace sc::auth {

inline constexpr std::string_view kMissingToken = "missing_token";       // no bearer token
inline constexpr std::string_view kMalformedToken = "malformed_token";   // not a JWS compact
inline constexpr std::string_view kAlgNone = "alg_none_refused";         // unsigned token
inline constexpr std::string_view kUnsupportedAlg = "unsupported_alg";   // not RS256/ES256/HS256
inline constexpr std::string_view kAlgKeyMismatch = "alg_key_mismatch";  // e.g. HS256 vs RSA key
inline constexpr std::string_view kMissingKid = "missing_kid";           // several keys, no kid
inline constexpr std::string_view kUnknownKid = "unknown_kid";           // kid not in the JWKS
inline constexpr std::string_view kBadSignature = "bad_signature";
inline constexpr std::string_view kTokenExpired = "token_expired";
inline constexpr std::string_view kTokenNotYetValid = "token_not_yet_valid";
inline constexpr std::string_view kWrongIssuer = "wrong_issuer";
inline constexpr std::string_view kWrongAudience = "wrong_audience";
inline constexpr std::string_view kMissingClaim = "missing_claim";  // exp, sub, iss, aud
inline constexpr std::string_view kInvalidClaim = "invalid_claim";  // wrong JSON type
// The keys could not be loaded (JWKS URL unreachable, file unreadable): 503, retryable.
inline constexpr std::string_view kKeysUnavailable = "auth_keys_unavailable";
// Authenticated, but no role of the token allows this request: 403.
inline constexpr std::string_view kForbidden = "forbidden";

}  // namespace sc::auth

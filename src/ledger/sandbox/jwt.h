#pragma once
// Ledger API tokens in Canton's audience-based format (`aud`, `sub` = user id, `scope` =
// "daml_ledger_api", `exp`), signed HS256 with a shared secret. HS256 is for development and
// tests only, as on a participant; RS256/ES256 are not implemented by the sandbox.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

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

std::string base64UrlEncode(const std::string& bytes);
Result<std::string> base64UrlDecode(const std::string& text);

}  // namespace sc::ledger::sandbox

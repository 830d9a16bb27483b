#include "ledger/sandbox/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace sc::ledger::sandbox {
namespace {

using Json = nlohmann::json;
constexpr const char* kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

Error unauthenticated(std::string message) {
  return Error::permanent("unauthenticated", std::move(message));
}

std::string hmacSha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

std::string base64UrlEncode(const std::string& bytes) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buf >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buf << (6 - bits)) & 0x3f]);
  return out;
}

Result<std::string> base64UrlDecode(const std::string& text) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char ch : text) {
    if (ch == '=') break;
    const char* p = std::char_traits<char>::find(kAlphabet, 64, ch);
    if (!p) return unauthenticated("token is not base64url");
    buf = (buf << 6) | static_cast<uint32_t>(p - kAlphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return out;
}

std::string signHs256(const std::string& secret, const TokenClaims& claims) {
  Json header{{"alg", "HS256"}, {"typ", "JWT"}};
  Json body{{"sub", claims.user_id}, {"aud", claims.audience}, {"scope", kLedgerApiScope}};
  if (claims.expires_at > 0) body["exp"] = claims.expires_at;
  std::string signing = base64UrlEncode(header.dump()) + "." + base64UrlEncode(body.dump());
  return signing + "." + base64UrlEncode(hmacSha256(secret, signing));
}

Result<TokenClaims> verifyHs256(const std::string& token, const std::string& secret,
                                const std::string& audience, int64_t now) {
  const size_t a = token.find('.');
  const size_t b = a == std::string::npos ? a : token.find('.', a + 1);
  if (b == std::string::npos || token.find('.', b + 1) != std::string::npos) {
    return unauthenticated("the bearer token is not a JWT (header.claims.signature)");
  }
  const std::string signing = token.substr(0, b);
  auto header_raw = base64UrlDecode(token.substr(0, a));
  auto claims_raw = base64UrlDecode(token.substr(a + 1, b - a - 1));
  auto sig = base64UrlDecode(token.substr(b + 1));
  if (!header_raw || !claims_raw || !sig)
    return unauthenticated("the bearer token is not base64url");
  Json header = Json::parse(*header_raw, nullptr, false);
  Json claims = Json::parse(*claims_raw, nullptr, false);
  if (!header.is_object() || !claims.is_object())
    return unauthenticated("the bearer token is not JSON");
  if (header.value("alg", "") != "HS256") {
    return unauthenticated("token algorithm '" + header.value("alg", "") +
                           "' is not accepted (the sandbox verifies HS256)");
  }
  const std::string expected = hmacSha256(secret, signing);
  if (sig->size() != expected.size() ||
      CRYPTO_memcmp(sig->data(), expected.data(), expected.size()) != 0) {
    return unauthenticated("token signature is invalid");
  }
  TokenClaims out;
  if (!claims.contains("sub") || !claims["sub"].is_string() ||
      claims["sub"].get<std::string>().empty()) {
    return unauthenticated("token has no 'sub' (the ledger user id)");
  }
  out.user_id = claims["sub"].get<std::string>();
  const std::string scope = claims.value("scope", "");
  if ((" " + scope + " ").find(std::string(" ") + kLedgerApiScope + " ") == std::string::npos) {
    return unauthenticated("token scope must include '" + std::string(kLedgerApiScope) + "'");
  }
  if (claims.contains("aud")) {
    const Json& aud = claims["aud"];
    if (aud.is_string()) out.audience = aud.get<std::string>();
    if (aud.is_array()) {
      for (const auto& x : aud) {
        if (x.is_string() && x.get<std::string>() == audience) out.audience = audience;
      }
    }
  }
  if (!audience.empty() && out.audience != audience) {
    return unauthenticated("token audience '" + out.audience + "' is not this participant ('" +
                           audience + "')");
  }
  if (claims.contains("exp")) {
    if (!claims["exp"].is_number_integer()) return unauthenticated("token 'exp' is not a number");
    out.expires_at = claims["exp"].get<int64_t>();
    if (out.expires_at <= now) return unauthenticated("token expired");
  }
  return out;
}

}  // namespace sc::ledger::sandbox

// libFuzzer target: JWT verification (auth::Verifier) and the JWKS parser (auth::KeySet).
// The first byte chooses what the rest is:
//   'T' a token as received (verified against an HS256 secret and a fixed RSA + P-256 JWKS);
//   'S' "<header JSON>\n<payload JSON>", signed here with the HS256 secret, so the claims checks
//       are reached with any header and claims;
//   'K' a JWKS document.
// Properties: no crash, UB or exception; a refusal carries one of auth/errors.h's codes, and an
// expiry, not-yet-valid or bad-signature refusal is what the claims or the signature say; an
// accepted token has alg HS256, exp (now <= exp + leeway), nbf (if any) <= now + leeway, iss, an
// aud naming the audience and a non-empty sub, and the principal holds exactly its sub, exp, roles
// and accounts; the same token with another signature is refused as bad_signature. A JWKS that
// parses has signing keys with distinct kids, RSA moduli of at least 2048 bits, and each key's
// publicJwk parses back to the same key.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "auth/errors.h"
#include "auth/jwks.h"
#include "auth/verifier.h"

namespace {

using nlohmann::json;
using namespace sc::auth;

void check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "property failed: %s for input '%.*s'\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

constexpr const char* kSecret = "fuzz-development-secret";
constexpr const char* kIssuer = "https://issuer.test";
constexpr const char* kAudience = "settlement-coordinator";
constexpr int64_t kNow = 1'731'861'000;  // 2024-11-17T16:30:00Z
constexpr int64_t kLeeway = 30;

constexpr const char* kJwks = R"({"keys":[
 {"kty":"EC","use":"sig","kid":"ec-1","crv":"P-256",
  "x":"QelwXo4wlZI2dUtSd0-_U45R0WZx8MXkn6-Cc2GjzvU","y":"3fF1hLrKnuvVz04zKv0CrzlRaPiLBfFpHBsOkuQ8Gwc"},
 {"kty":"RSA","use":"sig","kid":"rsa-1","alg":"RS256","e":"AQAB",
  "n":"rWsrVW7DTDGMnR9W_TV3GwYK9iHMFidOx99SIb2A-58b6xJrXB1wfmGETB0fPKl7hMD657m1c1-It5WU8Fj1tMJQCkTs4dxG7u9Ebs0WEVanmW3hFh_7faiQ14e1UIBAoOWtdyno3r2UCdUo7KuMM2GLYI6m8fVgxXTr-5PfIRDFr4nvxwmy4emPJ9DwcXfkNMmwHllFJDugjftAsFaz6wGJy5VXjrar_0OsWbmiCjXMCgWpCZcDXadoZyTYEIvoUnUp3kjH6iYTzNnj2UwVwMP6HM8nmqQlVPQwVaFRTknd1BEkFOMC6mqAtbaemLds8ORUk4_GGAqe8XyELOdsjw"}]})";

class FixedClock final : public sc::Clock {
 public:
  sc::Timestamp now() const override { return sc::Timestamp(std::chrono::seconds(kNow)); }
};

const Verifier& verifier() {
  static const FixedClock clock;
  static const auto keys = std::make_shared<KeyProvider>(
      []() -> sc::Result<std::string> { return std::string(kJwks); }, "fuzz JWKS", clock);
  static const Verifier v = [] {
    VerifierOptions o;
    o.issuer = kIssuer;
    o.audience = kAudience;
    o.leeway = std::chrono::seconds(kLeeway);
    o.hs256_secret = kSecret;
    return Verifier(o, keys, clock);
  }();
  return v;
}

std::string hmac(std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret, static_cast<int>(std::string_view(kSecret).size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

const std::set<std::string_view> kRefusals = {
    kMissingToken, kMalformedToken, kAlgNone,      kUnsupportedAlg, kAlgKeyMismatch,
    kMissingKid,   kUnknownKid,     kBadSignature, kTokenExpired,   kTokenNotYetValid,
    kWrongIssuer,  kWrongAudience,  kMissingClaim, kInvalidClaim,   kKeysUnavailable};

// A claim as a number, or NaN when absent or not a number.
double number(const json& payload, const char* name) {
  auto it = payload.find(name);
  return it != payload.end() && it->is_number() ? it->get<double>() : std::nan("");
}

// What the roles/accounts claim says: an array of strings, or one space-separated string.
std::vector<std::string> listClaim(const json& payload, const char* name) {
  std::vector<std::string> out;
  auto it = payload.find(name);
  if (it == payload.end() || it->is_null()) return out;
  if (it->is_array()) {
    for (const auto& s : *it) out.push_back(s.get<std::string>());
    return out;
  }
  std::string s = it->get<std::string>(), cur;
  for (char c : s + " ") {
    if (c != ' ') {
      cur.push_back(c);
    } else if (!cur.empty()) {
      out.push_back(cur);
      cur.clear();
    }
  }
  return out;
}

void checkVerdict(const std::string& token, std::string_view input) {
  sc::Result<Principal> p = verifier().verify(token);
  // Only a well-formed three-part token has a payload to compare with.
  const size_t d1 = token.find('.'), d2 = token.find('.', d1 == std::string::npos ? 0 : d1 + 1);
  json payload = json::object();
  if (d2 != std::string::npos) {
    auto bytes = base64UrlDecode(std::string_view(token).substr(d1 + 1, d2 - d1 - 1));
    if (bytes) payload = json::parse(*bytes, nullptr, false);
  }
  if (!p) {
    check(kRefusals.count(p.error().code) == 1, "a refusal carries an auth/errors.h code", input);
    if (p.error().code == kTokenExpired)
      check(number(payload, "exp") + kLeeway < kNow, "token_expired only when exp has passed",
            input);
    if (p.error().code == kTokenNotYetValid)
      check(number(payload, "nbf") > kNow + kLeeway, "token_not_yet_valid only before nbf", input);
    return;
  }
  check(payload.is_object(), "an accepted token's payload is a JSON object", input);
  auto header = json::parse(*base64UrlDecode(std::string_view(token).substr(0, d1)));
  check(header["alg"] == "HS256", "only HS256 tokens can be signed here", input);
  const double exp = number(payload, "exp"), nbf = number(payload, "nbf");
  check(!std::isnan(exp) && kNow <= exp + kLeeway, "an accepted token has an unexpired exp", input);
  check(!payload.contains("nbf") || kNow + kLeeway >= std::floor(nbf),
        "an accepted token is past its nbf", input);
  check(payload["iss"] == kIssuer, "an accepted token has the issuer", input);
  const json& aud = payload["aud"];
  bool aud_ok = aud == kAudience;
  if (aud.is_array())
    for (const auto& a : aud) aud_ok = aud_ok || a == kAudience;
  check(aud_ok, "an accepted token names the audience", input);
  check(payload["sub"].is_string() && !payload["sub"].get<std::string>().empty() &&
            payload["sub"] == p->subject,
        "the principal is the token's non-empty sub", input);
  check(p->expires_at == static_cast<int64_t>(std::floor(exp)), "expires_at is exp", input);
  check(p->roles == listClaim(payload, "roles") && p->accounts == listClaim(payload, "accounts"),
        "the principal has the token's roles and accounts", input);

  // Another signature (the last byte changed) is refused as such.
  std::string sig = *base64UrlDecode(std::string_view(token).substr(d2 + 1));
  sig.back() = static_cast<char>(sig.back() ^ 1);
  auto forged = verifier().verify(token.substr(0, d2 + 1) + base64UrlEncode(sig));
  check(!forged && forged.error().code == kBadSignature, "another signature is bad_signature",
        input);
}

void checkJwks(std::string_view doc) {
  auto set = KeySet::parseJwks(doc);
  if (!set) {
    check(set.error().code == "invalid_jwks" && !set.error().message.empty(),
          "a refused JWKS is invalid_jwks with a message", doc);
    return;
  }
  check(!set->keys().empty(), "a parsed JWKS has keys", doc);
  std::set<std::string> kids;
  for (const auto& k : set->keys()) {
    check(kids.insert(k.kid).second, "kids are distinct", doc);
    check(k.key != nullptr, "every key is built", doc);
    check(k.alg.empty() || k.alg == k.algorithm(), "a key's alg fits its type", doc);
    if (k.type == KeyType::kRsa)
      check(EVP_PKEY_get_bits(k.key.get()) >= 2048, "an RSA modulus has at least 2048 bits", doc);
    auto jwk = publicJwk(k.key.get());
    check(jwk.ok(), "a parsed key has a public JWK", doc);
    json one = *jwk;
    one["kid"] = k.kid;
    auto again = KeySet::parseJwks(json{{"keys", json::array({one})}}.dump());
    check(again.ok() && again->keys().size() == 1, "a key's public JWK parses", doc);
    auto jwk2 = publicJwk(again->keys().front().key.get());
    check(jwk2.ok() && *jwk2 == *jwk && again->keys().front().type == k.type,
          "a key's public JWK parses back to the same key", doc);
    check(set->find(k.kid) == &k, "find(kid) finds the key", doc);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 16 * 1024) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view rest = input.substr(1);
  try {
    switch (input[0]) {
      case 'T':
        checkVerdict(std::string(rest), input);
        break;
      case 'S': {
        const size_t nl = rest.find('\n');
        if (nl == std::string_view::npos) return 0;
        const std::string signing_input =
            base64UrlEncode(rest.substr(0, nl)) + "." + base64UrlEncode(rest.substr(nl + 1));
        checkVerdict(signing_input + "." + base64UrlEncode(hmac(signing_input)), input);
        break;
      }
      case 'K':
        checkJwks(rest);
        break;
      default:
        break;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception: %s\n", e.what());
    check(false, "no exception escapes", input);
  }
  return 0;
}

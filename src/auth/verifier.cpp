#include "auth/verifier.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>

#include "auth/errors.h"

namespace sc::auth {
namespace {

using Json = nlohmann::json;

Error refuse(std::string_view code, std::string message) {
  return Error::permanent(std::string(code), std::move(message));
}

Result<Json> decodeJsonPart(std::string_view part, const char* what) {
  auto bytes = base64UrlDecode(part);
  if (!bytes) return refuse(kMalformedToken, std::string("token ") + what + " is not base64url");
  auto j = Json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return refuse(kMalformedToken, std::string("token ") + what + " is not a JSON object");
  return j;
}

// The claim at a dotted path ("realm_access.roles"), or null.
const Json* claimAt(const Json& payload, const std::string& path) {
  const Json* cur = &payload;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string name =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(name);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

// An array of strings, or one space-separated string (the OAuth "scope" style).
Result<std::vector<std::string>> stringList(const Json& payload, const std::string& name) {
  std::vector<std::string> out;
  const Json* v = claimAt(payload, name);
  if (!v || v->is_null()) return out;
  if (v->is_string()) {
    std::string s = v->get<std::string>(), cur;
    for (char c : s + " ") {
      if (c == ' ') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    return out;
  }
  if (!v->is_array()) return refuse(kInvalidClaim, "claim " + name + " must be a list of strings");
  for (const auto& item : *v) {
    if (!item.is_string())
      return refuse(kInvalidClaim, "claim " + name + " must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

// Seconds since the epoch, integer or not, within ±10^15 (31 million years): larger values are no
// real date, and within this range exp/nbf ± the leeway cannot overflow. An integer above INT64_MAX
// (JSON allows it) must not wrap to a negative date either.
constexpr int64_t kMaxNumericDate = 1'000'000'000'000'000;

Result<std::optional<int64_t>> numericDate(const Json& payload, const char* name) {
  auto it = payload.find(name);
  if (it == payload.end()) return std::optional<int64_t>();
  if (it->is_number_unsigned()) {
    const uint64_t u = it->get<uint64_t>();
    if (u < static_cast<uint64_t>(kMaxNumericDate))
      return std::optional<int64_t>(static_cast<int64_t>(u));
  } else if (it->is_number_integer()) {
    const int64_t v = it->get<int64_t>();
    if (v > -kMaxNumericDate && v < kMaxNumericDate) return std::optional<int64_t>(v);
  } else if (it->is_number_float()) {
    double d = it->get<double>();
    if (std::isfinite(d) && std::abs(d) < static_cast<double>(kMaxNumericDate))
      return std::optional<int64_t>(static_cast<int64_t>(std::floor(d)));
  }
  return refuse(kInvalidClaim, std::string("claim ") + name + " must be a NumericDate");
}

}  // namespace

bool Principal::hasRole(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

bool Principal::hasAccount(std::string_view account_id) const {
  return std::find(accounts.begin(), accounts.end(), account_id) != accounts.end();
}

Verifier::Verifier(VerifierOptions options, std::shared_ptr<KeyProvider> keys, const Clock& clock)
    : options_(std::move(options)), keys_(std::move(keys)), clock_(clock) {}

Result<Principal> Verifier::verifyAuthorization(std::string_view header) const {
  constexpr std::string_view kScheme = "bearer ";
  bool ok = header.size() > kScheme.size();
  for (size_t i = 0; ok && i < kScheme.size(); ++i)
    ok = std::tolower(static_cast<unsigned char>(header[i])) == kScheme[i];
  if (!ok) return refuse(kMissingToken, "an \"Authorization: Bearer <JWT>\" header is required");
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return verify(token);
}

Result<void> Verifier::checkSignature(const std::string& alg, const std::string& kid, bool has_kid,
                                      std::string_view input, std::string_view sig) const {
  if (alg == "HS256") {
    // Only the development secret, never a public key used as an HMAC secret.
    if (options_.hs256_secret.empty())
      return refuse(kAlgKeyMismatch, "HS256 is not accepted: the keys are public keys");
    if (!verifyHs256(options_.hs256_secret, input, sig))
      return refuse(kBadSignature, "signature does not verify");
    return {};
  }
  if (alg != "RS256" && alg != "ES256")
    return refuse(kUnsupportedAlg, "alg " + alg + " is not accepted (RS256 or ES256)");
  if (!keys_) return refuse(kAlgKeyMismatch, "alg " + alg + " but no public keys are configured");
  auto set = keys_->keys();
  if (!set) return set.error();
  const PublicKey* key = nullptr;
  if (has_kid) {
    key = (*set)->find(kid);
    if (!key) {
      set = keys_->refreshForUnknownKid();
      if (!set) return set.error();
      key = (*set)->find(kid);
    }
    if (!key) return refuse(kUnknownKid, "no key with kid " + kid);
  } else {
    if ((*set)->keys().size() != 1)
      return refuse(kMissingKid, "the token has no kid and there are several keys");
    key = &(*set)->keys().front();
  }
  if (key->algorithm() != alg)
    return refuse(kAlgKeyMismatch, "alg " + alg + " does not fit key " + kid + " (" +
                                       std::string(key->algorithm()) + ")");
  if (!key->verify(input, sig)) return refuse(kBadSignature, "signature does not verify");
  return {};
}

Result<Principal> Verifier::verify(std::string_view token) const {
  if (token.empty()) return refuse(kMissingToken, "bearer token is empty");
  if (token.size() > kMaxTokenBytes) return refuse(kMalformedToken, "token is too long");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return refuse(kMalformedToken, "token is not three base64url parts separated by dots");
  auto header = decodeJsonPart(token.substr(0, d1), "header");
  if (!header) return header.error();
  auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string())
    return refuse(kMalformedToken, "token header has no alg");
  std::string alg = alg_it->get<std::string>();
  std::string lowered;
  for (char c : alg)
    lowered.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lowered == "none") return refuse(kAlgNone, "unsigned tokens (alg none) are refused");
  if (header->contains("crit"))
    return refuse(kMalformedToken, "token header has critical extensions we do not implement");
  std::string kid;
  auto kid_it = header->find("kid");
  bool has_kid = kid_it != header->end();
  if (has_kid) {
    if (!kid_it->is_string()) return refuse(kMalformedToken, "token kid is not a string");
    kid = kid_it->get<std::string>();
  }
  auto sig = base64UrlDecode(token.substr(d2 + 1));
  if (!sig || sig->empty()) return refuse(kMalformedToken, "token signature is not base64url");
  // The payload is decoded only after the signature verified: nothing unsigned is looked at.
  if (auto ok = checkSignature(alg, kid, has_kid, token.substr(0, d2), *sig); !ok)
    return ok.error();
  auto payload = decodeJsonPart(token.substr(d1 + 1, d2 - d1 - 1), "payload");
  if (!payload) return payload.error();

  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch()).count();
  const int64_t leeway = std::chrono::duration_cast<std::chrono::seconds>(options_.leeway).count();
  auto exp = numericDate(*payload, "exp");
  if (!exp) return exp.error();
  if (!*exp && options_.require_exp) return refuse(kMissingClaim, "token has no exp");
  if (*exp && now > **exp + leeway) return refuse(kTokenExpired, "token expired");
  auto nbf = numericDate(*payload, "nbf");
  if (!nbf) return nbf.error();
  if (*nbf && now + leeway < **nbf) return refuse(kTokenNotYetValid, "token is not valid yet");

  if (options_.require_issuer) {
    auto iss = payload->find("iss");
    if (iss == payload->end()) return refuse(kMissingClaim, "token has no iss");
    if (!iss->is_string() || iss->get<std::string>() != options_.issuer)
      return refuse(kWrongIssuer, "token issuer is not " + options_.issuer);
  }
  auto aud = payload->find("aud");
  if (aud == payload->end()) return refuse(kMissingClaim, "token has no aud");
  bool aud_ok = false;
  if (aud->is_string()) aud_ok = aud->get<std::string>() == options_.audience;
  if (aud->is_array())
    for (const auto& a : *aud) aud_ok = aud_ok || (a.is_string() && a == options_.audience);
  if (!aud_ok)
    return refuse(kWrongAudience, "token audience does not include " + options_.audience);

  Principal p;
  auto sub = payload->find("sub");
  if (sub == payload->end() || !sub->is_string() || sub->get<std::string>().empty())
    return refuse(kMissingClaim, "token has no sub");
  p.subject = sub->get<std::string>();
  p.expires_at = exp->value_or(0);
  auto roles = stringList(*payload, options_.roles_claim);
  if (!roles) return roles.error();
  p.roles = std::move(*roles);
  auto accounts = stringList(*payload, options_.accounts_claim);
  if (!accounts) return accounts.error();
  p.accounts = std::move(*accounts);
  return p;
}

}  // namespace sc::auth

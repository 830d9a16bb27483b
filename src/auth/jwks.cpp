#include "auth/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>

#include <array>
#include <nlohmann/json.hpp>

namespace sc::auth {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

Error invalidJwks(std::string message) {
  return Error::permanent("invalid_jwks", std::move(message));
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bn toBn(const std::string& bytes) {
  return Bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                      static_cast<int>(bytes.size()), nullptr));
}

std::shared_ptr<evp_pkey_st> fromParams(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  if (!params) return nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (ctx && EVP_PKEY_fromdata_init(ctx) > 0)
    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!pkey) return nullptr;
  return std::shared_ptr<evp_pkey_st>(pkey, EVP_PKEY_free);
}

Result<std::string> member(const nlohmann::json& jwk, const char* name, const std::string& what) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string())
    return invalidJwks(what + ": \"" + name + "\" is missing or not a string");
  auto bytes = base64UrlDecode(it->get<std::string>());
  if (!bytes || bytes->empty()) return invalidJwks(what + ": \"" + name + "\" is not base64url");
  return *bytes;
}

Result<std::shared_ptr<evp_pkey_st>> rsaKey(const nlohmann::json& jwk, const std::string& what) {
  auto n = member(jwk, "n", what);
  if (!n) return n.error();
  auto e = member(jwk, "e", what);
  if (!e) return e.error();
  Bn bn_n = toBn(*n), bn_e = toBn(*e);
  // Counted in bits, not bytes: n may carry leading zeros, and 256 bytes can hold a short modulus.
  if (bn_n && BN_num_bits(bn_n.get()) < 2048)
    return invalidJwks(what + ": RSA modulus shorter than 2048 bits");
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::shared_ptr<evp_pkey_st> key;
  if (bld && bn_n && bn_e && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get()) &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
    key = fromParams("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  if (!key) return invalidJwks(what + ": OpenSSL refused the RSA key");
  return key;
}

Result<std::shared_ptr<evp_pkey_st>> ecKey(const nlohmann::json& jwk, const std::string& what) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || *crv != "P-256")
    return invalidJwks(what + ": only EC keys on crv P-256 (ES256) are supported");
  auto x = member(jwk, "x", what);
  if (!x) return x.error();
  auto y = member(jwk, "y", what);
  if (!y) return y.error();
  if (x->size() != 32 || y->size() != 32)
    return invalidJwks(what + ": P-256 coordinates must be 32 bytes");
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::shared_ptr<evp_pkey_st> key;
  if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
    key = fromParams("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  if (!key) return invalidJwks(what + ": OpenSSL refused the EC key (not a point on P-256?)");
  return key;
}

bool digestVerify(EVP_PKEY* key, std::string_view input, const unsigned char* sig, size_t len) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, sig, len, reinterpret_cast<const unsigned char*>(input.data()),
                             input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace

std::string base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3F]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3F]);
  return out;
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical tail
  return out;
}

bool PublicKey::verify(std::string_view input, std::string_view signature) const {
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  if (type == KeyType::kRsa) return digestVerify(key.get(), input, sig, signature.size());
  // ES256: JWS carries r||s (32 bytes each); OpenSSL wants a DER ECDSA-Sig-Value.
  if (signature.size() != 64) return false;
  ECDSA_SIG* es = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(sig, 32, nullptr);
  BIGNUM* s = BN_bin2bn(sig + 32, 32, nullptr);
  if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return false;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  if (len <= 0) return false;
  bool ok = digestVerify(key.get(), input, der, static_cast<size_t>(len));
  OPENSSL_free(der);
  return ok;
}

Result<KeySet> KeySet::parseJwks(std::string_view json) {
  auto doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return invalidJwks("JWKS is not a JSON object");
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) return invalidJwks("JWKS has no \"keys\" array");
  KeySet set;
  size_t index = 0;
  for (const auto& jwk : *keys) {
    std::string what = "JWKS key #" + std::to_string(index++);
    if (!jwk.is_object()) return invalidJwks(what + " is not an object");
    PublicKey k;
    if (auto kid = jwk.find("kid"); kid != jwk.end()) {
      if (!kid->is_string()) return invalidJwks(what + ": \"kid\" is not a string");
      k.kid = kid->get<std::string>();
      what += " (kid " + k.kid + ")";
    }
    if (auto use = jwk.find("use"); use != jwk.end() && *use != "sig") continue;
    if (auto alg = jwk.find("alg"); alg != jwk.end()) {
      if (!alg->is_string()) return invalidJwks(what + ": \"alg\" is not a string");
      k.alg = alg->get<std::string>();
    }
    auto kty = jwk.find("kty");
    if (kty == jwk.end() || !kty->is_string()) return invalidJwks(what + ": \"kty\" is missing");
    Result<std::shared_ptr<evp_pkey_st>> key = invalidJwks("");
    if (*kty == "RSA") {
      k.type = KeyType::kRsa;
      key = rsaKey(jwk, what);
    } else if (*kty == "EC") {
      k.type = KeyType::kEcP256;
      key = ecKey(jwk, what);
    } else {
      return invalidJwks(what + ": kty " + kty->dump() +
                         " is not supported (RSA or EC P-256 only; never symmetric keys)");
    }
    if (!key) return key.error();
    if (!k.alg.empty() && k.alg != k.algorithm())
      return invalidJwks(what + ": alg " + k.alg + " does not fit a " + kty->get<std::string>() +
                         " key");
    k.key = *key;
    for (const auto& other : set.keys_)
      if (other.kid == k.kid) return invalidJwks(what + ": duplicate kid");
    set.keys_.push_back(std::move(k));
  }
  if (set.keys_.empty()) return invalidJwks("JWKS has no signing keys");
  return set;
}

const PublicKey* KeySet::find(std::string_view kid) const {
  for (const auto& k : keys_)
    if (k.kid == kid) return &k;
  return nullptr;
}

bool verifyHs256(std::string_view secret, std::string_view input, std::string_view signature) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(), &len))
    return false;
  return signature.size() == len && CRYPTO_memcmp(mac.data(), signature.data(), len) == 0;
}

namespace {
// A big-number parameter of `key`, big-endian, left-padded to `width` bytes when width > 0.
std::optional<std::string> bnParam(const EVP_PKEY* key, const char* name, int width = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return std::nullopt;
  const int size = width > 0 ? width : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(size), '\0');
  const int written = BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), size);
  BN_free(bn);
  if (written != size) return std::nullopt;
  return out;
}
}  // namespace

Result<nlohmann::json> publicJwk(const evp_pkey_st* key) {
  auto refuse = [](std::string m) { return Error::permanent("invalid_jwks", std::move(m)); };
  if (EVP_PKEY_is_a(key, "RSA")) {
    auto n = bnParam(key, OSSL_PKEY_PARAM_RSA_N);
    auto e = bnParam(key, OSSL_PKEY_PARAM_RSA_E);
    if (!n || !e) return refuse("cannot read the RSA key's modulus and exponent");
    return nlohmann::json{
        {"kty", "RSA"}, {"use", "sig"}, {"n", base64UrlEncode(*n)}, {"e", base64UrlEncode(*e)}};
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &len) != 1 ||
        std::string_view(group, len) != "prime256v1") {
      return refuse("only EC keys on P-256 (ES256) are supported, not " + std::string(group, len));
    }
    auto x = bnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
    auto y = bnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    if (!x || !y) return refuse("cannot read the EC key's point");
    return nlohmann::json{{"kty", "EC"},
                          {"use", "sig"},
                          {"crv", "P-256"},
                          {"x", base64UrlEncode(*x)},
                          {"y", base64UrlEncode(*y)}};
  }
  return refuse("only RSA (RS256) and P-256 (ES256) keys are supported");
}

}  // namespace sc::auth

#include "ledger/sandbox/jwks_verifier.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "auth/errors.h"
#include "auth/jwks.h"
#include "auth/verifier.h"

namespace sc::ledger::sandbox {
namespace {

// The `now` the sandbox checks a token at, as the Clock auth::Verifier reads.
class FixedClock final : public Clock {
 public:
  explicit FixedClock(int64_t seconds) : now_(std::chrono::seconds(seconds)) {}
  Timestamp now() const override { return now_; }

 private:
  Timestamp now_;
};

Error invalidKey(std::string message) {
  return Error::permanent("invalid_key", std::move(message));
}

using Pkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

// The public key of a PEM certificate, else of a PEM public key.
Pkey readPublicKey(std::string_view pem) {
  auto bio = [&] {
    return std::unique_ptr<BIO, decltype(&BIO_free)>(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  };
  if (X509* cert = PEM_read_bio_X509(bio().get(), nullptr, nullptr, nullptr)) {
    Pkey key(X509_get_pubkey(cert), EVP_PKEY_free);
    X509_free(cert);
    return key;
  }
  ERR_clear_error();
  Pkey key(PEM_read_bio_PUBKEY(bio().get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  ERR_clear_error();
  return key;
}

}  // namespace

JwksVerifier::JwksVerifier(std::shared_ptr<auth::KeyProvider> keys, std::string hs256_secret)
    : keys_(std::move(keys)), hs256_secret_(std::move(hs256_secret)) {}

Result<TokenClaims> JwksVerifier::verify(const std::string& token, const std::string& audience,
                                         int64_t now) const {
  auth::VerifierOptions o;
  o.audience = audience;
  o.leeway = Duration::zero();  // as Hs256Verifier: expired is expired
  // Canton's `scope` is a space-separated list; read it where the verifier reads roles (there is
  // no accounts claim in Canton's format: the scope again rather than a claim that could refuse).
  o.roles_claim = "scope";
  o.accounts_claim = "scope";
  o.hs256_secret = hs256_secret_;
  o.require_issuer = false;
  o.require_exp = false;
  const FixedClock clock(now);
  auto principal = auth::Verifier(std::move(o), keys_, clock).verify(token);
  if (!principal) {
    return Error::permanent("unauthenticated",
                            principal.error().message + " (" + principal.error().code + ")");
  }
  if (!principal->hasRole(kLedgerApiScope)) {
    return Error::permanent("unauthenticated",
                            "token scope must include '" + std::string(kLedgerApiScope) + "'");
  }
  return TokenClaims{principal->subject, audience, principal->expires_at};
}

Result<std::string> pemToJwks(std::string_view pem) {
  Pkey key = readPublicKey(pem);
  if (!key) return invalidKey("not a PEM certificate or public key");
  auto jwk = auth::publicJwk(key.get());
  if (!jwk) return invalidKey(jwk.error().message);
  (*jwk)["alg"] = (*jwk)["kty"] == "RSA" ? "RS256" : "ES256";
  return nlohmann::json{{"keys", {*jwk}}}.dump();
}

auth::KeyProvider::Loader pemFileLoader(std::string path) {
  return [path]() -> Result<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::transient(std::string(auth::kKeysUnavailable), "cannot read " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return pemToJwks(s.str());  // the provider's error names the file
  };
}

}  // namespace sc::ledger::sandbox

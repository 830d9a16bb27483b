#pragma once
// Where the verifier's keys come from: a JWKS file (AUTH_JWKS_FILE) or URL (AUTH_JWKS_URL, HTTP or
// HTTPS), loaded on first use, cached, reloaded when older than `max_age`, and reloaded at once
// when a token names an unknown kid (key rotation) — but at most once per `min_refresh`, so a
// stream of tokens with made-up kids cannot turn into a stream of fetches. A failed reload keeps
// the keys already loaded. Thread-safe.
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "auth/jwks.h"
#include "domain/time.h"

namespace sc::auth {

class KeyProvider {
 public:
  using Loader = std::function<Result<std::string>()>;  // returns the JWKS document

  KeyProvider(Loader loader, std::string source, const Clock& clock,
              Duration max_age = std::chrono::minutes(5),
              Duration min_refresh = std::chrono::seconds(30));

  // The current keys (loading them when none are loaded or they are older than max_age).
  // Error: auth_keys_unavailable (retryable) when nothing could ever be loaded.
  Result<std::shared_ptr<const KeySet>> keys();
  // For an unknown kid: reloads unless the last attempt was less than min_refresh ago.
  Result<std::shared_ptr<const KeySet>> refreshForUnknownKid();

  const std::string& source() const { return source_; }
  int loads() const;  // successful loads so far (tests, logs)

 private:
  Result<std::shared_ptr<const KeySet>> reloadLocked(Timestamp now);

  Loader loader_;
  std::string source_;
  const Clock& clock_;
  Duration max_age_, min_refresh_;
  mutable std::mutex mu_;
  std::shared_ptr<const KeySet> keys_;
  Timestamp loaded_at_{}, attempted_at_{};
  bool attempted_ = false;
  int loads_ = 0;
};

// Reads a JWKS file.
KeyProvider::Loader jwksFileLoader(std::string path);
// GETs a JWKS over http:// or https:// (system CA store, host name verified), 5 s timeout,
// at most 1 MiB.
KeyProvider::Loader jwksUrlLoader(std::string url);

}  // namespace sc::auth

#include "auth/key_provider.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <sstream>

#include "auth/errors.h"
#include "common/log.h"

namespace sc::auth {
namespace {

Error unavailable(std::string message) {
  return Error::transient(std::string(kKeysUnavailable), std::move(message));
}

struct Url {
  bool tls = false;
  std::string host, port, target;
};

Result<Url> parseUrl(const std::string& url) {
  Url u;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return Error::permanent("invalid_jwks_url",
                            "AUTH_JWKS_URL must start with http:// or https://");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
    u.port = u.tls ? "443" : "80";
  }
  if (u.host.empty()) return Error::permanent("invalid_jwks_url", "AUTH_JWKS_URL has no host");
  return u;
}

template <class Stream>
Result<std::string> get(Stream& stream, const Url& u) {
  namespace http = boost::beast::http;
  http::request<http::empty_body> req(http::verb::get, u.target, 11);
  req.set(http::field::host, u.host);
  req.set(http::field::accept, "application/json");
  req.set(http::field::user_agent, "settlement-coordinator");
  http::write(stream, req);
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  http::read(stream, buf, parser);
  auto& res = parser.get();
  if (res.result_int() != 200)
    return unavailable("JWKS URL answered HTTP " + std::to_string(res.result_int()));
  return res.body();
}

Result<std::string> fetch(const Url& u) {
  namespace net = boost::asio;
  namespace beast = boost::beast;
  net::io_context io;
  net::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(u.host, u.port);
  if (!u.tls) {
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(endpoints);
    return get(stream, u);
  }
  net::ssl::context ctx(net::ssl::context::tls_client);
  ctx.set_default_verify_paths();
  ctx.set_verify_mode(net::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str()))
    return unavailable("JWKS URL: cannot set TLS SNI for " + u.host);
  stream.set_verify_callback(net::ssl::host_name_verification(u.host));
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  beast::get_lowest_layer(stream).connect(endpoints);
  stream.handshake(net::ssl::stream_base::client);
  return get(stream, u);
}

}  // namespace

KeyProvider::KeyProvider(Loader loader, std::string source, const Clock& clock, Duration max_age,
                         Duration min_refresh)
    : loader_(std::move(loader)),
      source_(std::move(source)),
      clock_(clock),
      max_age_(max_age),
      min_refresh_(min_refresh) {}

Result<std::shared_ptr<const KeySet>> KeyProvider::reloadLocked(Timestamp now) {
  attempted_ = true;
  attempted_at_ = now;
  auto text = loader_();
  Error failure;
  if (text) {
    auto set = KeySet::parseJwks(*text);
    if (set) {
      keys_ = std::make_shared<const KeySet>(std::move(*set));
      loaded_at_ = now;
      ++loads_;
      log::get("auth")->info("loaded {} key(s) from {}", keys_->keys().size(), source_);
      return keys_;
    }
    failure = set.error();
  } else {
    failure = text.error();
  }
  log::get("auth")->error("keys from {}: {}", source_, failure.message);
  if (keys_) return keys_;  // keep serving the keys we have
  return unavailable("no verification keys: " + source_ + ": " + failure.message);
}

Result<std::shared_ptr<const KeySet>> KeyProvider::keys() {
  std::lock_guard lock(mu_);
  Timestamp now = clock_.now();
  if (keys_ && now - loaded_at_ < max_age_) return keys_;
  if (attempted_ && now - attempted_at_ < min_refresh_) {
    if (keys_) return keys_;
    return unavailable("no verification keys from " + source_ + " (next attempt shortly)");
  }
  return reloadLocked(now);
}

Result<std::shared_ptr<const KeySet>> KeyProvider::refreshForUnknownKid() {
  std::lock_guard lock(mu_);
  Timestamp now = clock_.now();
  if (attempted_ && now - attempted_at_ < min_refresh_) {
    if (keys_) return keys_;
    return unavailable("no verification keys from " + source_);
  }
  return reloadLocked(now);
}

int KeyProvider::loads() const {
  std::lock_guard lock(mu_);
  return loads_;
}

KeyProvider::Loader jwksFileLoader(std::string path) {
  return [path]() -> Result<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return unavailable("cannot read AUTH_JWKS_FILE " + path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
}

KeyProvider::Loader jwksUrlLoader(std::string url) {
  return [url]() -> Result<std::string> {
    auto u = parseUrl(url);
    if (!u) return u.error();
    try {
      return fetch(*u);
    } catch (const std::exception& e) {
      return unavailable("JWKS URL " + url + ": " + e.what());
    }
  };
}

}  // namespace sc::auth

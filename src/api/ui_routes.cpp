// The dashboard's static files (src/ui, embedded at build time): GET /ui (index.html) and
// GET /ui/<file>. Public: they hold no data, and every call they make carries the signed-in
// user's token. Served with a strict Content-Security-Policy (scripts, styles, images and API
// calls from this origin only, no inline script or style, no framing), nosniff, no referrer, and
// revalidated by ETag (Cache-Control: no-cache; a matching If-None-Match gets 304).
#include <string_view>

#include "api/errors.h"
#include "api/routes.h"
#include "ui/assets.h"

namespace sc::api {
namespace {

constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// If-None-Match ("*", or a comma list of entity tags, weak ones compared weakly) names `etag`.
bool etagMatches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

HttpResponse Api::uiAsset(const HttpRequest& r, Caller&) {
  // The router matched "/ui" or "/ui/<file>": the file is the last segment.
  std::string_view path = r.path;
  while (path.ends_with('/')) path.remove_suffix(1);
  std::string_view name = path.substr(path.rfind('/') + 1);
  if (name == "ui") name = "index.html";
  const ui::Asset* asset = ui::findAsset(name);
  if (!asset) return errorResponse(kNotFound, "no dashboard file " + std::string(r.path));
  HttpResponse res;
  res.content_type = std::string(asset->content_type);
  res.headers = {{"ETag", std::string(asset->etag)},
                 {"Cache-Control", "no-cache"},
                 {"Content-Security-Policy", std::string(kContentSecurityPolicy)},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"},
                 {"X-Frame-Options", "DENY"}};
  if (etagMatches(r.header("if-none-match"), asset->etag)) {
    res.status = 304;
    return res;
  }
  res.body = std::string(asset->body);
  return res;
}

}  // namespace sc::api

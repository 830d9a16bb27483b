// Operations routes: GET /health, GET /ready, GET /metrics, GET /openapi.json.
#include "api/errors.h"
#include "api/openapi.h"
#include "api/request_parsing.h"
#include "api/routes.h"
#include "common/metrics.h"

namespace sc::api {

HttpResponse Api::health(const HttpRequest&, Caller& c) {
  return jsonResponse(200, Json{{"status", "ok"}});
}

HttpResponse Api::ready(const HttpRequest&, Caller& c) {
  Result<void> r = deps_.readiness ? deps_.readiness() : Result<void>();
  Json out;
  out["status"] = r ? "ready" : "not_ready";
  // With authentication on, the details and the reason are for a token holder only.
  const bool show_details = !deps_.verifier || c.principal;
  if (show_details && deps_.ready_details) {
    Json details = Json::object();
    for (const auto& [k, v] : deps_.ready_details()) details[k] = v;
    out["details"] = std::move(details);
  }
  if (r) return jsonResponse(200, out);
  if (show_details) {
    Json err;
    err["code"] = r.error().code.empty() ? std::string(kNotReady) : r.error().code;
    err["message"] = r.error().message;
    out["error"] = std::move(err);
  }
  auto res = jsonResponse(503, out);
  res.headers.emplace_back("Retry-After", "1");
  return res;
}

HttpResponse Api::metricsText(const HttpRequest&, Caller& c) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics::renderPrometheus();
  return r;
}

HttpResponse Api::openApi(const HttpRequest&, Caller&) {
  HttpResponse r;
  r.body = std::string(openApiDocument());
  return r;
}

}  // namespace sc::api

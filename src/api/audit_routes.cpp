// GET /audit (operator, auditor): the audit log of operator actions, newest first, filtered by
// actor, action, target, since/until (RFC 3339), limit; keyset pagination: next_cursor → cursor.
#include <charconv>

#include "api/errors.h"
#include "api/json_mapping.h"
#include "api/request_parsing.h"
#include "api/routes.h"

namespace sc::api {

HttpResponse Api::listAudit(const HttpRequest& r, Caller&) {
  AuditQuery q;
  q.limit = 100;
  for (auto [name, out] : {std::pair{"actor", &q.actor}, std::pair{"action", &q.action},
                           std::pair{"target", &q.target}}) {
    if (auto* v = r.queryParam(name)) {
      if (v->empty() || v->size() > 255)
        return errorResponse(kInvalidParameter, std::string(name) + " must be 1-255 characters",
                             name);
      *out = *v;
    }
  }
  for (auto [name, out] : {std::pair{"since", &q.since}, std::pair{"until", &q.until}}) {
    if (auto* v = r.queryParam(name)) {
      auto t = parseTimestamp(*v);
      if (!t)
        return errorResponse(kInvalidParameter,
                             std::string(name) + " must be an RFC 3339 time (2024-11-17T16:30:00Z)",
                             name);
      *out = *t;
    }
  }
  auto count = [&](const char* name, int64_t max) -> std::optional<int64_t> {
    const std::string* v = r.queryParam(name);
    int64_t n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (v->empty() || ec != std::errc() || p != v->data() + v->size() || n < 1 || n > max)
      return std::nullopt;
    return n;
  };
  if (r.queryParam("limit")) {
    auto n = count("limit", kMaxAuditLimit);
    if (!n)
      return errorResponse(kInvalidParameter,
                           "limit must be an integer from 1 to " + std::to_string(kMaxAuditLimit),
                           "limit");
    q.limit = static_cast<int>(*n);
  }
  if (r.queryParam("cursor")) {
    auto n = count("cursor", INT64_MAX);
    if (!n) return errorResponse(kInvalidParameter, "cursor must be a next_cursor value", "cursor");
    q.before_id = *n;
  }
  auto entries = deps_.audit->list(q);
  if (!entries) return errorResponse(entries.error());
  Json list = Json::array();
  for (const auto& e : *entries)
    list.push_back(Json{{"id", e.id},
                        {"at", formatTimestamp(e.at)},
                        {"actor", e.actor},
                        {"role", e.role},
                        {"action", e.action},
                        {"target", e.target},
                        {"request_id", e.request_id},
                        {"remote_address", e.remote_address},
                        {"outcome", e.outcome},
                        {"status", e.status},
                        {"error_code", e.error_code}});
  Json out;
  out["entries"] = std::move(list);
  if (static_cast<int>(entries->size()) == q.limit && !entries->empty())
    out["next_cursor"] = std::to_string(entries->back().id);
  else
    out["next_cursor"] = nullptr;
  return jsonResponse(200, out);
}

}  // namespace sc::api

// The reconciler's routes (DESIGN §11):
//   GET  /reconciliation (auditor, operator): the summary and the latest findings, filtered by
//        status (open | resolved | acknowledged) and kind, at most `limit` (1-1000, default 50);
//   POST /reconciliation/run (operator, audited): one pass now, its report;
//   POST /reconciliation/findings/{id}/acknowledge (operator, audited): body {"note": "…"}
//        optional (at most 500 characters); the finding as it now is.
#include <charconv>

#include "api/errors.h"
#include "api/request_parsing.h"
#include "api/routes.h"
#include "common/log.h"

namespace sc::api {
namespace {

constexpr int kDefaultFindings = 50;
constexpr int kMaxFindings = 1000;
constexpr size_t kMaxNoteChars = 500;

size_t utf8Chars(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

Json nullable(const std::string& s) { return s.empty() ? Json() : Json(s); }
Json nullable(const std::optional<Timestamp>& t) { return t ? Json(formatTimestamp(*t)) : Json(); }
// Stored JSON text as JSON (the store wrote it from JSON; anything else is shown as text).
Json storedJson(const std::string& text) {
  if (text.empty()) return Json();
  auto j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? Json(text) : j;
}

Json findingJson(const store::Finding& f) {
  Json j;
  j["id"] = f.id;
  j["kind"] = f.kind;
  j["settlement_id"] =
      f.settlement_id ? Json(f.settlement_id->prefixed(kSettlementPrefix)) : Json();
  j["trade_id"] = nullable(f.trade_id);
  j["subject"] = nullable(f.subject);
  j["evidence"] = storedJson(f.evidence);
  j["found_at"] = formatTimestamp(f.found_at);
  j["status"] = f.status;
  j["resolved_at"] = nullable(f.resolved_at);
  j["resolution"] = storedJson(f.resolution);
  j["acknowledged_by"] = nullable(f.acknowledged_by);
  j["acknowledged_at"] = nullable(f.acknowledged_at);
  j["note"] = nullable(f.note);
  return j;
}

}  // namespace

HttpResponse Api::getReconciliation(const HttpRequest& r, Caller&) {
  store::FindingQuery q;
  q.limit = kDefaultFindings;
  if (auto* v = r.queryParam("status")) {
    if (*v != "open" && *v != "resolved" && *v != "acknowledged")
      return errorResponse(kInvalidParameter, "status must be one of open, resolved, acknowledged",
                           "status");
    q.status = *v;
  }
  if (auto* v = r.queryParam("kind")) {
    if (!reconciliation::kind::isKnown(*v)) {
      std::string kinds;
      for (auto k : reconciliation::kind::kAll)
        kinds += (kinds.empty() ? "" : ", ") + std::string(k);
      return errorResponse(kInvalidParameter, "kind must be one of " + kinds, "kind");
    }
    q.kind = *v;
  }
  if (auto* v = r.queryParam("limit")) {
    int n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (v->empty() || ec != std::errc() || p != v->data() + v->size() || n < 1 || n > kMaxFindings)
      return errorResponse(kInvalidParameter,
                           "limit must be an integer from 1 to " + std::to_string(kMaxFindings),
                           "limit");
    q.limit = n;
  }
  auto st = deps_.reconciler->status(q);
  if (!st) return errorResponse(st.error());
  Json by_kind = Json::object();
  int64_t open = 0;
  for (auto k : reconciliation::kind::kAll) {
    auto it = st->open_by_kind.find(std::string(k));
    const int64_t n = it == st->open_by_kind.end() ? 0 : it->second;
    by_kind[std::string(k)] = n;
    open += n;
  }
  Json out;
  out["status"] = open == 0 ? "clean" : "drift";
  out["last_pass_at"] = nullable(st->state.last_pass_at);
  out["passes"] = st->state.passes;
  out["checked_settlements"] = st->state.checked_settlements;
  out["watermark"] = st->state.watermark;
  out["ledger_offset"] = st->state.ledger_offset;
  out["events_checked"] = st->events_checked;
  out["role"] = deps_.reconciler->role();
  out["open_by_kind"] = std::move(by_kind);
  Json list = Json::array();
  for (const auto& f : st->findings) list.push_back(findingJson(f));
  out["findings"] = std::move(list);
  return jsonResponse(200, out);
}

HttpResponse Api::runReconciliation(const HttpRequest&, Caller& c) {
  c.audit_target = "/reconciliation";
  auto report = deps_.reconciler->runPass();
  if (!report) return errorResponse(report.error());
  Json out;
  out["checked"] = report->checked;
  out["raised"] = report->raised;
  out["resolved"] = report->resolved;
  out["watermark"] = report->watermark;
  out["ledger_offset"] = report->ledger_offset;
  out["blocked"] = nullable(report->blocked);
  return jsonResponse(200, out);
}

HttpResponse Api::acknowledgeFinding(const HttpRequest& r, Caller& c) {
  const std::string& raw = r.params.at("id");
  int64_t id = 0;
  auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
  if (raw.empty() || ec != std::errc() || p != raw.data() + raw.size() || id < 1)
    return errorResponse(kInvalidParameter, "finding id must be a positive integer", "id");
  c.audit_target = "finding:" + raw;
  std::string note;
  if (!r.body.empty()) {
    auto body = parseObject(r.body);
    if (!body) return errorResponse(body.error());
    auto n = optionalString(*body, "note");
    if (!n) return errorResponse(n.error());
    if (*n) note = **n;
    if (utf8Chars(note) > kMaxNoteChars)
      return errorResponse(kInvalidParameter,
                           "note must be at most " + std::to_string(kMaxNoteChars) + " characters",
                           "note");
  }
  auto f = deps_.reconciler->acknowledge(id, c.actor(), note);
  if (!f) return errorResponse(f.error());
  logger()->info("finding {} acknowledged by {}", id, log::escape(c.actor()));
  return jsonResponse(200, findingJson(*f));
}

}  // namespace sc::api

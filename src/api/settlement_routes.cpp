// Settlement routes: POST /trades, GET /settlements, GET /settlements/{id},
// GET /settlements/{id}/events, POST /settlements/{id}/retry.
#include <algorithm>
#include <charconv>

#include "api/errors.h"
#include "api/request_parsing.h"
#include "api/routes.h"
#include "domain/ids.h"
#include "domain/status.h"
#include "workflow/errors.h"

namespace sc::api {
namespace {

// GET /settlements: offset skips at most this many rows; deeper pages use the cursor.
constexpr int kMaxOffset = 10000;
// GET /settlements?stuck=true&min_step_attempts=N: N at most this.
constexpr int kMaxStepAttemptsFilter = 1000;

// The keyset cursor of GET /settlements: the last settlement of a page, "<created_at in
// microseconds since the epoch>_<id as 32 hex>". Opaque to clients (README says so).
std::string encodeCursor(const Settlement& last) {
  return std::to_string(last.created_at.time_since_epoch().count()) + "_" + last.id.hex();
}

std::optional<store::ListQuery::After> decodeCursor(std::string_view text) {
  const size_t sep = text.find('_');
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  int64_t micros = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + sep, micros);
  if (ec != std::errc() || end != text.data() + sep || micros < 0) return std::nullopt;
  auto id = Uuid::parseHex32(text.substr(sep + 1));
  if (!id) return std::nullopt;
  return store::ListQuery::After{Timestamp(std::chrono::microseconds(micros)), *id};
}

Result<Uuid> settlementIdParam(const HttpRequest& r) {
  const std::string& raw = r.params.at("id");
  auto id = Uuid::parsePrefixed(raw, kSettlementPrefix);
  if (!id)
    return bad(reason::kInvalidId, "settlement id must be set_<32 hex> or a UUID", "settlement_id");
  return *id;
}

// The settlement the {id} of the path names: invalid_id, or settlement_not_found (404) — also
// when the caller's account scope does not include it (its existence is not revealed).
Result<Settlement> findSettlement(store::SettlementRepository& settlements, const HttpRequest& r,
                                  const Caller& c) {
  auto id = settlementIdParam(r);
  if (!id) return id.error();
  auto s = settlements.find(*id);
  if (!s) return s.error();
  if (!*s || !c.maySee(**s))
    return bad(workflow::kSettlementNotFound, "settlement " + r.params.at("id") + " not found",
               "settlement_id");
  return std::move(**s);
}

// Non-negative decimal integer without sign, at most 9 digits.
std::optional<int> parseCount(const std::string& s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

size_t utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

HttpResponse Api::postTrade(const HttpRequest& r, Caller& c) {
  auto decision = deps_.intake.submitOne(r.body);
  if (!decision) return errorResponse(decision.error());
  const workflow::IntakeDecision& d = *decision;
  switch (d.kind) {
    case store::IntakeKind::kCreated:
      if (d.settlement) {
        logger()->debug("trade {} accepted as settlement {}", d.trade_id,
                        d.settlement->settlementId());
        return jsonResponse(201, settlementJson(*d.settlement));
      }
      break;
    case store::IntakeKind::kDuplicate:
      if (d.settlement) return jsonResponse(200, settlementJson(*d.settlement));
      break;
    case store::IntakeKind::kRejected: {
      Error e =
          d.rejection.value_or(bad(kInternalError, "intake rejected the trade without a reason"));
      if (e.code == reason::kTradeConflict && d.settlement)
        e.message += " (existing settlement " + d.settlement->settlementId() + ")";
      if (d.rejection) recordRejection(r, e, d.trade_id);  // queued: the answer never waits
      return errorResponse(e);
    }
  }
  return errorResponse(kInternalError, "intake returned no settlement");
}

HttpResponse Api::getSettlement(const HttpRequest& r, Caller& c) {
  auto s = findSettlement(deps_.settlements, r, c);
  if (!s) return errorResponse(s.error());
  return jsonResponse(200, settlementJson(*s));
}

HttpResponse Api::listSettlements(const HttpRequest& r, Caller& c) {
  store::ListQuery q;
  if (auto* v = r.queryParam("account_id")) {
    if (!isValidExternalId(*v))
      return errorResponse(kInvalidParameter, "account_id must be 1-64 of [A-Za-z0-9_.:-]",
                           "account_id");
    q.account_id = *v;
  }
  if (auto* v = r.queryParam("status")) {
    std::string_view rest = *v;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      auto st = parseStatus(item);
      if (!st)
        return errorResponse(kInvalidParameter, "unknown status '" + std::string(item) + "'",
                             "status");
      if (std::find(q.statuses.begin(), q.statuses.end(), *st) == q.statuses.end())
        q.statuses.push_back(*st);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  for (const char* name : {"start_date", "end_date"}) {
    if (auto* v = r.queryParam(name)) {
      auto d = parseDate(*v);
      if (!d)
        return errorResponse(kInvalidParameter, std::string(name) + " must be YYYY-MM-DD", name);
      (std::string_view(name) == "start_date" ? q.start_date : q.end_date) = *d;
    }
  }
  if (q.start_date && q.end_date && *q.start_date > *q.end_date)
    return errorResponse(kInvalidParameter, "end_date is before start_date", "end_date");
  if (auto* v = r.queryParam("stuck")) {
    if (*v != "true" && *v != "false")
      return errorResponse(kInvalidParameter, "stuck must be true or false", "stuck");
    if (*v == "true") {
      const Clock& clock = deps_.clock ? *deps_.clock : static_cast<const Clock&>(system_clock_);
      q.stuck = store::ListQuery::Stuck{clock.now()};
    }
  }
  if (auto* v = r.queryParam("min_step_attempts")) {
    auto n = parseCount(*v);
    if (!n || *n < 1 || *n > kMaxStepAttemptsFilter)
      return errorResponse(kInvalidParameter,
                           "min_step_attempts must be an integer from 1 to " +
                               std::to_string(kMaxStepAttemptsFilter),
                           "min_step_attempts");
    if (!q.stuck)
      return errorResponse(kInvalidParameter, "min_step_attempts applies only with stuck=true",
                           "min_step_attempts");
    q.stuck->min_step_attempts = *n;
  }
  q.visible_accounts = c.accounts;  // filtered in the query: total counts only these
  q.limit = kDefaultLimit;
  if (auto* v = r.queryParam("limit")) {
    auto n = parseCount(*v);
    if (!n || *n < 1 || *n > kMaxLimit)
      return errorResponse(kInvalidParameter,
                           "limit must be an integer from 1 to " + std::to_string(kMaxLimit),
                           "limit");
    q.limit = *n;
  }
  if (auto* v = r.queryParam("offset")) {
    auto n = parseCount(*v);
    if (!n || *n > kMaxOffset)
      return errorResponse(kInvalidParameter,
                           "offset must be an integer from 0 to " + std::to_string(kMaxOffset) +
                               " (page further with cursor = the previous page's next_cursor)",
                           "offset");
    q.offset = *n;
  }
  if (auto* v = r.queryParam("cursor")) {
    q.after = decodeCursor(*v);
    if (!q.after)
      return errorResponse(kInvalidParameter, "cursor must be a next_cursor value", "cursor");
  }

  auto page = deps_.settlements.list(q);
  if (!page) return errorResponse(page.error());
  Json list = Json::array();
  for (const auto& s : page->settlements) list.push_back(settlementSummaryJson(s));
  Json out;
  out["settlements"] = std::move(list);
  out["total"] = page->total;
  if (page->total_capped) out["total_capped"] = true;  // more than `total` match
  out["limit"] = q.limit;
  out["offset"] = q.offset;
  if (page->more && !page->settlements.empty())
    out["next_cursor"] = encodeCursor(page->settlements.back());
  else
    out["next_cursor"] = nullptr;
  return jsonResponse(200, out);
}

HttpResponse Api::retrySettlement(const HttpRequest& r, Caller& c) {
  auto id = settlementIdParam(r);
  if (!id) return errorResponse(id.error());
  c.audit_target = id->prefixed(kSettlementPrefix);
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto why = requiredString(*body, "reason");
  if (!why) return errorResponse(why.error());
  if (why->empty()) return errorResponse(kInvalidParameter, "reason must not be empty", "reason");
  if (utf8Length(*why) > kMaxRetryReasonChars)
    return errorResponse(
        kInvalidParameter,
        "reason must be at most " + std::to_string(kMaxRetryReasonChars) + " characters", "reason");

  auto s = deps_.commands.retry(*id, *why);
  if (!s) {
    Error e = s.error();
    if (e.code == workflow::kInvalidState) {
      // Make sure the operator sees the current status, whatever the command's message says.
      auto current = deps_.settlements.find(*id);
      if (current && *current) {
        std::string st(toString((*current)->status));
        if (e.message.find(st) == std::string::npos) e.message += " (current status: " + st + ")";
      }
    }
    return errorResponse(e);
  }
  logger()->info("settlement {} retry requested", s->settlementId());
  Json out;
  out["settlement_id"] = s->settlementId();
  out["status"] = std::string(toString(s->status));
  out["retry_count"] = s->retry_count;
  out["message"] = "Settlement retry initiated";
  return jsonResponse(200, out);
}

HttpResponse Api::settlementEvents(const HttpRequest& r, Caller& c) {
  auto s = findSettlement(deps_.settlements, r, c);
  if (!s) return errorResponse(s.error());
  auto events = deps_.settlements.events(s->id);
  if (!events) return errorResponse(events.error());
  std::stable_sort(
      events->begin(), events->end(),
      [](const SettlementEvent& a, const SettlementEvent& b) { return a.position < b.position; });
  Json list = Json::array();
  for (const auto& e : *events) list.push_back(eventJson(e));
  Json out;
  out["settlement_id"] = s->settlementId();
  out["events"] = std::move(list);
  return jsonResponse(200, out);
}

}  // namespace sc::api

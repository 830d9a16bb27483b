#include "api/routes.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "api/errors.h"
#include "api/json_mapping.h"
#include "common/log.h"
#include "common/metrics.h"
#include "domain/trade.h"

namespace sc::api {
namespace {

HttpResponse jsonResponse(unsigned status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.body = dump(body);
  return r;
}

Error bad(std::string_view code, std::string message, std::string field = {}) {
  return Error::permanent(std::string(code), std::move(message), std::move(field));
}

Result<Json> parseObject(const std::string& body) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) return bad(reason::kInvalidJson, "request body is not valid JSON");
  if (!j.is_object()) return bad(reason::kInvalidJson, "request body must be a JSON object");
  return j;
}

// A string member: nullopt when absent (or null), invalid_field_type when not a string.
Result<std::optional<std::string>> optionalString(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return bad(reason::kInvalidFieldType, std::string(name) + " must be a string", name);
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::string> requiredString(const Json& obj, const char* name) {
  auto v = optionalString(obj, name);
  if (!v) return v.error();
  if (!*v) return bad(reason::kMissingField, std::string(name) + " is required", name);
  return std::move(**v);
}

// A required string field that must be an external id (1-64 of [A-Za-z0-9_.:-]); `code` is the
// reason reported when it is not.
Result<std::string> requiredExternalId(const Json& obj, const char* name,
                                       std::string_view code = reason::kInvalidId) {
  auto v = requiredString(obj, name);
  if (!v) return v;
  if (!isValidExternalId(*v))
    return bad(code, std::string(name) + " must be 1-64 of [A-Za-z0-9_.:-]", name);
  return v;
}

Result<AccountStatus> parseAccountStatus(const std::string& s) {
  if (s == "active") return AccountStatus::kActive;
  if (s == "inactive") return AccountStatus::kInactive;
  return bad(kInvalidParameter, "status must be \"active\" or \"inactive\"", "status");
}

Result<Uuid> settlementIdParam(const HttpRequest& r) {
  const std::string& raw = r.params.at("id");
  auto id = Uuid::parsePrefixed(raw, kSettlementPrefix);
  if (!id) return bad(reason::kInvalidId, "settlement id must be set_<32 hex> or a UUID", "settlement_id");
  return *id;
}

Result<std::string> accountIdParam(const HttpRequest& r) {
  const std::string& raw = r.params.at("id");
  if (!isValidExternalId(raw))
    return bad(reason::kInvalidId, "account id must be 1-64 of [A-Za-z0-9_.:-]", "account_id");
  return raw;
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

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // the token's length is not the secret
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("api");
  return l;
}

}  // namespace

Api::Api(ApiDeps deps) : deps_(std::move(deps)) { registerRoutes(); }

Api::Api(Intake& intake, SettlementRepository& settlements, AccountRepository& accounts,
         SettlementCommands& commands, ledger::Ledger& ledger, std::function<Result<void>()> readiness,
         std::string api_token)
    : Api(ApiDeps{intake, settlements, accounts, commands, ledger, std::move(readiness),
                  std::move(api_token), nullptr, nullptr}) {}

void Api::registerRoutes() {
  auto bind = [this](HttpResponse (Api::*fn)(const HttpRequest&)) {
    return Handler([this, fn](const HttpRequest& r) { return (this->*fn)(r); });
  };
  router_.add("POST", "/trades", authorized(bind(&Api::postTrade)));
  router_.add("POST", "/accounts", authorized(bind(&Api::postAccount)));
  router_.add("GET", "/accounts/{id}", bind(&Api::getAccount));
  router_.add("PATCH", "/accounts/{id}", authorized(bind(&Api::patchAccount)));
  router_.add("GET", "/accounts/{id}/holdings", bind(&Api::getHoldings));
  router_.add("POST", "/ledger/holdings", authorized(bind(&Api::postHolding)));
  router_.add("GET", "/ledger/totals", bind(&Api::getTotals));
  if (deps_.set_outage) router_.add("POST", "/ledger/faults", authorized(bind(&Api::postFaults)));
  router_.add("GET", "/settlements", bind(&Api::listSettlements));
  router_.add("GET", "/settlements/{id}", bind(&Api::getSettlement));
  router_.add("GET", "/settlements/{id}/events", bind(&Api::settlementEvents));
  router_.add("POST", "/settlements/{id}/retry", authorized(bind(&Api::retrySettlement)));
  router_.add("GET", "/health", bind(&Api::health));
  router_.add("GET", "/ready", bind(&Api::ready));
  router_.add("GET", "/metrics", bind(&Api::metricsText));
}

Handler Api::authorized(Handler h) const {
  if (deps_.api_token.empty()) return h;
  return [token = deps_.api_token, h = std::move(h)](const HttpRequest& r) {
    std::string auth = r.header("authorization");
    constexpr std::string_view kScheme = "bearer ";
    bool ok = auth.size() > kScheme.size();
    for (size_t i = 0; ok && i < kScheme.size(); ++i)
      ok = std::tolower(static_cast<unsigned char>(auth[i])) == kScheme[i];
    if (!ok || !constantTimeEquals(std::string_view(auth).substr(kScheme.size()), token)) {
      auto res = errorResponse(kUnauthorized, "missing or invalid bearer token");
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      return res;
    }
    return h(r);
  };
}

// --- trades -------------------------------------------------------------------------------------

HttpResponse Api::postTrade(const HttpRequest& r) {
  auto decision = deps_.intake.submitOne(r.body);
  if (!decision) return errorResponse(decision.error());
  const IntakeDecision& d = *decision;
  switch (d.kind) {
    case IntakeKind::kCreated:
      if (d.settlement) {
        logger()->debug("trade {} accepted as settlement {}", d.trade_id, d.settlement->settlementId());
        return jsonResponse(201, settlementJson(*d.settlement));
      }
      break;
    case IntakeKind::kDuplicate:
      if (d.settlement) return jsonResponse(200, settlementJson(*d.settlement));
      break;
    case IntakeKind::kRejected: {
      Error e = d.rejection.value_or(bad("rejected", "trade rejected"));
      if (e.code == reason::kTradeConflict && d.settlement)
        e.message += " (existing settlement " + d.settlement->settlementId() + ")";
      return errorResponse(e);
    }
  }
  return errorResponse(kInternalError, "intake returned no settlement");
}

// --- accounts -----------------------------------------------------------------------------------

HttpResponse Api::postAccount(const HttpRequest& r) {
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto id = requiredExternalId(*body, "account_id");
  if (!id) return errorResponse(id.error());
  auto party = optionalString(*body, "canton_party");
  if (!party) return errorResponse(party.error());
  if (*party && ((*party)->empty() || (*party)->size() > 255))
    return errorResponse(kInvalidParameter, "canton_party must be 1-255 characters", "canton_party");
  auto status_text = optionalString(*body, "status");
  if (!status_text) return errorResponse(status_text.error());
  AccountStatus status = AccountStatus::kActive;
  if (*status_text) {
    auto s = parseAccountStatus(**status_text);
    if (!s) return errorResponse(s.error());
    status = *s;
  }

  auto existing = deps_.accounts.find(*id);
  if (!existing) return errorResponse(existing.error());
  if (*existing) return errorResponse(kAccountExists, "account " + *id + " already exists", "account_id");

  auto allocated = deps_.ledger.allocateParty(*party ? **party : *id);
  if (!allocated) return errorResponse(allocated.error());

  Account a;
  a.account_id = *id;
  a.canton_party = *allocated;
  a.status = status;
  a.created_at = (deps_.clock ? *deps_.clock : static_cast<const Clock&>(system_clock_)).now();
  auto created = deps_.accounts.create(a);
  if (!created) return errorResponse(created.error());
  return jsonResponse(201, accountJson(*created));
}

HttpResponse Api::getAccount(const HttpRequest& r) {
  auto id = accountIdParam(r);
  if (!id) return errorResponse(id.error());
  auto a = deps_.accounts.find(*id);
  if (!a) return errorResponse(a.error());
  if (!*a) return errorResponse(kAccountNotFound, "account " + *id + " not found", "account_id");
  return jsonResponse(200, accountJson(**a));
}

HttpResponse Api::patchAccount(const HttpRequest& r) {
  auto id = accountIdParam(r);
  if (!id) return errorResponse(id.error());
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto status_text = optionalString(*body, "status");
  if (!status_text) return errorResponse(status_text.error());
  std::optional<AccountStatus> status;
  if (*status_text) {
    auto s = parseAccountStatus(**status_text);
    if (!s) return errorResponse(s.error());
    status = *s;
  }
  auto a = deps_.accounts.find(*id);
  if (!a) return errorResponse(a.error());
  if (!*a) return errorResponse(kAccountNotFound, "account " + *id + " not found", "account_id");
  if (!status || (*a)->status == *status) return jsonResponse(200, accountJson(**a));
  auto set = deps_.accounts.setStatus(*id, *status);
  if (!set) return errorResponse(set.error());
  Account updated = **a;
  updated.status = *status;
  return jsonResponse(200, accountJson(updated));
}

// --- embedded-ledger operator endpoints ---------------------------------------------------------

HttpResponse Api::getHoldings(const HttpRequest& r) {
  auto id = accountIdParam(r);
  if (!id) return errorResponse(id.error());
  auto a = deps_.accounts.find(*id);
  if (!a) return errorResponse(a.error());
  if (!*a) return errorResponse(kAccountNotFound, "account " + *id + " not found", "account_id");
  auto holdings = deps_.ledger.holdings((*a)->canton_party);
  if (!holdings) return errorResponse(holdings.error());

  struct Balance {
    Decimal free, locked;
  };
  std::map<std::string, Balance> balances;
  Json list = Json::array();
  for (const auto& h : *holdings) {
    list.push_back(holdingJson(h));
    Balance& b = balances[h.asset];
    Decimal& slot = h.locked ? b.locked : b.free;
    auto sum = slot.add(h.amount);
    if (!sum) return errorResponse(sum.error());
    slot = *sum;
  }
  Json bal = Json::array();
  for (const auto& [asset, b] : balances)
    bal.push_back(Json{{"asset", asset}, {"free", b.free.toString()}, {"locked", b.locked.toString()}});
  Json out;
  out["account_id"] = *id;
  out["canton_party"] = (*a)->canton_party;
  out["holdings"] = std::move(list);
  out["balances"] = std::move(bal);
  return jsonResponse(200, out);
}

HttpResponse Api::postHolding(const HttpRequest& r) {
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto id = requiredExternalId(*body, "account_id");
  if (!id) return errorResponse(id.error());
  auto asset = requiredExternalId(*body, "asset", kInvalidParameter);
  if (!asset) return errorResponse(asset.error());
  // amount: a decimal string, or a JSON integer (never a binary floating-point value).
  auto it = body->find("amount");
  if (it == body->end() || it->is_null()) return errorResponse(reason::kMissingField, "amount is required", "amount");
  std::string amount_text;
  if (it->is_string()) amount_text = it->get<std::string>();
  else if (it->is_number_integer()) amount_text = it->dump();
  else return errorResponse(reason::kInvalidFieldType, "amount must be a decimal string", "amount");
  auto amount = Decimal::parse(amount_text);
  if (!amount) {
    Error e = amount.error();
    e.field = "amount";
    return errorResponse(e);
  }
  if (!amount->isPositive()) return errorResponse(reason::kNonPositiveAmount, "amount must be > 0", "amount");
  auto sync = optionalString(*body, "synchronizer");
  if (!sync) return errorResponse(sync.error());
  std::string synchronizer;
  if (*sync) {
    synchronizer = **sync;
    auto known = deps_.ledger.synchronizers();
    if (std::find(known.begin(), known.end(), synchronizer) == known.end())
      return errorResponse(kInvalidParameter, "unknown synchronizer " + synchronizer, "synchronizer");
  } else {
    auto known = deps_.ledger.synchronizers();
    if (!known.empty()) synchronizer = known.front();
  }

  auto a = deps_.accounts.find(*id);
  if (!a) return errorResponse(a.error());
  if (!*a) return errorResponse(kAccountNotFound, "account " + *id + " not found", "account_id");
  auto h = deps_.ledger.credit((*a)->canton_party, *asset, *amount, synchronizer);
  if (!h) return errorResponse(h.error());
  Json out = holdingJson(*h);
  out["account_id"] = *id;
  return jsonResponse(201, out);
}

HttpResponse Api::getTotals(const HttpRequest&) {
  auto totals = deps_.ledger.totals();
  if (!totals) return errorResponse(totals.error());
  Json list = Json::array();
  for (const auto& t : *totals)
    list.push_back(Json{{"asset", t.asset}, {"total", t.total.toString()}, {"locked", t.locked.toString()}});
  return jsonResponse(200, Json{{"totals", std::move(list)}});
}

// Operator drill: {"synchronizer": "cash", "down": true} takes a synchronizer of the embedded
// ledger down (its commands fail as unavailable, retryably) until {"down": false}.
HttpResponse Api::postFaults(const HttpRequest& r) {
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto sync = requiredString(*body, "synchronizer");
  if (!sync) return errorResponse(sync.error());
  auto known = deps_.ledger.synchronizers();
  if (std::find(known.begin(), known.end(), *sync) == known.end())
    return errorResponse(kInvalidParameter, "unknown synchronizer " + *sync, "synchronizer");
  auto it = body->find("down");
  if (it == body->end() || it->is_null()) return errorResponse(reason::kMissingField, "down is required", "down");
  if (!it->is_boolean()) return errorResponse(reason::kInvalidFieldType, "down must be true or false", "down");
  bool down = it->get<bool>();
  if (auto set = deps_.set_outage(*sync, down); !set) return errorResponse(set.error());
  logger()->warn("synchronizer {} set {} by an operator", *sync, down ? "down" : "up");
  return jsonResponse(200, Json{{"synchronizer", *sync}, {"down", down}});
}

// --- settlements --------------------------------------------------------------------------------

HttpResponse Api::getSettlement(const HttpRequest& r) {
  auto id = settlementIdParam(r);
  if (!id) return errorResponse(id.error());
  auto s = deps_.settlements.find(*id);
  if (!s) return errorResponse(s.error());
  if (!*s) return errorResponse(kSettlementNotFound, "settlement " + r.params.at("id") + " not found", "settlement_id");
  return jsonResponse(200, settlementJson(**s));
}

HttpResponse Api::listSettlements(const HttpRequest& r) {
  ListQuery q;
  if (auto* v = r.queryParam("account_id")) {
    if (!isValidExternalId(*v))
      return errorResponse(kInvalidParameter, "account_id must be 1-64 of [A-Za-z0-9_.:-]", "account_id");
    q.account_id = *v;
  }
  if (auto* v = r.queryParam("status")) {
    std::string_view rest = *v;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      auto st = parseStatus(item);
      if (!st)
        return errorResponse(kInvalidParameter, "unknown status '" + std::string(item) + "'", "status");
      if (std::find(q.statuses.begin(), q.statuses.end(), *st) == q.statuses.end()) q.statuses.push_back(*st);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  for (const char* name : {"start_date", "end_date"}) {
    if (auto* v = r.queryParam(name)) {
      auto d = parseDate(*v);
      if (!d) return errorResponse(kInvalidParameter, std::string(name) + " must be YYYY-MM-DD", name);
      (std::string_view(name) == "start_date" ? q.start_date : q.end_date) = *d;
    }
  }
  if (q.start_date && q.end_date && *q.start_date > *q.end_date)
    return errorResponse(kInvalidParameter, "end_date is before start_date", "end_date");
  q.limit = kDefaultLimit;
  if (auto* v = r.queryParam("limit")) {
    auto n = parseCount(*v);
    if (!n || *n < 1 || *n > kMaxLimit)
      return errorResponse(kInvalidParameter, "limit must be an integer from 1 to " + std::to_string(kMaxLimit), "limit");
    q.limit = *n;
  }
  if (auto* v = r.queryParam("offset")) {
    auto n = parseCount(*v);
    if (!n) return errorResponse(kInvalidParameter, "offset must be a non-negative integer", "offset");
    q.offset = *n;
  }

  auto page = deps_.settlements.list(q);
  if (!page) return errorResponse(page.error());
  Json list = Json::array();
  for (const auto& s : page->settlements) list.push_back(settlementSummaryJson(s));
  Json out;
  out["settlements"] = std::move(list);
  out["total"] = page->total;
  out["limit"] = q.limit;
  out["offset"] = q.offset;
  return jsonResponse(200, out);
}

HttpResponse Api::retrySettlement(const HttpRequest& r) {
  auto id = settlementIdParam(r);
  if (!id) return errorResponse(id.error());
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto why = requiredString(*body, "reason");
  if (!why) return errorResponse(why.error());
  if (why->empty()) return errorResponse(kInvalidParameter, "reason must not be empty", "reason");
  if (utf8Length(*why) > kMaxRetryReasonChars)
    return errorResponse(kInvalidParameter,
                         "reason must be at most " + std::to_string(kMaxRetryReasonChars) + " characters", "reason");

  auto s = deps_.commands.retry(*id, *why);
  if (!s) {
    Error e = s.error();
    if (e.code == kInvalidState) {
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

HttpResponse Api::settlementEvents(const HttpRequest& r) {
  auto id = settlementIdParam(r);
  if (!id) return errorResponse(id.error());
  auto s = deps_.settlements.find(*id);
  if (!s) return errorResponse(s.error());
  if (!*s) return errorResponse(kSettlementNotFound, "settlement " + r.params.at("id") + " not found", "settlement_id");
  auto events = deps_.settlements.events(*id);
  if (!events) return errorResponse(events.error());
  std::stable_sort(events->begin(), events->end(),
                   [](const SettlementEvent& a, const SettlementEvent& b) { return a.position < b.position; });
  Json list = Json::array();
  for (const auto& e : *events) list.push_back(eventJson(e));
  Json out;
  out["settlement_id"] = (*s)->settlementId();
  out["events"] = std::move(list);
  return jsonResponse(200, out);
}

// --- operations ---------------------------------------------------------------------------------

HttpResponse Api::health(const HttpRequest&) { return jsonResponse(200, Json{{"status", "ok"}}); }

HttpResponse Api::ready(const HttpRequest&) {
  Result<void> r = deps_.readiness ? deps_.readiness() : Result<void>();
  if (r) return jsonResponse(200, Json{{"status", "ready"}});
  Json out;
  out["status"] = "not_ready";
  Json err;
  err["code"] = r.error().code.empty() ? std::string(kNotReady) : r.error().code;
  err["message"] = r.error().message;
  out["error"] = std::move(err);
  auto res = jsonResponse(503, out);
  res.headers.emplace_back("Retry-After", "1");
  return res;
}

HttpResponse Api::metricsText(const HttpRequest&) {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics::renderPrometheus();
  return r;
}

}  // namespace sc::api

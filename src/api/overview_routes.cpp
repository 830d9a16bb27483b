// GET /overview: the dashboard's overview in one call. Counts by status and of stuck settlements
// come from the store with bounded queries (each count stops at the list's cap, 10,000, like
// GET /settlements' total); rates, confirmation latency, consumer lag, relay backlog and role,
// and dependency health are this instance's (OverviewSources, api/overview.h).
//
// Operators and auditors see everything. An account holder sees the counts of its own accounts'
// settlements only ("scope": "accounts"), nothing of the service's internals.
#include <cmath>

#include "api/errors.h"
#include "api/request_parsing.h"
#include "api/routes.h"
#include "domain/status.h"

namespace sc::api {
namespace {

constexpr std::chrono::seconds kRateWindow{60};
constexpr std::chrono::seconds kLatencyWindow{300};
constexpr int kSeriesSeconds = 60;

// Milliseconds with microsecond precision, as a JSON number (a figure, not money).
Json millis(const std::optional<Duration>& d) {
  if (!d) return nullptr;
  return static_cast<double>(d->count()) / 1000.0;
}

double rounded(double v) { return std::round(v * 100.0) / 100.0; }

}  // namespace

HttpResponse Api::overview(const HttpRequest&, Caller& c) {
  const Clock& clock = deps_.clock ? *deps_.clock : static_cast<const Clock&>(system_clock_);
  const Timestamp now = clock.now();

  // Counts: one bounded count per status (the status index), in the caller's scope.
  auto count = [&](store::ListQuery q) -> Result<store::SettlementPage> {
    q.visible_accounts = c.accounts;
    q.limit = 1;
    return deps_.settlements.list(q);
  };
  Json counts = Json::object();
  Json capped = Json::array();
  int64_t active = 0;
  for (Status s : kAllStatuses) {
    store::ListQuery q;
    q.statuses = {s};
    auto page = count(q);
    if (!page) return errorResponse(page.error());
    counts[std::string(toString(s))] = page->total;
    if (page->total_capped) capped.push_back(std::string(toString(s)));
    if (isActive(s)) active += page->total;
  }
  store::ListQuery stuck_q;
  stuck_q.stuck = store::ListQuery::Stuck{now};
  auto stuck = count(stuck_q);
  if (!stuck) return errorResponse(stuck.error());

  Json out;
  out["generated_at"] = formatTimestamp(now);
  out["scope"] = c.accounts ? "accounts" : "all";
  if (c.accounts) out["accounts"] = *c.accounts;
  out["counts"] = std::move(counts);
  out["counts_capped"] = std::move(capped);  // statuses with more than the cap (10,000)
  out["active"] = active;
  out["stuck"] = stuck->total;
  out["stuck_capped"] = stuck->total_capped;
  out["stuck_min_step_attempts"] = stuck_q.stuck->min_step_attempts;
  if (c.accounts) return jsonResponse(200, out);

  const OverviewSources& src = deps_.overview;
  if (src.throughput) {
    auto w = src.throughput->window(now, kRateWindow);
    Json series = Json::array();
    for (const auto& p : src.throughput->series(now, kSeriesSeconds))
      series.push_back(Json{{"at", formatTimestamp(p.at)},
                            {"accepted", p.accepted},
                            {"confirmed", p.confirmed},
                            {"settled", p.settled}});
    out["throughput"] =
        Json{{"window_seconds", w.span.count()},
             {"trades_accepted", w.accepted},
             {"settlements_confirmed", w.confirmed},
             {"settlements_settled", w.settled},
             {"trades_accepted_per_second", rounded(w.perSecond(w.accepted))},
             {"settlements_confirmed_per_second", rounded(w.perSecond(w.confirmed))},
             {"settlements_settled_per_second", rounded(w.perSecond(w.settled))},
             {"series", std::move(series)}};
    auto l = src.throughput->window(now, kLatencyWindow);
    out["confirmation_latency"] = Json{
        {"window_seconds", l.span.count()}, {"count", l.latency_count}, {"p50_ms", millis(l.p50)},
        {"p90_ms", millis(l.p90)},          {"p99_ms", millis(l.p99)},  {"max_ms", millis(l.max)}};
  } else {
    out["throughput"] = nullptr;
    out["confirmation_latency"] = nullptr;
  }

  Json kafka;
  kafka["consumer_lag"] = nullptr;
  if (src.consumer_lag) {
    if (auto lag = src.consumer_lag()) kafka["consumer_lag"] = *lag;
  }
  out["kafka"] = std::move(kafka);

  Json relay;
  std::string role = "off";
  if (deps_.ready_details) {
    auto details = deps_.ready_details();
    if (auto it = details.find("relay"); it != details.end()) role = it->second;
  }
  relay["role"] = role;
  relay["backlog"] = nullptr;
  if (src.relay_backlog) {
    if (auto b = src.relay_backlog())
      relay["backlog"] = *b;
    else
      relay["backlog_error"] = b.error().message;
  }
  out["relay"] = std::move(relay);

  Json health = Json::array();
  for (const auto& [name, check] : src.health) {
    Json h{{"name", name}};
    if (!check) {
      h["status"] = "off";
    } else if (auto r = check(); r) {
      h["status"] = "ok";
    } else {
      h["status"] = "unavailable";
      h["code"] = r.error().code;
      h["message"] = r.error().message;
    }
    health.push_back(std::move(h));
  }
  out["health"] = std::move(health);
  return jsonResponse(200, out);
}

}  // namespace sc::api

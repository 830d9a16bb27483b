#include "reconciliation/event_tracker.h"

#include "messaging/event_payload.h"

namespace sc::reconciliation {
namespace {

using Json = nlohmann::json;

constexpr size_t kExcerptBytes = 1024;

std::string excerpt(const std::string& s) {
  if (s.size() <= kExcerptBytes) return s;
  return s.substr(0, kExcerptBytes) + "…";
}

Json where(const TapMessage& m) {
  return Json{{"partition", m.partition}, {"offset", m.offset}, {"key", excerpt(m.key)}};
}

}  // namespace

std::optional<Uuid> EventTracker::eventIdOf(const std::string& payload) {
  auto j = Json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("event_id") || !j["event_id"].is_string()) return std::nullopt;
  return Uuid::parsePrefixed(j["event_id"].get<std::string>(), kEventPrefix);
}

EventTracker::Observation EventTracker::observe(const TapMessage& m,
                                                const std::optional<SettlementEvent>& row,
                                                int64_t watermark) {
  Observation out;
  auto payload = Json::parse(m.payload, nullptr, /*allow_exceptions=*/false);
  if (!row) {
    Draft d;
    d.kind = std::string(kind::kEventForged);
    std::string event_id;
    if (payload.is_object()) {
      if (payload.contains("event_id") && payload["event_id"].is_string())
        event_id = payload["event_id"].get<std::string>();
      if (payload.contains("settlement_id") && payload["settlement_id"].is_string())
        d.settlement_id =
            Uuid::parsePrefixed(payload["settlement_id"].get<std::string>(), kSettlementPrefix);
    }
    if (!d.settlement_id) d.settlement_id = Uuid::parsePrefixed(m.key, kSettlementPrefix);
    if (!d.settlement_id)
      d.subject = !event_id.empty()
                      ? excerpt(event_id)
                      : "p" + std::to_string(m.partition) + "@" + std::to_string(m.offset);
    d.evidence = where(m);
    d.evidence["event_id"] = excerpt(event_id);
    d.evidence["payload"] = excerpt(m.payload);
    d.evidence["differences"] = Json::array(
        {payload.is_object() ? (event_id.empty() ? "the event carries no event_id"
                                                 : "no audit row has event id " + excerpt(event_id))
                             : "the message is not a JSON object"});
    out.drafts.push_back(std::move(d));
    return out;
  }

  // Content: exactly what the relay produces from the audit row.
  const auto expected = Json::parse(messaging::buildEventPayload(*row));
  Json differences = Json::array();
  Json fields = Json::object();
  if (m.key != messaging::eventKey(*row))
    differences.push_back("the key is '" + excerpt(m.key) + "', the audit row's settlement is " +
                          messaging::eventKey(*row));
  if (!payload.is_object()) {
    differences.push_back("the message is not a JSON object");
  } else {
    for (const auto& [k, v] : expected.items())
      if (!payload.contains(k) || payload[k] != v)
        fields[k] = Json{{"audit", v}, {"topic", payload.contains(k) ? payload[k] : Json()}};
    for (const auto& [k, v] : payload.items())
      if (!expected.contains(k)) fields[k] = Json{{"audit", Json()}, {"topic", v}};
    if (!fields.empty()) differences.push_back("the payload differs from the audit row's event");
  }
  if (!differences.empty()) {
    Draft d;
    d.kind = std::string(kind::kEventForged);
    d.settlement_id = row->settlement_id;
    d.evidence = where(m);
    d.evidence["event_id"] = row->id.prefixed(kEventPrefix);
    d.evidence["position"] = row->position;
    d.evidence["fields"] = std::move(fields);
    d.evidence["differences"] = std::move(differences);
    if (!payload.is_object()) d.evidence["payload"] = excerpt(m.payload);
    out.drafts.push_back(std::move(d));
    return out;
  }

  if (row->position <= floor_) return out;  // before this tracker started: not its to judge
  if (row->position <= watermark) {
    out.late = *row;
    return out;
  }
  Order& o = order_[row->settlement_id];
  if (!o.positions.insert(row->position).second) return out;  // a duplicate of a seen event
  seen_.insert(row->id);
  if (row->position < o.max_position) {
    Draft d;
    d.kind = std::string(kind::kEventOutOfOrder);
    d.settlement_id = row->settlement_id;
    d.evidence = where(m);
    d.evidence["event_id"] = row->id.prefixed(kEventPrefix);
    d.evidence["event_type"] = std::string(eventTypeFor(row->status));
    d.evidence["position"] = row->position;
    d.evidence["seen_after_position"] = o.max_position;
    d.evidence["differences"] =
        Json::array({"first seen after an event of the same settlement that the audit trail "
                     "records later"});
    out.drafts.push_back(std::move(d));
  }
  o.max_position = std::max(o.max_position, row->position);
  return out;
}

void EventTracker::evict(int64_t watermark) {
  for (auto it = order_.begin(); it != order_.end();) {
    if (it->second.max_position <= watermark)
      it = order_.erase(it);
    else
      ++it;
  }
}

}  // namespace sc::reconciliation

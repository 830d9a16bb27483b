#include "messaging/event_payload.h"

#include <nlohmann/json.hpp>

namespace sc::messaging {

std::string buildEventPayload(const SettlementEvent& e) {
  nlohmann::json out = nlohmann::json::object();
  out["event_id"] = e.id.prefixed(kEventPrefix);
  out["event_type"] = std::string(eventTypeFor(e.status));
  out["settlement_id"] = e.settlement_id.prefixed(kSettlementPrefix);
  auto details = nlohmann::json::parse(e.details, nullptr, /*allow_exceptions=*/false);
  if (details.is_object()) {
    for (auto& [k, v] : details.items())
      if (!out.contains(k)) out[k] = v;
  }
  out["status"] = std::string(toString(e.status));
  out["timestamp"] = formatTimestamp(e.created_at);
  return out.dump();
}

}  // namespace sc::messaging

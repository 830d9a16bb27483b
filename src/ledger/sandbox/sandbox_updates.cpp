// POST /v2/updates: the updates this sandbox rendered (transactions and reassignments), in offset
// order, between beginExclusive and endInclusive (the ledger end when absent: answered at once,
// never an open-ended stream), at most `limit`. The requesting parties come from updateFormat
// (or the legacy filter); an update is included when one of them acted in it, as completions are.
// Events are rendered as the submission's answer rendered them (TRANSACTION_SHAPE_ACS_DELTA).
#include <algorithm>

#include "ledger/sandbox/sandbox_internal.h"

namespace sc::ledger::sandbox {
namespace {

using daml::Category;

// The parties of an updates request: updateFormat.includeTransactions.eventFormat, else the
// legacy filter.
std::vector<std::string> requestedParties(const Json& body) {
  const Json* filters = nullptr;
  if (body.contains("updateFormat")) {
    const Json& f = body["updateFormat"];
    if (f.contains("includeTransactions") && f["includeTransactions"].contains("eventFormat"))
      filters = &f["includeTransactions"]["eventFormat"]["filtersByParty"];
  } else if (body.contains("filter")) {
    filters = &body["filter"]["filtersByParty"];
  }
  std::vector<std::string> out;
  if (filters && filters->is_object())
    for (const auto& [party, _] : filters->items()) out.push_back(party);
  return out;
}

}  // namespace

HttpReply Sandbox::updates(const Caller& c, const Json& body,
                           const std::map<std::string, std::string>& query) {
  if (!body.contains("beginExclusive") || !body["beginExclusive"].is_number_integer())
    return invalidArgument("missing field 'beginExclusive'");
  const int64_t begin = body["beginExclusive"].get<int64_t>();
  const int64_t ledger_end = engine_->ledgerEnd();
  int64_t end = ledger_end;
  if (body.contains("endInclusive")) {
    if (!body["endInclusive"].is_number_integer())
      return invalidArgument("'endInclusive' must be an offset");
    end = body["endInclusive"].get<int64_t>();
  }
  if (begin < 0 || end < begin)
    return invalidArgument("the offsets must satisfy 0 <= begin <= end");
  if (end > ledger_end) {
    return errorReply("OFFSET_AFTER_LEDGER_END",
                      Category::kInvalidGivenCurrentSystemStateSeekAfterEnd,
                      "End offset (" + std::to_string(end) + ") is after ledger end (" +
                          std::to_string(ledger_end) + ")");
  }
  if (begin < store_.prunedUpTo()) return prunedDataAccessed("Updates", begin, store_.prunedUpTo());
  const auto parties = requestedParties(body);
  if (parties.empty()) return invalidArgument("the update format must name at least one party");
  for (const auto& p : parties)
    if (!c.canRead(p)) return permissionDenied("user '" + c.user.id + "' may not read as " + p);
  size_t limit = SIZE_MAX;
  if (auto it = query.find("limit"); it != query.end()) {
    try {
      limit = std::stoul(it->second);
    } catch (...) {
      return invalidArgument("query parameter 'limit' must be a number");
    }
  }
  std::string out = "[";
  size_t n = 0;
  std::string last_update;
  // Completions are recorded in offset order, one per command (a reassignment's events follow
  // their command's).
  const auto& all = store_.completions();
  auto from = std::partition_point(all.begin(), all.end(),
                                   [&](const CompletionRecord& r) { return r.offset <= begin; });
  for (auto it = from; it != all.end() && it->offset <= end && n < limit; ++it) {
    if (it->update_id == last_update) continue;
    bool visible = false;
    for (const auto& p : it->act_as)
      visible = visible || std::count(parties.begin(), parties.end(), p);
    if (!visible) continue;
    const std::string* u = store_.update(it->update_id);
    if (!u) continue;
    last_update = it->update_id;
    if (n++) out += ',';
    out += "{\"update\":";
    out += *u;
    out += '}';
  }
  out += ']';
  return HttpReply{200, std::move(out), false};
}

}  // namespace sc::ledger::sandbox

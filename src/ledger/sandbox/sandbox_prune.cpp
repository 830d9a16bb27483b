// POST /sandbox/prune {"pruneUpTo": n}: prunes the participant up to offset n (inclusive), as a
// participant's operator does through Canton's pruning service (the admin API's
// ParticipantPruningService.Prune; the JSON Ledger API has no such endpoint, hence a sandbox path).
// Afterwards, as on a participant:
// - GET /v2/state/latest-pruned-offsets answers n;
// - completions and updates reads that begin below n are refused with
//   PARTICIPANT_PRUNED_DATA_ACCESSED (context earliest_offset); from n on they are answered;
// - update-by-id of an update at or below n is UPDATE_NOT_FOUND, events-by-contract-id of a
//   contract archived at or below n CONTRACT_EVENTS_NOT_FOUND; active contracts stay whole;
// - a submission whose deduplication period starts below n is refused with
//   INVALID_DEDUPLICATION_PERIOD and never run (one without a period as well: a participant uses
//   its maximum deduplication duration and never prunes within it; the sandbox prunes at once,
//   so it cannot tell that such a command did not run before n).
// The engine prunes first (below n: its completion at n stays, so a period that starts at n is
// checked) and compacts its journal; then the sandbox's records drop what is at or below n and
// are compacted too. Memory and files hold only what is kept.
#include "common/log.h"
#include "ledger/sandbox/sandbox_internal.h"

namespace sc::ledger::sandbox {

HttpReply Sandbox::prune(const Caller& c, const Json& body) {
  if (!c.user.participant_admin) return permissionDenied("pruning needs ParticipantAdmin");
  auto it = body.find("pruneUpTo");
  if (it == body.end() || !it->is_number_integer() || it->get<int64_t>() <= 0)
    return invalidArgument("'pruneUpTo' must be an offset, a positive integer");
  const int64_t upto = it->get<int64_t>();
  const int64_t end = engine_->ledgerEnd();
  if (upto > end) {
    return errorReply(
        daml::kOffsetAfterLedgerEnd, daml::Category::kInvalidGivenCurrentSystemStateSeekAfterEnd,
        "pruneUpTo " + std::to_string(upto) + " is after the ledger end " + std::to_string(end));
  }
  const bool pruned_already = upto <= store_.prunedUpTo();
  if (!pruned_already) {
    // The engine first, made durable: the store's record of the pruning never precedes it.
    auto engine = engine_->prune(upto);
    if (!engine) return errorReply(cantonErrorOf(engine.error()));
    if (auto r = engine_->syncUpTo(engine_->journalPosition()); !r)
      return errorReply(cantonErrorOf(r.error()));
    // Every command the engine holds is recorded by the sandbox, and synced, before the engine's
    // journal becomes a snapshot in which dropUnrenderedTail could no longer cut one.
    if (auto r = store_.sync(store_.version()); !r) return errorReply(cantonErrorOf(r.error()));
    if (auto r = engine_->compact(); !r) return errorReply(cantonErrorOf(r.error()));
  }
  // (Pruned already: nothing, or the compaction of the sandbox's records that failed last time.)
  auto store = store_.prune(upto);
  if (!store) return errorReply(cantonErrorOf(store.error()));
  Json out{{"prunedUpTo", store_.prunedUpTo()}};
  if (pruned_already) return jsonReply(200, out);
  log::get("sandbox")->info(
      "sandbox: pruned up to offset {} (ledger end {}): {} completions, {} updates and {} "
      "archived contracts dropped",
      upto, end, store->completions, store->updates, store->contracts);
  out["completions"] = store->completions;
  out["updates"] = store->updates;
  out["contracts"] = store->contracts;
  return jsonReply(200, out);
}

}  // namespace sc::ledger::sandbox

#include "reconciliation/reconciler.h"

#include <algorithm>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "common/log.h"
#include "domain/command_ids.h"
#include "messaging/errors.h"
#include "reconciliation/checks.h"
#include "reconciliation/errors.h"

namespace sc::reconciliation {
namespace {

using Json = nlohmann::json;

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("reconciliation");
  return l;
}

// Messages one pass reads from the topic before it judges anything, at most.
constexpr size_t kDrainPerPass = 50000;
constexpr int kPollBatch = 2000;
// Audit rows read per settlement of the batch, on average (a settlement writes about seven).
constexpr int kEventsPerSettlement = 8;

std::string settleCommand(const Settlement& s, int round) {
  Settlement r = s;
  r.round = round;
  return commandId(r, steps::kSettle);
}

// Whether the ledger already holds the completion of the row's next step: its answer was lost
// (the row waits to resend it under the same id) or its worker died before writing it. The row is
// then behind the ledger, and compared once a worker has caught up.
Result<bool> behindLedger(ledger::Ledger& ledger, const Settlement& s) {
  Settlement next = s;
  std::string_view step = nextLedgerStep(s.status);
  if (s.status == Status::kPartiallySettled) {  // the remainder's next round starts with a lock
    next.round++;
    step = steps::kLockSecurities;
  }
  if (step.empty()) return false;
  auto done = ledger.completionAfter(commandId(next, step), s.stepFloor());
  if (!done) return done.error();
  if (done->has_value() || step != steps::kReassign) return done->has_value();
  // A reassignment that moved nothing has no completion on a participant (the adapter submits no
  // command for it): the round may still have settled (the workflow's catch-up does the same).
  auto settle = ledger.completionAfter(commandId(next, steps::kSettle), s.stepFloor());
  if (!settle) return settle.error();
  return settle->has_value();
}

// Whether the row changed between the two reads of a pass in a way that matters for what was
// compared: for a resting active row anything a worker writes; for the others their ledger side.
bool unchanged(const store::ReconciliationRow& a, const store::ReconciliationRow& b) {
  const Settlement& x = a.settlement;
  const Settlement& y = b.settlement;
  bool same = x.status == y.status && x.round == y.round &&
              x.dvp_contract_id == y.dvp_contract_id &&
              x.dvp_atomic_transaction_id == y.dvp_atomic_transaction_id &&
              x.settled_quantity == y.settled_quantity && x.settled_amount == y.settled_amount;
  if (!same) return false;
  if (x.status == Status::kSettled || x.status == Status::kConfirmed || x.status == Status::kFailed)
    return true;
  return a.leased == b.leased && x.locked_quantity == y.locked_quantity &&
         x.locked_amount == y.locked_amount && x.updated_at == y.updated_at &&
         x.next_attempt_at == y.next_attempt_at && x.step_attempt == y.step_attempt &&
         x.seller_securities_ledger_ref == y.seller_securities_ledger_ref &&
         x.buyer_cash_ledger_ref == y.buyer_cash_ledger_ref;
}

}  // namespace

ReconcilerMetrics::ReconcilerMetrics() {
  for (auto k : kind::kAll)
    open.emplace(std::string(k),
                 probe.gauge("sc_reconciliation_findings", "Open reconciliation findings by kind",
                             {{"kind", std::string(k)}}));
}

// The state of one pass.
struct Reconciler::Pass {
  store::ReconciliationState state;
  Timestamp now{};
  PassReport report;
};

Reconciler::Reconciler(store::ReconciliationRepository& repo, store::AccountRepository& accounts,
                       ledger::Ledger& ledger, const Clock& clock, ReconcilerOptions options,
                       TapFactory tap, const MonotonicClock& elapsed)
    : repo_(repo),
      accounts_(accounts),
      ledger_(ledger),
      clock_(clock),
      elapsed_(elapsed),
      opt_(std::move(options)),
      tap_factory_(std::move(tap)) {}

Reconciler::~Reconciler() { stop(); }

void Reconciler::electWith(std::unique_ptr<store::SessionAdvisoryLock> lock) {
  std::lock_guard l(pass_mu_);
  lock_ = std::move(lock);
}

void Reconciler::start() {
  if (!opt_.enabled || thread_.joinable()) return;
  {
    std::lock_guard l(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void Reconciler::stop() {
  {
    std::lock_guard l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard l(pass_mu_);
  tap_.reset();
  tracker_.reset();
  if (lock_) lock_->release();
}

void Reconciler::loop() {
  for (;;) {
    auto r = runPass();
    if (!r && r.error().code != kReconcilerStandby)
      logger()->warn("reconciliation pass failed: {} ({})", r.error().message, r.error().code);
    std::unique_lock l(mu_);
    if (cv_.wait_for(l, opt_.interval, [&] { return stopping_; })) return;
  }
}

std::string Reconciler::role() const {
  switch (role_.load()) {
    case 1:
      return "leader";
    case 2:
      return "standby";
    default:
      return "off";
  }
}

Result<void> Reconciler::ensureLeader() {
  if (!lock_) {
    role_ = 1;
    return {};
  }
  Result<bool> held = lock_->held() ? lock_->confirm() : lock_->tryAcquire();
  const bool leader = held && *held;
  const int before = role_.exchange(leader ? 1 : 2);
  if (leader != (before == 1))
    logger()->info("reconciler {}",
                   leader ? "took the lead" : "stands by (another instance leads)");
  if (!leader) {
    // What the tap read belongs to the leadership just lost (or never had).
    tap_.reset();
    tracker_.reset();
    return Error::transient(std::string(kReconcilerStandby),
                            "another instance holds the reconciler's lock and runs the passes" +
                                (held ? std::string() : "; " + held.error().message));
  }
  return {};
}

Result<PassReport> Reconciler::runPass() {
  std::lock_guard l(pass_mu_);
  if (auto lead = ensureLeader(); !lead) return lead.error();
  auto r = pass();
  if (!r) {
    metrics_.errors.inc();
    // A failed pass may have read part of the topic: start the event comparison afresh.
    if (r.error().code == messaging::kKafkaUnavailable) {
      tap_.reset();
      tracker_.reset();
    }
  }
  return r;
}

Result<void> Reconciler::openTap() {
  auto tap = tap_factory_();
  if (!tap) return tap.error();
  // The floor is read after the tap is positioned at the topic's end: every audit row above it
  // commits, hence is relayed, after that, so the tap can see it.
  auto h = repo_.eventHorizon();
  if (!h) return h.error();
  tap_ = std::move(*tap);
  tracker_.emplace(h->max_position);
  logger()->info("reading settlement.events from its end; audit rows above {} are compared",
                 h->max_position);
  return {};
}

Result<bool> Reconciler::raise(Pass& p, const Draft& d) {
  store::Finding f;
  f.kind = d.kind;
  f.settlement_id = d.settlement_id;
  f.subject = d.subject;
  f.evidence = d.evidence.dump(-1, ' ', false, Json::error_handler_t::replace);
  f.found_at = p.now;
  auto r = repo_.raise(f);
  if (!r) return r.error();
  if (*r) {
    ++p.report.raised;
    metrics_.raised.inc();
    logger()->warn("drift {}: settlement {} {}", d.kind,
                   d.settlement_id ? d.settlement_id->prefixed(kSettlementPrefix) : "-",
                   f.evidence.substr(0, 400));
  }
  return *r;
}

Result<void> Reconciler::resolve(Pass& p, int64_t finding_id, const Json& resolution) {
  auto r = repo_.resolve(finding_id, p.now, resolution.dump());
  if (!r) return r.error();
  if (*r) {
    ++p.report.resolved;
    metrics_.resolved.inc();
  }
  return {};
}

Result<void> Reconciler::resolveLateMissing(Pass& p, const SettlementEvent& e) {
  store::FindingQuery q;
  q.status = "open";
  q.kind = std::string(kind::kEventMissing);
  q.limit = 1000;
  auto open = repo_.findings(q);
  if (!open) return open.error();
  const std::string event_id = e.id.prefixed(kEventPrefix);
  for (const auto& f : *open) {
    if (f.settlement_id != e.settlement_id) continue;
    auto ev = Json::parse(f.evidence, nullptr, false);
    if (!ev.is_object() || ev.value("event_id", "") != event_id) continue;
    Json res{{"seen_at", formatTimestamp(p.now)},
             {"note", "the event was seen on settlement.events after it had been reported"}};
    if (auto r = resolve(p, f.id, res); !r) return r.error();
  }
  return {};
}

Result<void> Reconciler::drainTap(Pass& p, int64_t watermark, size_t max_messages) {
  size_t read = 0;
  while (read < max_messages && tracker_->buffered() < opt_.max_buffered_events) {
    auto msgs = tap_->poll(kPollBatch);
    if (!msgs) return msgs.error();
    if (msgs->empty()) return {};
    read += msgs->size();
    std::vector<std::optional<Uuid>> ids;
    std::vector<Uuid> lookup;
    for (const auto& m : *msgs) {
      ids.push_back(EventTracker::eventIdOf(m.payload));
      if (ids.back()) lookup.push_back(*ids.back());
    }
    auto rows = repo_.eventsByIds(lookup);
    if (!rows) return rows.error();
    std::unordered_map<Uuid, const SettlementEvent*, UuidHash> by_id;
    for (const auto& e : *rows) by_id[e.id] = &e;
    for (size_t i = 0; i < msgs->size(); ++i) {
      std::optional<SettlementEvent> row;
      if (ids[i]) {
        if (auto it = by_id.find(*ids[i]); it != by_id.end()) row = *it->second;
      }
      auto obs = tracker_->observe((*msgs)[i], row, watermark);
      for (const auto& d : obs.drafts)
        if (auto r = raise(p, d); !r) return r.error();
      if (obs.late)
        if (auto r = resolveLateMissing(p, *obs.late); !r) return r;
    }
  }
  return {};
}

Result<void> Reconciler::ledgerMovements(Pass& p) {
  int64_t offset = p.state.ledger_offset;
  auto page = ledger_.movementsSince(offset, std::max(1, opt_.ledger_batch));
  if (!page && page.error().code == ledger::kLedgerPruned) {
    // The ledger was pruned past this position before it was read (a reconciler turned on
    // later, or one that fell behind the pruning; a participant pruned by its operator). What
    // moved there cannot be read any more: record the range as not compared, and go on from
    // the pruned offset.
    auto upto = ledger_.prunedUpTo();
    if (!upto) return upto.error();
    if (*upto <= offset)
      return page.error();  // not what the refusal says: the next pass asks again
    Draft d;
    d.kind = std::string(kind::kLedgerRangePruned);
    d.subject = std::to_string(offset + 1) + ".." + std::to_string(*upto);
    d.evidence = {{"after_offset", offset},
                  {"pruned_up_to", *upto},
                  {"note",
                   "the ledger was pruned past these offsets before the reconciler read them: "
                   "their settles and credits were not compared, and the asset totals take a new "
                   "baseline after them"}};
    auto raised = raise(p, d);
    if (!raised) return raised.error();
    if (*raised) metrics_.pruned_offsets.inc(static_cast<uint64_t>(*upto - offset));
    // The credits in the range are unknown: the totals after it are the new baseline.
    p.state.expected_totals.clear();
    p.state.ledger_offset = offset = *upto;
    page = ledger_.movementsSince(offset, std::max(1, opt_.ledger_batch));
  }
  if (!page) return page.error();
  // Settles: each must be a settlement's, by its command id "<set_…>:settle:<round>".
  std::vector<Uuid> named;
  for (const auto& m : page->movements)
    if (m.kind == ledger::MovementView::Kind::kSettle)
      if (auto id = settlementOfCommand(m.command_id)) named.push_back(*id);
  auto rows = repo_.settlements(named);
  if (!rows) return rows.error();
  std::unordered_set<Uuid, UuidHash> known;
  for (const auto& r : *rows) known.insert(r.settlement.id);
  std::vector<const ledger::MovementView*> unknown;
  std::vector<std::string> dvps;
  for (const auto& m : page->movements) {
    if (m.kind == ledger::MovementView::Kind::kCredit) {
      // Credits change the supply: the expected total follows (assets without a baseline take
      // the ledger's total when ledgerTotals() first meets them).
      if (auto it = p.state.expected_totals.find(m.asset); it != p.state.expected_totals.end()) {
        auto sum = it->second.add(m.credited);
        if (!sum) return sum.error();
        it->second = *sum;
      }
      continue;
    }
    auto id = settlementOfCommand(m.command_id);
    if (id && known.count(*id)) continue;
    unknown.push_back(&m);
    dvps.push_back(m.dvp_contract_id);
  }
  if (!unknown.empty()) {
    // Rare (tampering, another writer on the ledger): whose DvP was it?
    auto owners = repo_.settlementsByDvp(dvps);
    if (!owners) return owners.error();
    for (const auto* m : unknown) {
      std::optional<Settlement> owner;
      for (const auto& s : *owners)
        if (s.dvp_contract_id == m->dvp_contract_id) owner = s;
      if (auto r = raise(p, unknownSettle(*m, owner)); !r) return r.error();
    }
  }
  p.state.ledger_offset = page->end_offset;
  p.report.ledger_offset = page->end_offset;
  // Totals only once every movement up to the ledger end is counted.
  if (page->at_end) return ledgerTotals(p);
  return {};
}

namespace {
// An offset in a finding's evidence (0 when absent or unreadable).
int64_t evidenceOffset(const std::string& evidence, const char* key) {
  Json j = Json::parse(evidence, nullptr, false);
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}
}  // namespace

Result<void> Reconciler::ledgerTotals(Pass& p) {
  auto totals = ledger_.totals();
  if (!totals) return totals.error();
  // A credit committed after the movements were read may be in these totals but not yet in the
  // expected ones: compare only when none came meanwhile (settles never change a total).
  auto after = ledger_.movementsSince(p.state.ledger_offset, 1000);
  if (!after) return after.error();
  if (!after->at_end) return {};  // more came meanwhile than one read shows: compare later
  for (const auto& m : after->movements)
    if (m.kind == ledger::MovementView::Kind::kCredit) return {};

  store::FindingQuery q;
  q.status = "open";
  q.kind = std::string(kind::kLedgerTotalChanged);
  q.limit = 1000;
  auto open = repo_.findings(q);
  if (!open) return open.error();
  // A baseline taken again after a pruned range is no evidence that a total found wrong before
  // that range came right: it may be the wrong total itself. Such findings stay open for the
  // operator; only one raised after the latest range can resolve by itself.
  int64_t rebased_at = 0;
  if (!open->empty()) {  // only a pass with something to resolve needs the latest range
    store::FindingQuery rq;
    rq.kind = std::string(kind::kLedgerRangePruned);
    rq.limit = 1;  // the newest: ranges only move forward
    auto ranges = repo_.findings(rq);
    if (!ranges) return ranges.error();
    if (!ranges->empty()) rebased_at = evidenceOffset(ranges->front().evidence, "pruned_up_to");
  }
  std::map<std::string, LedgerAmount> actual;
  for (const auto& t : *totals) actual[t.asset] = t.total;
  for (const auto& [asset, expected] : p.state.expected_totals)
    actual.emplace(asset, LedgerAmount());  // gone from the ledger: a total of zero
  for (const auto& [asset, total] : actual) {
    auto it = p.state.expected_totals.find(asset);
    if (it == p.state.expected_totals.end()) {
      p.state.expected_totals.emplace(asset, total);  // first met: the baseline
      continue;
    }
    if (auto d = checkTotal(asset, it->second, total, p.state.ledger_offset)) {
      if (auto r = raise(p, *d); !r) return r.error();
      continue;
    }
    for (const auto& f : *open) {
      if (f.subject != asset) continue;
      if (evidenceOffset(f.evidence, "ledger_offset") < rebased_at) continue;
      Json res{{"ledger_total", total.toString(Decimal::kScale)},
               {"ledger_offset", p.state.ledger_offset},
               {"note", "the ledger's total equals the expected total again"}};
      if (auto r = resolve(p, f.id, res); !r) return r.error();
    }
  }
  return {};
}

// Positions come from one sequence and are drawn before their transaction commits, so a
// transaction still running may commit a position below one already visible. The watermark passes
// only what is visible without a hole below it; a hole is passed once it is known for good: every
// transaction that was running when it was seen has ended (in a quiet database, at once), or it
// has stayed a hole for kHoleWait (a long transaction elsewhere holds the database's oldest
// snapshot back; writes of settlements run under DB_STATEMENT_TIMEOUT_MS, so a hole that old is a
// rolled-back transaction's). Passing a hole that later fills would leave that event unchecked,
// never report a false finding.
Result<size_t> Reconciler::visiblePrefix(const std::vector<SettlementEvent>& events, int64_t from,
                                         std::string& blocked) {
  int64_t expected = from + 1;
  for (size_t i = 0; i < events.size(); ++i) {
    const int64_t pos = events[i].position;
    if (pos == expected) {
      ++expected;
      continue;
    }
    auto seen = holes_.try_emplace(expected, elapsed_.now()).first->second;
    bool final_hole = elapsed_.now() - seen >= kHoleWait;
    if (!final_hole) {
      auto h = repo_.eventHorizon();
      if (!h) return h.error();
      auto done = repo_.horizonFinal(*h);
      if (!done) return done.error();
      final_hole = *done;
    }
    if (!final_hole) {
      blocked = "audit position " + std::to_string(expected) + " not committed (yet)";
      return i;
    }
    expected = pos + 1;
  }
  for (auto it = holes_.begin(); it != holes_.end() && it->first <= from;) it = holes_.erase(it);
  return events.size();
}

// Why comparing a row with the ledger cannot race the workflow into a false finding:
//  - SETTLED, CONFIRMED: the settle is committed and irreversible; nothing of the row's rounds can
//    change on the ledger any more (a worker may still verify finality: it writes, it never
//    submits).
//  - FAILED: the workflow records FAILED only after the round is fenced on the ledger (locks
//    released, DvP archived, or its create command id taken), so nothing of it can commit later.
//    A retry writes the database first (a new round, new command ids, a new DvP), which the
//    confirming read sees.
//  - Active rows (PENDING … EXECUTING, PARTIALLY_SETTLED) are compared only while they rest: no
//    lease (lease_until and lease_token are NULL: a worker takes the lease before its ledger
//    command and clears it only in the write that records the outcome, so no step is in flight;
//    a worker that died mid-step leaves its token, and the row is skipped until the next worker
//    has recovered it), not due before now + REC_QUIET_MS (workers lease only due rows), not
//    failing (its release may be answered or lost: it is compared once FAILED), and not behind
//    the ledger: the ledger holds no completion of its next step (a step whose answer was lost
//    commits without the row knowing until the resend learns it).
// After the ledger reads, the rows are read again: a finding is recorded only if the row is as it
// was, and for active rows only if the whole comparison took less than REC_QUIET_MS, so no worker
// could have leased the row and acted on the ledger in between. Otherwise the row is compared
// again by a later pass.
static bool rests(const store::ReconciliationRow& r, Timestamp now, Duration quiet) {
  const Settlement& s = r.settlement;
  switch (s.status) {
    case Status::kSettled:
    case Status::kConfirmed:
    case Status::kFailed:
      return true;
    default:
      return !r.leased && s.next_attempt_at > now + quiet && s.failure_code.empty();
  }
}

Result<void> Reconciler::auditTrail(Pass& p) {
  const Duration quiet = std::chrono::duration_cast<Duration>(opt_.quiet);
  const int64_t from = p.state.watermark;
  const int limit = std::max(1, opt_.batch) * kEventsPerSettlement;
  auto events = repo_.eventsAfter(from, std::numeric_limits<int64_t>::max(), limit);
  if (!events) return events.error();
  auto visible = visiblePrefix(*events, from, p.report.blocked);
  if (!visible) return visible.error();
  events->resize(*visible);

  // The batch: the settlements of the first REC_BATCH distinct settlements' audit rows.
  std::vector<Uuid> batch;
  std::unordered_set<Uuid, UuidHash> in_batch;
  size_t cut = events->size();
  for (size_t i = 0; i < events->size(); ++i) {
    const Uuid& sid = (*events)[i].settlement_id;
    if (in_batch.count(sid)) continue;
    if (static_cast<int>(batch.size()) == std::max(1, opt_.batch)) {
      cut = i;
      break;
    }
    batch.push_back(sid);
    in_batch.insert(sid);
  }
  events->resize(cut);

  // Re-checks: the settlements of the oldest open findings a re-check can clear.
  auto open = repo_.openFindings(std::max(1, opt_.batch));
  if (!open) return open.error();
  std::unordered_map<Uuid, std::vector<const store::Finding*>, UuidHash> open_by_settlement;
  std::vector<Uuid> ids = batch;
  for (const auto& f : *open) {
    if (!f.settlement_id || !kind::isSettlementKind(f.kind)) continue;
    if (!in_batch.count(*f.settlement_id) && !open_by_settlement.count(*f.settlement_id))
      ids.push_back(*f.settlement_id);
    open_by_settlement[*f.settlement_id].push_back(&f);
  }

  // First read, and which rows rest.
  const auto started = elapsed_.now();
  const Timestamp read_at = clock_.now();  // not the pass's start: the topic drain took time
  auto rows = repo_.settlements(ids);
  if (!rows) return rows.error();
  std::unordered_map<Uuid, store::ReconciliationRow, UuidHash> first;
  std::vector<const store::ReconciliationRow*> resting;
  for (auto& r : *rows) first.emplace(r.settlement.id, std::move(r));
  for (const auto& id : ids) {
    auto it = first.find(id);
    if (it == first.end() || !rests(it->second, read_at, quiet)) continue;
    if (isActive(it->second.settlement.status)) {
      auto behind = behindLedger(ledger_, it->second.settlement);
      if (!behind) return behind.error();
      if (*behind) continue;
    }
    resting.push_back(&it->second);
  }

  // The ledger's side of every resting row.
  std::vector<std::string> account_ids;
  for (const auto* r : resting) {
    account_ids.push_back(r->settlement.trade.buyer_account_id);
    account_ids.push_back(r->settlement.trade.seller_account_id);
  }
  std::sort(account_ids.begin(), account_ids.end());
  account_ids.erase(std::unique(account_ids.begin(), account_ids.end()), account_ids.end());
  auto accounts = accounts_.findMany(account_ids);
  if (!accounts) return accounts.error();
  std::map<std::string, std::string> party_of;
  for (const auto& a : *accounts) party_of[a.account_id] = a.canton_party;
  auto partyOf = [&](const std::string& account) {
    auto it = party_of.find(account);
    return it == party_of.end() ? std::string() : it->second;
  };

  std::map<std::string, std::optional<ledger::DvpView>> dvps;  // read once per pass
  auto dvpView = [&](const std::string& cid) -> Result<std::optional<ledger::DvpView>> {
    if (auto it = dvps.find(cid); it != dvps.end()) return it->second;
    auto v = ledger_.dvp(cid);
    if (!v) return v.error();
    dvps[cid] = *v;
    return *v;
  };
  // Locks per DvP, from the holdings of the parties of rows whose locks are checked.
  std::set<std::string> lock_parties;
  for (const auto* r : resting)
    if (needsLockCheck(r->settlement)) {
      lock_parties.insert(partyOf(r->settlement.trade.buyer_account_id));
      lock_parties.insert(partyOf(r->settlement.trade.seller_account_id));
    }
  lock_parties.erase("");
  std::map<std::string, std::vector<ledger::HoldingView>> locks_of;
  for (const auto& party : lock_parties) {
    auto hs = ledger_.holdings(party);
    if (!hs) return hs.error();
    for (auto& h : *hs)
      if (h.locked) locks_of[h.lock_dvp_contract_id].push_back(std::move(h));
  }

  std::unordered_map<Uuid, std::vector<Draft>, UuidHash> drafts;
  std::unordered_set<Uuid, UuidHash> unverifiable;  // pruned off the ledger
  for (const auto* r : resting) {
    SettlementFacts f;
    f.row = r->settlement;
    f.buyer_party = partyOf(f.row.trade.buyer_account_id);
    f.seller_party = partyOf(f.row.trade.seller_account_id);
    bool pruned = false;
    for (int round = 0; round <= f.row.round; ++round) {
      auto done = ledger_.completionAfter(settleCommand(f.row, round), f.row.ledger_offset_floor);
      if (!done && done.error().code == ledger::kLedgerPruned) {
        // The ledger was pruned past this finished settlement's commands (the watermark only
        // waits for live ones): its ledger side can no longer be read, so it is not compared,
        // and nothing is raised or resolved for it on a guess.
        pruned = true;
        break;
      }
      if (!done) return done.error();
      if (!*done) continue;
      LedgerSettle l;
      l.round = round;
      l.outcome = **done;
      auto v = dvpView(l.outcome.contract_id);
      if (!v) return v.error();
      l.dvp = *v;
      f.settles.push_back(std::move(l));
    }
    if (pruned) {
      unverifiable.insert(f.row.id);
      metrics_.unverifiable.inc();
      continue;
    }
    if (needsLockCheck(f.row)) {
      f.locks_read = true;
      if (auto it = locks_of.find(f.row.dvp_contract_id); it != locks_of.end())
        f.locks = it->second;
      auto v = dvpView(f.row.dvp_contract_id);
      if (!v) return v.error();
      f.dvp = *v;
    }
    drafts[f.row.id] = checkSettlement(f);
  }

  // Confirm: the rows are as they were, and the comparison was quick enough for active ones.
  std::vector<Uuid> resting_ids;
  for (const auto* r : resting) resting_ids.push_back(r->settlement.id);
  auto again = repo_.settlements(resting_ids);
  if (!again) return again.error();
  const bool in_time = elapsed_.now() - started < opt_.quiet;
  std::unordered_set<Uuid, UuidHash> confirmed;
  for (const auto& r : *again) {
    auto it = first.find(r.settlement.id);
    if (it == first.end() || !unchanged(it->second, r) || unverifiable.count(r.settlement.id))
      continue;
    if (!in_time && isActive(r.settlement.status) && r.settlement.status != Status::kConfirmed)
      continue;
    if (isActive(r.settlement.status) && !drafts[r.settlement.id].empty()) {
      // A command whose answer was lost (or a stalled worker's duplicate) may have committed
      // while the ledger was read: the row is behind the ledger, not drifted from it.
      auto behind = behindLedger(ledger_, r.settlement);
      if (!behind) return behind.error();
      if (*behind) continue;
    }
    confirmed.insert(r.settlement.id);
  }

  for (const auto& id : confirmed) {
    std::set<std::string> kinds;
    for (const auto& d : drafts[id]) {
      kinds.insert(d.kind);
      if (auto r = raise(p, d); !r) return r.error();
    }
    auto o = open_by_settlement.find(id);
    if (o == open_by_settlement.end()) continue;
    for (const auto* f : o->second) {
      if (kinds.count(f->kind)) continue;
      Json res{{"status", std::string(toString(first.at(id).settlement.status))},
               {"note", "a later pass found the settlement consistent with the ledger"}};
      if (auto r = resolve(p, f->id, res); !r) return r.error();
    }
  }

  // The audit rows: settlement compared, and (with Kafka) the event seen on the topic.
  const bool events_checked = tap_ && tracker_;
  size_t stop = events->size();
  // A settlement pruned off the ledger is not compared, but its audit rows are passed: it
  // finished, and would otherwise hold the trail back for good.
  for (size_t i = 0; i < events->size(); ++i)
    if (!confirmed.count((*events)[i].settlement_id) &&
        !unverifiable.count((*events)[i].settlement_id)) {
      stop = i;
      p.report.blocked =
          "settlement " + (*events)[i].settlement_id.prefixed(kSettlementPrefix) +
          " is in flight (" +
          (first.count((*events)[i].settlement_id)
               ? std::string(toString(first.at((*events)[i].settlement_id).settlement.status))
               : std::string("changed")) +
          ")";
      break;
    }
  std::vector<size_t> unseen;
  if (events_checked) {
    for (size_t i = 0; i < stop; ++i) {
      const auto& e = (*events)[i];
      if (e.position > tracker_->floor() && !tracker_->seen(e.id)) unseen.push_back(i);
    }
  }
  if (!unseen.empty()) {
    // Not seen yet: still in the outbox (the relay has not delivered it), or within the grace
    // period, it is not judged yet. Otherwise read the topic up to its end as it is now —
    // asked after the outbox said the row was delivered, so a delivered event is below it —
    // and what is still unseen then never reached the topic.
    std::vector<int64_t> positions;
    for (size_t i : unseen) positions.push_back((*events)[i].position);
    auto waiting = repo_.undelivered(positions);
    if (!waiting) return waiting.error();
    std::unordered_set<int64_t> in_outbox(waiting->begin(), waiting->end());
    std::vector<size_t> judge;
    for (size_t i : unseen) {
      const auto& e = (*events)[i];
      if (in_outbox.count(e.position)) {
        stop = std::min(stop, i);
        p.report.blocked = "event at position " + std::to_string(e.position) + " not relayed yet";
        break;
      }
      if (p.now < e.created_at + std::chrono::duration_cast<Duration>(opt_.event_grace)) {
        stop = std::min(stop, i);
        p.report.blocked = "event at position " + std::to_string(e.position) + " within grace";
        break;
      }
      judge.push_back(i);
    }
    if (!judge.empty()) {
      auto mark = tap_->mark();
      if (!mark) return mark.error();
      const auto until = elapsed_.now() + opt_.catch_up;
      while (!tap_->reached(*mark) && elapsed_.now() < until &&
             tracker_->buffered() < opt_.max_buffered_events) {
        if (auto r = drainTap(p, from, kPollBatch); !r) return r;
      }
      const bool caught_up = tap_->reached(*mark);
      const bool full = tracker_->buffered() >= opt_.max_buffered_events;
      for (size_t i : judge) {
        if (i >= stop) break;
        const auto& e = (*events)[i];
        if (tracker_->seen(e.id)) continue;
        if (!caught_up && !full) {
          stop = i;
          p.report.blocked = "reading settlement.events to its end";
          break;
        }
        Draft d;
        d.kind = std::string(kind::kEventMissing);
        d.settlement_id = e.settlement_id;
        d.evidence = Json{{"event_id", e.id.prefixed(kEventPrefix)},
                          {"event_type", std::string(eventTypeFor(e.status))},
                          {"position", e.position},
                          {"created_at", formatTimestamp(e.created_at)},
                          {"relayed", true},
                          {"topic_read_to_end", caught_up},
                          {"differences", Json::array({"the audit row left the outbox but its "
                                                       "event was never seen on the topic"})}};
        if (!caught_up) d.evidence["reader_buffer_full"] = true;
        if (auto r = raise(p, d); !r) return r.error();
      }
    }
  }

  // Advance the watermark over what was judged.
  std::unordered_set<Uuid, UuidHash> passed_settlements;
  int64_t watermark = from;
  for (size_t i = 0; i < stop; ++i) {
    const auto& e = (*events)[i];
    watermark = e.position;
    passed_settlements.insert(e.settlement_id);
    if (events_checked) tracker_->passed(e.id);
  }
  p.state.watermark = watermark;
  p.report.watermark = watermark;
  p.report.checked = static_cast<int>(passed_settlements.size());
  if (events_checked) tracker_->evict(watermark);
  return {};
}

Result<PassReport> Reconciler::pass() {
  Pass p;
  p.now = clock_.now();
  auto st = repo_.state();
  if (!st) return st.error();
  p.state = std::move(*st);
  p.report.watermark = p.state.watermark;
  p.report.ledger_offset = p.state.ledger_offset;

  if (tap_factory_ && !tap_)
    if (auto r = openTap(); !r) return r.error();
  if (tap_)
    if (auto r = drainTap(p, p.state.watermark, kDrainPerPass); !r) return r.error();
  if (auto r = ledgerMovements(p); !r) return r.error();
  if (auto r = auditTrail(p); !r) return r.error();

  p.state.passes += 1;
  p.state.checked_settlements += p.report.checked;
  p.state.last_pass_at = p.now;
  if (auto r = repo_.saveState(p.state); !r) return r.error();
  metrics_.passes.inc();
  metrics_.checked.inc(static_cast<uint64_t>(p.report.checked));
  metrics_.watermark.set(p.state.watermark);
  refreshGauges();
  logger()->debug("pass: {} checked, {} raised, {} resolved, watermark {}{}", p.report.checked,
                  p.report.raised, p.report.resolved, p.report.watermark,
                  p.report.blocked.empty() ? "" : " (" + p.report.blocked + ")");
  return p.report;
}

void Reconciler::refreshGauges() {
  auto counts = repo_.openByKind();
  if (!counts) return;  // the gauges keep their last values; the next pass tries again
  for (auto& [k, g] : metrics_.open) {
    auto it = counts->find(k);
    g.set(it == counts->end() ? 0 : it->second);
  }
}

Result<ReconciliationStatus> Reconciler::status(const store::FindingQuery& q) {
  ReconciliationStatus s;
  auto st = repo_.state();
  if (!st) return st.error();
  s.state = std::move(*st);
  auto counts = repo_.openByKind();
  if (!counts) return counts.error();
  s.open_by_kind = std::move(*counts);
  auto list = repo_.findings(q);
  if (!list) return list.error();
  s.findings = std::move(*list);
  s.events_checked = static_cast<bool>(tap_factory_);
  return s;
}

Result<store::Finding> Reconciler::acknowledge(int64_t id, const std::string& actor,
                                               const std::string& note) {
  auto f = repo_.acknowledge(id, actor, note, clock_.now());
  if (!f) return f;
  logger()->info("finding {} ({}) acknowledged by {}", id, f->kind, log::escape(actor));
  refreshGauges();
  return f;
}

}  // namespace sc::reconciliation

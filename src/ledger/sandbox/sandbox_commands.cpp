// Sandbox: commands (Daml's CreateCommand/ExerciseCommand translated to the engine's commands),
// reassignments, completions, active contracts, updates and events. Over 500 lines: submit() is
// the one translation of Daml's vocabulary to the engine and is kept whole on purpose; the reads
// beside it share its rendering of contracts.
#include <algorithm>
#include <charconv>
#include <set>
#include <variant>

#include "ledger/sandbox/sandbox.h"
#include "ledger/sandbox/sandbox_internal.h"

namespace sc::ledger::sandbox {
namespace {

using daml::Category;
using daml::Template;

HttpReply authorizationError(std::string cause) {
  return errorReply(daml::kDamlAuthorizationError, Category::kInvalidIndependentOfSystemState,
                    "Interpretation error: Error: node requires authorizers " + std::move(cause));
}
HttpReply contractNotFound(const std::string& cid) {
  auto e = daml::makeError(daml::kContractNotFound,
                           Category::kInvalidGivenCurrentSystemStateResourceMissing,
                           "Contract could not be found with id " + cid);
  e.resources.emplace_back("CONTRACT_ID", cid);
  return errorReply(e);
}
HttpReply interpretationError(std::string cause) {
  return errorReply(daml::kDamlInterpretationError, Category::kInvalidGivenCurrentSystemStateOther,
                    "Interpretation error: Error: User abort: " + std::move(cause));
}
HttpReply unsupported(std::string cause) {
  return errorReply(daml::kUnsupportedOperation, Category::kInternalUnsupportedOperation,
                    std::move(cause));
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}
// The parties in `required` missing from `act_as`, comma separated (empty: all present).
std::string missing(const std::vector<std::string>& required,
                    const std::vector<std::string>& act_as) {
  std::string out;
  for (const auto& p : required) {
    if (!contains(act_as, p)) out += (out.empty() ? "" : ", ") + p;
  }
  return out;
}

struct ParsedCommand {
  bool create = false;
  Template tmpl{};
  std::string contract_id, choice;
  Json argument;
};

Result<std::vector<ParsedCommand>> parseCommands(const Json& list) {
  std::vector<ParsedCommand> out;
  if (!list.is_array() || list.empty())
    return Error::permanent("invalid", "'commands' must be a non-empty array");
  for (const auto& c : list) {
    ParsedCommand p;
    const Json* body = nullptr;
    if (c.contains("CreateCommand")) {
      p.create = true;
      body = &c["CreateCommand"];
    } else if (c.contains("ExerciseCommand")) {
      body = &c["ExerciseCommand"];
    } else {
      return Error::permanent("unsupported",
                              "only CreateCommand and ExerciseCommand are supported");
    }
    auto t = daml::parseTemplateId(body->value("templateId", ""));
    if (!t) return t.error();
    p.tmpl = *t;
    if (p.create) {
      if (!body->contains("createArguments"))
        return Error::permanent("invalid", "CreateCommand needs 'createArguments'");
      p.argument = (*body)["createArguments"];
    } else {
      p.contract_id = body->value("contractId", "");
      p.choice = body->value("choice", "");
      if (p.contract_id.empty() || p.choice.empty()) {
        return Error::permanent("invalid", "ExerciseCommand needs 'contractId' and 'choice'");
      }
      p.argument = body->value("choiceArgument", Json::object());
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::string> stringList(const Json& j, const char* field) {
  std::vector<std::string> out;
  if (j.contains(field) && j[field].is_array()) {
    for (const auto& x : j[field]) {
      if (x.is_string()) out.push_back(x.get<std::string>());
    }
  }
  return out;
}

std::string nowText() {
  return formatTimestamp(
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()));
}

}  // namespace

// ---- contracts as the API renders them ------------------------------------------------------

Sandbox::Contract Sandbox::contractOf(const HoldingView& h) {
  daml::HoldingArgs a;
  a.owner = h.owner;
  a.asset = h.asset;
  a.amount = h.amount;
  bool cash = store_.assetIsCash(h.asset).value_or(false);
  std::vector<std::string> observers;
  if (h.locked) {
    auto d = engine_->dvp(h.lock_dvp_contract_id);
    if (d && *d) {
      cash = h.asset == (*d)->cash_asset;
      a.counterparty = cash ? (*d)->seller : (*d)->buyer;
    }
    a.dvp_ref = h.lock_dvp_contract_id;
    a.kind = cash ? Template::kLockedCash : Template::kLockedSecurities;
    observers = {a.counterparty};
  } else {
    a.kind = cash ? Template::kCashHolding : Template::kSecuritiesHolding;
  }
  a.issuer = cash ? engine_->cashProvider() : engine_->securitiesIssuer();
  return Contract{.contract_id = h.contract_id,
                  .tmpl = a.kind,
                  .argument = daml::encode(a),
                  .signatories = daml::signatories(a),
                  .observers = std::move(observers),
                  .synchronizer = h.synchronizer,
                  .in_flight = h.in_flight,
                  .lock_dvp = h.lock_dvp_contract_id,
                  .owner = h.owner};
}

Sandbox::Contract Sandbox::contractOf(const DvpView& v) {
  daml::DvpArgs a{v.buyer,
                  v.seller,
                  engine_->securitiesIssuer(),
                  engine_->cashProvider(),
                  v.security,
                  v.cash_asset,
                  v.quantity,
                  v.amount,
                  engine_->dvpSettlementDate(v.contract_id).value_or(Date{})};
  Contract k;
  k.contract_id = v.contract_id;
  k.tmpl = Template::kDeliveryVsPayment;
  k.argument = daml::encode(a);
  k.signatories = daml::signatories(a);
  k.synchronizer = v.synchronizer;
  return k;
}

Result<Sandbox::Contract> Sandbox::contract(const std::string& cid) {
  if (auto h = engine_->holdingById(cid)) return contractOf(*h);
  auto d = engine_->dvp(cid);
  if (d && *d && (*d)->active) return contractOf(**d);
  return Error::permanent(kContractNotActive, "contract " + cid + " is not active");
}

Sandbox::Contract Sandbox::contractOf(const Seen& s) {
  return s.holding ? contractOf(*s.holding) : contractOf(*s.dvp);
}

std::vector<Sandbox::Seen> Sandbox::contractsOf(const std::vector<std::string>& owners,
                                                const std::vector<std::string>& dvp_ids) {
  std::vector<Seen> out;
  std::set<std::string> seen;
  for (const auto& o : std::set<std::string>(owners.begin(), owners.end())) {
    auto hs = engine_->holdings(o);
    if (!hs) continue;
    for (auto& h : *hs) {
      if (!seen.insert(h.contract_id).second) continue;
      noteLock(h);
      out.push_back(Seen{h.contract_id, std::move(h), {}});
    }
  }
  for (const auto& id : dvp_ids) {
    if (id.empty() || !seen.insert(id).second) continue;
    if (auto h = engine_->holdingById(id)) {
      noteLock(*h);
      out.push_back(Seen{id, std::move(*h), {}});
    } else if (auto d = engine_->dvp(id); d && *d && (*d)->active) {
      noteDvp(**d);
      out.push_back(Seen{id, {}, std::move(**d)});
    }
  }
  return out;
}

void Sandbox::noteDvp(const DvpView& v) {
  for (const auto& p : {v.buyer, v.seller}) dvps_by_party_[p].insert(v.contract_id);
}

void Sandbox::noteLock(const HoldingView& h) {
  if (h.locked) locks_by_dvp_[h.lock_dvp_contract_id].insert(h.contract_id);
}

namespace {
bool wantsAny(const std::set<Template>& wanted, std::initializer_list<Template> ts) {
  for (Template t : ts) {
    if (wanted.count(t)) return true;
  }
  return false;
}
}  // namespace

bool Sandbox::mayMatch(const HoldingView& h, const std::set<Template>& wanted) const {
  if (h.locked) return wantsAny(wanted, {Template::kLockedSecurities, Template::kLockedCash});
  const bool cash = store_.assetIsCash(h.asset).value_or(false);
  return wanted.count(cash ? Template::kCashHolding : Template::kSecuritiesHolding) > 0;
}

std::vector<Sandbox::Contract> Sandbox::allContracts(const std::set<Template>& wanted) {
  std::vector<Contract> out;
  for (const auto& h : engine_->allHoldings()) {
    if (mayMatch(h, wanted)) out.push_back(contractOf(h));
  }
  if (wanted.count(Template::kDeliveryVsPayment)) {
    for (const auto& d : engine_->activeDvps()) out.push_back(contractOf(d));
  }
  if (!wantsAny(wanted, {Template::kSettledDeliveryVsPayment, Template::kRoundFence})) return out;
  for (const auto& cid : store_.sandboxContracts()) {
    const auto* ev = store_.contractEvents(cid);
    if (!ev || ev->created.empty() || !ev->archived.empty()) continue;
    const Json created = Json::parse(ev->created, nullptr, false);
    if (!created.is_object()) continue;
    auto t = daml::parseTemplateId(created.value("templateId", ""));
    if (!t) continue;
    Contract k;
    k.contract_id = cid;
    k.tmpl = *t;
    k.argument = created.value("createArgument", Json::object());
    k.signatories = created.value("signatories", std::vector<std::string>{});
    k.observers = created.value("observers", std::vector<std::string>{});
    k.synchronizer = synchronizerAlias(ev->synchronizer_id);
    out.push_back(std::move(k));
  }
  return out;
}

std::vector<Sandbox::Contract> Sandbox::contractsFor(
    const std::map<std::string, std::set<Template>>& filters) {
  std::set<Template> wanted;
  for (const auto& [party, set] : filters) wanted.insert(set.begin(), set.end());
  // Any party, a co-signer (a stakeholder of everything) or the sandbox's own records: all.
  if (filters.count("") || filters.count(engine_->securitiesIssuer()) ||
      filters.count(engine_->cashProvider()) ||
      wantsAny(wanted, {Template::kSettledDeliveryVsPayment, Template::kRoundFence})) {
    return allContracts(wanted);
  }
  // Else what a party is a stakeholder of: its holdings and locks, its active DvPs, and the
  // locks its counterparties hold for them (it observes those).
  const bool want_dvps = wanted.count(Template::kDeliveryVsPayment) > 0;
  const bool want_locks = wantsAny(wanted, {Template::kLockedSecurities, Template::kLockedCash});
  std::set<std::string> dvp_ids;
  std::map<std::string, std::set<std::string>> counter_locks;  // owner -> DvPs of its locks
  if (want_dvps || want_locks) {
    for (const auto& [party, set] : filters) {
      auto it = dvps_by_party_.find(party);
      if (it == dvps_by_party_.end()) continue;
      for (auto id = it->second.begin(); id != it->second.end();) {
        auto d = engine_->dvp(*id);
        if (!d || !*d || !(*d)->active) {
          locks_by_dvp_.erase(*id);
          id = it->second.erase(id);  // archived for good
          continue;
        }
        dvp_ids.insert(*id);
        counter_locks[(*d)->buyer == party ? (*d)->seller : (*d)->buyer].insert(*id);
        ++id;
      }
    }
  }
  std::vector<Contract> out;
  std::set<std::string> seen;
  const bool want_free = wantsAny(wanted, {Template::kSecuritiesHolding, Template::kCashHolding});
  if (!want_free) {
    // Locks only: those of the parties' DvPs (their own and their counterparties'), by DvP,
    // without going through every holding a party ever received.
    for (const auto& id : dvp_ids) {
      auto it = locks_by_dvp_.find(id);
      if (it == locks_by_dvp_.end()) continue;
      for (auto lock = it->second.begin(); lock != it->second.end();) {
        auto h = engine_->holdingById(*lock);
        if (!h || !h->locked || h->lock_dvp_contract_id != id) {
          lock = it->second.erase(lock);  // settled or released
          continue;
        }
        if (mayMatch(*h, wanted) && seen.insert(*lock).second) out.push_back(contractOf(*h));
        ++lock;
      }
    }
    counter_locks.clear();
  } else {
    for (const auto& [party, set] : filters) {
      auto hs = engine_->holdings(party);
      if (!hs) continue;
      for (const auto& h : *hs) {
        if (mayMatch(h, wanted) && seen.insert(h.contract_id).second) out.push_back(contractOf(h));
      }
    }
  }
  if (want_locks) {
    for (const auto& [owner, ids] : counter_locks) {
      auto hs = engine_->holdings(owner);
      if (!hs) continue;
      for (const auto& h : *hs) {
        if (h.locked && ids.count(h.lock_dvp_contract_id) && mayMatch(h, wanted) &&
            seen.insert(h.contract_id).second)
          out.push_back(contractOf(h));
      }
    }
  }
  if (want_dvps) {
    for (const auto& id : dvp_ids) {
      if (auto k = contract(id)) out.push_back(std::move(*k));
    }
  }
  return out;
}

Json Sandbox::createdEvent(const Contract& k, int64_t offset, int node_id,
                           const std::string& created_at) const {
  return Json{{"offset", offset},
              {"nodeId", node_id},
              {"contractId", k.contract_id},
              {"templateId", daml::templateIdWithPackageId(k.tmpl)},
              {"contractKey", nullptr},
              {"createArgument", k.argument},
              {"createdEventBlob", ""},
              {"interfaceViews", Json::array()},
              {"witnessParties", k.stakeholders()},
              {"signatories", k.signatories},
              {"observers", k.observers},
              {"createdAt", created_at},
              {"packageName", daml::packageName()},
              {"representativePackageId", daml::packageId()},
              {"acsDelta", true}};
}

// ---- commands -------------------------------------------------------------------------------

HttpReply Sandbox::contractGone(const std::string& cid) {
  const auto* ev = store_.contractEvents(cid);
  int n = inactive_verdicts_.load();
  if (ev && !ev->created.empty() && n > 0 && inactive_verdicts_.compare_exchange_strong(n, n - 1)) {
    // Canton's LocalReject.InactiveContracts: the contract existed and another transaction
    // consumed it while this one was in flight.
    auto e = daml::makeError(daml::kLocalVerdictInactiveContracts,
                             Category::kInvalidGivenCurrentSystemStateResourceMissing,
                             "Rejected transaction is referring to inactive contracts " + cid);
    e.resources.emplace_back("CONTRACT_ID", cid);
    return errorReply(e);
  }
  return contractNotFound(cid);
}

namespace {
// The start of a DeduplicationOffset period ({"DeduplicationOffset": {"value": n}}, n a number or
// a string of digits), or none for a DeduplicationDuration or Empty period (every completion
// kept counts, as with no period).
Result<std::optional<int64_t>> deduplicationOffset(const Json& period) {
  if (!period.is_object() || period.size() != 1)
    return Error::permanent("invalid", "'deduplicationPeriod' must be an object of one variant");
  const auto it = period.begin();
  const std::string variant = it.key();
  const Json& body = it.value();
  if (variant == "DeduplicationDuration" || variant == "Empty") return std::optional<int64_t>();
  if (variant != "DeduplicationOffset")
    return Error::permanent("invalid", "unknown deduplicationPeriod variant '" + variant + "'");
  const Json v = body.is_object() ? body.value("value", Json()) : Json();
  int64_t offset = -1;
  if (v.is_number_integer()) {
    offset = v.get<int64_t>();
  } else if (v.is_string()) {
    const std::string t = v.get<std::string>();
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), offset);
    if (ec != std::errc{} || p != t.data() + t.size()) offset = -1;
  }
  if (offset < 0)
    return Error::permanent("invalid",
                            "deduplicationPeriod.DeduplicationOffset.value must be an offset >= 0, "
                            "got " +
                                v.dump());
  return std::optional<int64_t>(offset);
}
}  // namespace

HttpReply Sandbox::submit(const Caller& c, const Json& cmds, int shape) {
  if (!cmds.is_object()) return invalidArgument("'commands' must be a JsCommands object");
  const std::string command_id = cmds.value("commandId", "");
  if (command_id.empty()) return invalidArgument("missing field 'commandId'");
  const std::vector<std::string> act_as = stringList(cmds, "actAs");
  if (act_as.empty()) return invalidArgument("'actAs' must name at least one party");
  const std::string user_id = cmds.value("userId", c.user.id);
  if (user_id != c.user.id)
    return permissionDenied("userId '" + user_id + "' is not the token's user");
  for (const auto& p : act_as) {
    if (!c.canActAs(p)) return permissionDenied("user '" + c.user.id + "' may not act as " + p);
    auto e = engine_->partyExists(p);
    if (!e || !*e) {
      return errorReply(daml::kPartyNotKnownOnLedger,
                        Category::kInvalidGivenCurrentSystemStateResourceMissing,
                        "Party not known on ledger: " + p);
    }
  }
  for (const auto& p : stringList(cmds, "readAs")) {
    if (!c.canRead(p)) return permissionDenied("user '" + c.user.id + "' may not read as " + p);
  }
  // Deduplication on the change id (the engine keys it on the command id).
  auto duplicate = [&](const CompletionRecord* first) {
    auto e = daml::makeError(
        daml::kDuplicateCommand, Category::kInvalidGivenCurrentSystemStateResourceExists,
        "A command with the given command id has already been successfully processed");
    if (first) {
      e.context["existing_submission_id"] = first->submission_id;
      e.context["completion_offset"] = std::to_string(first->offset);
      e.context["update_id"] = first->update_id;
    }
    return errorReply(e);
  };
  // The deduplication period. DeduplicationOffset: the completions after that offset
  // (exclusive) count. A duration, Empty or none: every completion kept counts (a participant
  // would use its maximum deduplication duration; the sandbox keeps all it has not pruned).
  std::optional<int64_t> dedup_after;
  if (auto p = cmds.find("deduplicationPeriod"); p != cmds.end() && !p->is_null()) {
    auto after = deduplicationOffset(*p);
    if (!after) return invalidArgument(after.error().message);
    dedup_after = *after;  // none: a duration or Empty
  }
  // A period that starts below the pruned offset cannot be checked: the completions it needs
  // may be gone. Refused, as Canton refuses it, before anything else (the engine, which prunes
  // everything below prunedBefore(), needs a start at or above it; a participant pruned up to
  // U accepts U itself).
  const int64_t pruned = std::max(engine_->prunedBefore(), store_.prunedUpTo());
  auto invalidPeriod = [&](const std::string& period) {
    auto e = daml::makeError(
        daml::kInvalidDeduplicationPeriod, Category::kInvalidGivenCurrentSystemStateOther,
        "The submitted command had an invalid deduplication period: " + period +
            " starts below the pruned offset; the earliest start is " + std::to_string(pruned));
    e.context["earliest_offset"] = std::to_string(pruned);
    e.context["requested_period"] = period;
    return errorReply(e);
  };
  if (dedup_after && *dedup_after < pruned)
    return invalidPeriod("DeduplicationOffset(" + std::to_string(*dedup_after) + ")");
  auto counts = [&](int64_t completed_at) { return !dedup_after || completed_at > *dedup_after; };
  if (const CompletionRecord* first = store_.completionOf(command_id);
      first && counts(first->offset))
    return duplicate(first);
  if (auto done = engine_->completion(command_id); done && *done && counts((*done)->offset))
    return duplicate(nullptr);

  auto parsed = parseCommands(cmds.value("commands", Json()));
  if (!parsed) {
    if (parsed.error().code == "unsupported") return unsupported(parsed.error().message);
    return invalidArgument(parsed.error().message);
  }
  const auto& pc = *parsed;
  std::string sync_alias;
  if (std::string sid = cmds.value("synchronizerId", ""); !sid.empty()) {
    sync_alias = synchronizerAlias(sid);
    if (sync_alias.empty()) return invalidArgument("unknown synchronizerId " + sid);
  }

  // Translate to one engine command.
  std::optional<Command> command;
  std::vector<std::string> owners, dvps;
  std::optional<daml::HoldingArgs> credit;
  std::optional<daml::FenceArgs> fence;
  const ParsedCommand& head = pc.front();
  if (head.create) {
    if (pc.size() != 1) return unsupported("the sandbox accepts one CreateCommand per submission");
    if (head.tmpl == Template::kDeliveryVsPayment) {
      auto a = daml::decodeDvp(head.argument);
      if (!a) return invalidArgument(a.error().message);
      if (auto m = missing(daml::signatories(*a), act_as); !m.empty()) {
        return authorizationError("{" + m + "} for create of DeliveryVsPayment");
      }
      if (a->securities_issuer != engine_->securitiesIssuer() ||
          a->cash_provider != engine_->cashProvider()) {
        return interpretationError("this ledger's DvPs are co-signed by " +
                                   engine_->securitiesIssuer() + " and " + engine_->cashProvider());
      }
      if (!a->quantity.isPositive() || a->cash_amount.isNegative() || a->buyer == a->seller) {
        return interpretationError("Template precondition violated: DeliveryVsPayment");
      }
      if (auto r = store_.putAssetKind(a->symbol, false); !r)
        return errorReply(cantonErrorOf(r.error()));
      if (auto r = store_.putAssetKind(a->currency, true); !r)
        return errorReply(cantonErrorOf(r.error()));
      command = CreateDvp{a->buyer,    a->seller,      a->symbol,         a->currency,
                          a->quantity, a->cash_amount, a->settlement_date};
      // (No holding changes: the new DvP is rendered from its id.)
    } else if (head.tmpl == Template::kRoundFence) {
      // The fence of an abandoned round: the engine's FenceCommand takes the command id.
      auto a = daml::decodeFence(head.argument);
      if (!a) return invalidArgument(a.error().message);
      if (!contains(act_as, a->cash_provider))
        return authorizationError("{" + a->cash_provider + "} for create of RoundFence");
      if (a->cash_provider != engine_->cashProvider()) {
        return interpretationError("this ledger's round fences are signed by " +
                                   engine_->cashProvider());
      }
      if (a->round_command_id.empty())
        return interpretationError("Template precondition violated: RoundFence");
      command = FenceCommand{};
      fence = *a;
    } else if (head.tmpl == Template::kSecuritiesHolding || head.tmpl == Template::kCashHolding) {
      auto a = daml::decodeHolding(head.tmpl, head.argument);
      if (!a) return invalidArgument(a.error().message);
      if (auto m = missing(daml::signatories(*a), act_as); !m.empty()) {
        return authorizationError("{" + m + "} for create of " + daml::moduleEntity(head.tmpl));
      }
      const std::string& issuer =
          a->isCash() ? engine_->cashProvider() : engine_->securitiesIssuer();
      if (a->issuer != issuer)
        return interpretationError("this ledger's " + daml::moduleEntity(head.tmpl) +
                                   " issuer is " + issuer);
      if (!a->amount.isPositive())
        return interpretationError("Template precondition violated: amount > 0");
      if (auto k = store_.assetIsCash(a->asset); k && *k != a->isCash()) {
        return interpretationError("asset " + a->asset + " is already held as " +
                                   (*k ? "cash" : "a security"));
      }
      if (auto r = store_.putAssetKind(a->asset, a->isCash()); !r)
        return errorReply(cantonErrorOf(r.error()));
      credit = *a;
      owners = {a->owner};
    } else {
      return unsupported(
          "the sandbox creates DeliveryVsPayment, SecuritiesHolding and CashHolding only");
    }
  } else {
    // Exercises: a lock (one or more LockSecurities/LockCash for one DvP), a settle, a release
    // (Release* on every lock of one DvP, optionally with CancelDeliveryVsPayment) or a cancel.
    const std::string choice = head.choice;
    if (choice == daml::kChoiceLockSecurities || choice == daml::kChoiceLockCash) {
      const bool sec = choice == daml::kChoiceLockSecurities;
      daml::Numeric total;
      std::string dvp_ref;
      for (const auto& p : pc) {
        if (p.create || p.choice != choice)
          return unsupported("a lock submission holds only " + choice + " exercises");
        if (p.tmpl != (sec ? Template::kSecuritiesHolding : Template::kCashHolding)) {
          return invalidArgument(choice + " is not a choice of " + daml::moduleEntity(p.tmpl));
        }
        auto h = engine_->holdingById(p.contract_id);
        if (!h || h->locked || h->in_flight) return contractGone(p.contract_id);
        auto k = contract(p.contract_id);
        if (!k || k->tmpl != p.tmpl) return contractNotFound(p.contract_id);
        if (!contains(act_as, h->owner))
          return authorizationError("{" + h->owner + "} for exercise of " + choice);
        auto take = daml::numericField(p.argument, "take");
        if (!take) return invalidArgument(take.error().message);
        auto ref = daml::textField(p.argument, "dvp_ref");
        if (!ref) return invalidArgument(ref.error().message);
        if (!take->isPositive()) return interpretationError("lock quantity must be positive");
        if (*take > h->amount)
          return interpretationError(sec ? "insufficient securities" : "insufficient cash");
        if (!dvp_ref.empty() && *ref != dvp_ref)
          return unsupported("all locks of a submission must name one DvP");
        dvp_ref = *ref;
        auto sum = total.add(*take);
        if (!sum) return interpretationError(sum.error().message);
        total = *sum;
        owners.push_back(h->owner);
      }
      auto d = engine_->dvp(dvp_ref);
      if (d && *d) owners.push_back(sec ? (*d)->seller : (*d)->buyer);  // whose holdings it takes
      dvps = {dvp_ref};
      auto figure = total.toDecimal();  // what a lock takes is a trade figure (DECIMAL(18,8))
      if (!figure)
        return interpretationError("lock of " + total.toString() + ": " + figure.error().message);
      if (sec)
        command = LockSecurities{dvp_ref, *figure, false};
      else
        command = LockCash{dvp_ref, *figure};
    } else if (choice == daml::kChoiceSettle || choice == daml::kChoiceCancel ||
               choice == daml::kChoiceReleaseSecurities || choice == daml::kChoiceReleaseCash) {
      std::string dvp_id;
      bool cancel = false, settle = false;
      std::set<std::string> released;
      for (const auto& p : pc) {
        if (p.create) return unsupported("creates and exercises cannot be mixed in one submission");
        if (p.choice == daml::kChoiceSettle || p.choice == daml::kChoiceCancel) {
          if (p.tmpl != Template::kDeliveryVsPayment)
            return invalidArgument(p.choice + " is a choice of DeliveryVsPayment");
          if (!dvp_id.empty() && dvp_id != p.contract_id)
            return unsupported("one DvP per submission");
          dvp_id = p.contract_id;
          (p.choice == daml::kChoiceSettle ? settle : cancel) = true;
        } else if (p.choice == daml::kChoiceReleaseSecurities ||
                   p.choice == daml::kChoiceReleaseCash) {
          auto h = engine_->holdingById(p.contract_id);
          if (!h || !h->locked) return contractGone(p.contract_id);
          if (!contains(act_as, h->owner))
            return authorizationError("{" + h->owner + "} for exercise of " + p.choice);
          if (!dvp_id.empty() && dvp_id != h->lock_dvp_contract_id)
            return unsupported("one DvP per submission");
          dvp_id = h->lock_dvp_contract_id;
          released.insert(p.contract_id);
        } else {
          return unsupported("choice " + p.choice + " is not supported by the sandbox");
        }
      }
      auto d = engine_->dvp(dvp_id);
      if (!d || !*d || ((settle || cancel) && !(*d)->active)) return contractGone(dvp_id);
      const DvpView& v = **d;
      if ((settle || cancel)) {
        if (auto m = missing({v.buyer, v.seller}, act_as); !m.empty()) {
          return authorizationError("{" + m + "} for exercise of " +
                                    (settle ? daml::kChoiceSettle : daml::kChoiceCancel));
        }
      }
      // The engine's locks of this DvP.
      std::vector<std::string> sec_locks, cash_locks;
      for (const auto& party : {v.seller, v.buyer}) {
        auto hs = engine_->holdings(party);
        if (!hs) continue;
        for (const auto& h : *hs) {
          if (h.locked && h.lock_dvp_contract_id == dvp_id) {
            (h.asset == v.cash_asset && party == v.buyer ? cash_locks : sec_locks)
                .push_back(h.contract_id);
          }
        }
      }
      owners = {v.buyer, v.seller};
      dvps = {dvp_id};
      if (settle) {
        if (pc.size() != 1) return unsupported("SettleDeliveryVsPayment must be the only command");
        auto s1 = daml::textField(head.argument, "buyer_securities_ref");
        auto s2 = daml::textField(head.argument, "seller_cash_ref");
        if (!s1 || !s2)
          return invalidArgument(
              "SettleDeliveryVsPayment needs buyer_securities_ref and seller_cash_ref");
        if (s1->empty() || s2->empty())
          return interpretationError("Assertion failed: settlement references must be non-empty");
        auto named_sec = stringList(head.argument, "securities_locks");
        auto named_cash = stringList(head.argument, "cash_locks");
        for (const auto& cid : named_sec) {
          if (!contains(sec_locks, cid)) return contractGone(cid);
        }
        for (const auto& cid : named_cash) {
          if (!contains(cash_locks, cid)) return contractGone(cid);
        }
        if (named_sec.empty()) return interpretationError("no securities locked");
        if (named_cash.empty()) return interpretationError("no cash locked");
        if (named_sec.size() != sec_locks.size() || named_cash.size() != cash_locks.size()) {
          return interpretationError(
              "the sandbox settles with every lock of the DvP; name them all");
        }
        command = Settle{dvp_id};
      } else if (released.empty()) {
        command = ArchiveDvp{dvp_id};
      } else {
        if (released.size() != sec_locks.size() + cash_locks.size()) {
          return interpretationError(
              "the sandbox releases every lock of the DvP together; name them all");
        }
        command = ReleaseLocks{dvp_id, cancel};
      }
    } else {
      return unsupported("choice " + choice + " is not supported by the sandbox");
    }
  }

  // Execute, and render the effects as the diff of the contracts involved.
  auto before = contractsOf(owners, dvps);
  Outcome out;
  if (credit) {
    // A credit does not go through the engine's deduplication, only the lookup above: without a
    // period, once pruned, an earlier run may be gone from it (the engine refuses every other
    // command in that case, see cantonErrorOf).
    if (!dedup_after && pruned > 0) return invalidPeriod("the participant's default period");
    std::string target = sync_alias.empty() ? opts_.synchronizers.front() : sync_alias;
    auto h = engine_->credit(credit->owner, credit->asset, credit->amount, target);
    if (!h) return errorReply(cantonErrorOf(h.error()));
    out.offset = engine_->ledgerEnd();
    out.update_id = "1220c0" + std::to_string(out.offset) + "-" + command_id;
    out.contract_id = h->contract_id;
    out.synchronizer = h->synchronizer;
  } else {
    Submission sub{command_id, *command, dedup_after.value_or(0)};
    auto r = std::move(engine_->submit(std::span<const Submission>(&sub, 1)).front());
    if (!r) return errorReply(cantonErrorOf(r.error()));
    if (r->deduplicated) return duplicate(nullptr);
    out = *r;
  }
  std::vector<std::string> dvps_after = dvps;
  for (const auto& id : {out.contract_id, out.remainder_dvp_contract_id}) {
    if (!id.empty()) dvps_after.push_back(id);
  }
  auto after = contractsOf(owners, dvps_after);  // (notes new DvPs by party)
  if (out.update_id.empty()) {  // nothing changed (e.g. a release with no locks): a completion only
    out.update_id = "1220e0" + std::to_string(engine_->ledgerEnd()) + "-" + command_id;
    out.offset = engine_->ledgerEnd();
  }
  std::string record_time = nowText();
  if (auto u = engine_->updateById(out.update_id); u && *u)
    record_time = formatTimestamp((*u)->recorded_at);
  Json events = Json::array();
  int node = 0;
  std::set<std::string> after_ids, before_ids;
  for (const auto& k : after) after_ids.insert(k.id);
  for (const auto& k : before) before_ids.insert(k.id);
  for (const auto& seen : before) {
    if (after_ids.count(seen.id)) continue;
    const Contract k = contractOf(seen);
    events.push_back({{"ArchivedEvent",
                       {{"offset", out.offset},
                        {"nodeId", node++},
                        {"contractId", k.contract_id},
                        {"templateId", daml::templateIdWithPackageId(k.tmpl)},
                        {"witnessParties", k.stakeholders()},
                        {"packageName", daml::packageName()},
                        {"implementedInterfaces", Json::array()}}}});
  }
  for (const auto& seen : after) {
    if (before_ids.count(seen.id)) continue;
    events.push_back(
        {{"CreatedEvent", createdEvent(contractOf(seen), out.offset, node++, record_time)}});
  }
  if (command && std::holds_alternative<Settle>(*command)) {
    // SettledDeliveryVsPayment, the record SettleDeliveryVsPayment creates: the engine has no
    // such contract, so the sandbox keeps it (it has no choices; it stays active).
    for (const auto& seen : before) {
      if (!seen.dvp || seen.id != out.contract_id) continue;
      const Contract k = contractOf(seen);
      auto d = daml::decodeDvp(k.argument);
      if (!d) break;
      daml::SettledDvpArgs a;
      a.settled = *d;
      a.settled.quantity = out.quantity;
      a.settled.cash_amount = out.amount;
      a.securities_transfer_id = out.buyer_securities_contract_id;
      a.cash_transfer_id = out.seller_cash_contract_id;
      if (auto t = parseTimestamp(record_time)) a.settled_at = *t;
      Contract settled;
      const size_t n = out.update_id.size();
      settled.contract_id = "00" + out.update_id.substr(n > 20 ? n - 20 : 0) + "ffff";
      settled.tmpl = Template::kSettledDeliveryVsPayment;
      settled.argument = daml::encode(a);
      settled.signatories = daml::signatories(a.settled);
      settled.synchronizer = out.synchronizer;
      events.push_back({{"CreatedEvent", createdEvent(settled, out.offset, node++, record_time)}});
    }
  }
  if (fence) {
    // The RoundFence contract: the engine journals only the fence of the command id, so the
    // sandbox keeps the contract (it has no choices; it stays active).
    out.synchronizer = sync_alias.empty() ? opts_.synchronizers.back() : sync_alias;
    Contract k;
    const size_t n = out.update_id.size();
    k.contract_id = "00" + out.update_id.substr(n > 20 ? n - 20 : 0) + "fe0c";
    k.tmpl = Template::kRoundFence;
    k.argument = daml::encode(*fence);
    k.signatories = {fence->cash_provider};
    k.synchronizer = out.synchronizer;
    events.push_back({{"CreatedEvent", createdEvent(k, out.offset, node++, record_time)}});
  }
  const std::string sync_id =
      synchronizerId(out.synchronizer.empty() ? opts_.synchronizers.back() : out.synchronizer);
  Json tx{{"updateId", out.update_id},
          {"commandId", command_id},
          {"workflowId", cmds.value("workflowId", "")},
          {"effectiveAt", record_time},
          {"events", events},
          {"offset", out.offset},
          {"synchronizerId", sync_id},
          {"recordTime", record_time}};
  CompletionRecord rec{out.offset,    command_id, c.user.id, cmds.value("submissionId", ""),
                       out.update_id, act_as,     sync_id,   record_time};
  HttpReply reply =
      shape == 0
          ? jsonReply(200, Json{{"updateId", out.update_id}, {"completionOffset", out.offset}})
          : HttpReply{200, "{\"transaction\":" + tx.dump() + "}", false};
  if (auto r =
          store_.putUpdate(out.update_id, Json{{"Transaction", {{"value", std::move(tx)}}}}, rec);
      !r) {
    // The engine committed it: whether a restart still has it depends on the engine's journal.
    return errorReply(cantonErrorOf(outcomeUnknown("command " + command_id, r.error())));
  }
  if (int n = drop_committed_.load(); n > 0 && drop_committed_.compare_exchange_strong(n, n - 1)) {
    reply.drop_connection = true;
  }
  return reply;
}

HttpReply Sandbox::submitReassignment(const Caller& c, const Json& body) {
  const Json rc = body.value("reassignmentCommands", Json());
  if (!rc.is_object()) return invalidArgument("missing field 'reassignmentCommands'");
  const std::string command_id = rc.value("commandId", "");
  const std::string submitter = rc.value("submitter", "");
  if (command_id.empty() || submitter.empty())
    return invalidArgument("reassignmentCommands needs commandId and submitter");
  if (!c.canActAs(submitter))
    return permissionDenied("user '" + c.user.id + "' may not act as " + submitter);
  const Json list = rc.value("commands", Json::array());
  if (!list.is_array() || list.size() != 1)
    return unsupported("the sandbox takes one reassignment command per submission");
  const Json& cmd = list[0].value("command", Json::object());
  const bool unassign = cmd.contains("UnassignCommand");
  if (!unassign && !cmd.contains("AssignCommand"))
    return invalidArgument("command must be UnassignCommand or AssignCommand");
  const Json v = cmd[unassign ? "UnassignCommand" : "AssignCommand"].value("value", Json::object());
  const std::string source = synchronizerAlias(v.value("source", ""));
  const std::string target = synchronizerAlias(v.value("target", ""));
  if (source.empty() || target.empty())
    return invalidArgument("unknown source or target synchronizer");
  std::string cid = unassign ? v.value("contractId", "") : v.value("reassignmentId", "");
  if (!unassign)
    cid = cid.substr(0, cid.find(':'));  // reassignment ids are "<contract id>:<offset>"
  auto h = engine_->holdingById(cid);
  if (!h) return contractNotFound(cid);
  auto k = contract(cid);
  if (!k) return contractNotFound(cid);
  if (!contains(k->stakeholders(), submitter))
    return permissionDenied(submitter + " is not a stakeholder of " + cid);
  if (!h->locked)
    return unsupported("the sandbox reassigns lock contracts only (to their DvP's synchronizer)");
  auto d = engine_->dvp(h->lock_dvp_contract_id);
  if (!d || !*d || (*d)->synchronizer != target)
    return unsupported("the sandbox reassigns a lock to its DvP's synchronizer only");
  if (unassign && (h->in_flight || h->synchronizer != source)) {
    return errorReply("UNASSIGNMENT_SOURCE_MISMATCH",
                      Category::kInvalidGivenCurrentSystemStateOther,
                      "contract " + cid + " is not assigned to " + v.value("source", ""));
  }
  if (!unassign && !h->in_flight && h->synchronizer == target) {
    // Already assigned (the engine completes unassign and assign in one command): the answer.
  } else {
    // A reassignment carries no deduplication period (Canton does not deduplicate them), and
    // moving a DvP's locks where they already are changes nothing: the engine looks the command
    // id up only in what it keeps, from its pruned offset, and a pruned participant still
    // reassigns.
    const Submission s{command_id, ReassignLocks{h->lock_dvp_contract_id}, engine_->prunedBefore()};
    auto r = std::move(engine_->submit(std::span<const Submission>(&s, 1)).front());
    if (!r) return errorReply(cantonErrorOf(r.error()));
  }
  auto now = engine_->holdingById(cid);
  auto moved = contract(cid);
  if (!now || !moved) return contractNotFound(cid);
  const int64_t offset = engine_->ledgerEnd();
  const std::string reassignment_id = cid + ":" + std::to_string(offset);
  const std::string record_time = nowText();
  Json event;
  if (unassign) {
    event = {{"JsUnassignedEvent",
              {{"value",
                {{"reassignmentId", reassignment_id},
                 {"contractId", cid},
                 {"templateId", daml::templateIdWithPackageId(moved->tmpl)},
                 {"source", synchronizerId(source)},
                 {"target", synchronizerId(target)},
                 {"submitter", submitter},
                 {"reassignmentCounter", 1},
                 {"witnessParties", moved->stakeholders()},
                 {"packageName", daml::packageName()},
                 {"offset", offset},
                 {"nodeId", 0}}}}}};
  } else {
    event = {{"JsAssignmentEvent",
              {{"source", synchronizerId(source)},
               {"target", synchronizerId(target)},
               {"reassignmentId", v.value("reassignmentId", "")},
               {"submitter", submitter},
               {"reassignmentCounter", 1},
               {"createdEvent", createdEvent(*moved, offset, 0, record_time)}}}};
  }
  const std::string update_id =
      "1220a" + std::string(unassign ? "u" : "a") + std::to_string(offset) + "-" + cid;
  Json r{{"updateId", update_id},
         {"commandId", command_id},
         {"workflowId", rc.value("workflowId", "")},
         {"offset", offset},
         {"events", Json::array({event})},
         {"recordTime", record_time},
         {"synchronizerId", synchronizerId(unassign ? source : target)}};
  CompletionRecord rec{offset,
                       command_id,
                       c.user.id,
                       rc.value("submissionId", ""),
                       update_id,
                       {submitter},
                       synchronizerId(unassign ? source : target),
                       record_time};
  if (auto s = store_.putUpdate(update_id, Json{{"Reassignment", {{"value", r}}}}, rec); !s) {
    return errorReply(cantonErrorOf(outcomeUnknown("reassignment " + command_id, s.error())));
  }
  return jsonReply(200, Json{{"reassignment", r}});
}

// ---- reads ----------------------------------------------------------------------------------

HttpReply Sandbox::completions(const Caller& c, const Json& body,
                               const std::map<std::string, std::string>& query) {
  const auto parties = stringList(body, "parties");
  if (parties.empty()) return invalidArgument("'parties' must name at least one party");
  for (const auto& p : parties) {
    if (!c.canRead(p)) return permissionDenied("user '" + c.user.id + "' may not read as " + p);
  }
  const std::string user = body.value("userId", c.user.id);
  if (user != c.user.id && !c.user.participant_admin)
    return permissionDenied("completions of another user need ParticipantAdmin");
  const int64_t begin = body.value("beginExclusive", int64_t{0});
  if (begin > engine_->ledgerEnd()) {
    return errorReply(daml::kOffsetAfterLedgerEnd,
                      Category::kInvalidGivenCurrentSystemStateSeekAfterEnd,
                      "Begin offset (" + std::to_string(begin) + ") is after ledger end (" +
                          std::to_string(engine_->ledgerEnd()) + ")");
  }
  if (begin < store_.prunedUpTo())
    return prunedDataAccessed("Command completions", begin, store_.prunedUpTo());
  size_t limit = SIZE_MAX;
  if (auto it = query.find("limit"); it != query.end()) {
    try {
      limit = std::stoul(it->second);
    } catch (...) {
      return invalidArgument("query parameter 'limit' must be a number");
    }
  }
  // Written straight to text: a completion page is up to a thousand of these, read again by
  // every instance whose cache is cold, and a tree per completion cost most of the time.
  std::string out = "[";
  size_t n = 0;
  auto quoted = [](const std::string& v) { return Json(v).dump(); };
  // Recorded in offset order (every record is made under the sandbox's lock).
  const auto& all = store_.completions();
  auto from = std::partition_point(all.begin(), all.end(),
                                   [&](const CompletionRecord& r) { return r.offset <= begin; });
  for (auto it = from; it != all.end() && n < limit; ++it) {
    const CompletionRecord& rec = *it;
    if (rec.user_id != user) continue;
    bool visible = false;
    for (const auto& p : rec.act_as) visible = visible || contains(parties, p);
    if (!visible) continue;
    if (n++) out += ',';
    out += R"({"completionResponse":{"Completion":{"value":{"commandId":)";
    out += quoted(rec.command_id);
    out += R"(,"status":{"code":0,"message":"","details":[]},"updateId":)";
    out += quoted(rec.update_id);
    out += R"(,"userId":)";
    out += quoted(rec.user_id);
    out += R"(,"actAs":)";
    out += Json(rec.act_as).dump();
    out += R"(,"submissionId":)";
    out += quoted(rec.submission_id);
    out += R"(,"offset":)";
    out += std::to_string(rec.offset);
    out += R"(,"synchronizerTime":{"synchronizerId":)";
    out += quoted(rec.synchronizer_id);
    out += R"(,"recordTime":)";
    out += quoted(rec.record_time);
    out += "}}}}}";
  }
  out += ']';
  return HttpReply{200, std::move(out), false};
}

HttpReply Sandbox::activeContracts(const Caller& c, const Json& body) {
  const int64_t at = body.value("activeAtOffset", int64_t{0});
  if (at > engine_->ledgerEnd()) {
    return errorReply(daml::kOffsetAfterLedgerEnd,
                      Category::kInvalidGivenCurrentSystemStateSeekAfterEnd,
                      "activeAtOffset " + std::to_string(at) + " is after the ledger end " +
                          std::to_string(engine_->ledgerEnd()));
  }
  Json format =
      body.contains("eventFormat") ? body["eventFormat"] : body.value("filter", Json::object());
  // party -> template filter (empty = every template); "" = any party.
  std::map<std::string, std::set<Template>> filters;
  auto addFilters = [&](const std::string& party, const Json& f) -> std::optional<HttpReply> {
    auto& set = filters[party];
    for (const auto& cf : f.value("cumulative", Json::array())) {
      const Json idf = cf.value("identifierFilter", Json::object());
      if (idf.contains("TemplateFilter")) {
        auto t = daml::parseTemplateId(idf["TemplateFilter"]["value"].value("templateId", ""));
        if (!t) return invalidArgument(t.error().message);
        set.insert(*t);
      } else if (idf.contains("InterfaceFilter")) {
        return unsupported("the daml/ package has no interfaces");
      } else {
        for (Template t : daml::kAllTemplates) set.insert(t);
      }
    }
    if (set.empty()) {
      for (Template t : daml::kAllTemplates) set.insert(t);
    }
    return std::nullopt;
  };
  const Json by_party = format.value("filtersByParty", Json::object());
  for (const auto& [party, f] : by_party.items()) {
    if (!c.canRead(party))
      return permissionDenied("user '" + c.user.id + "' may not read as " + party);
    if (auto e = addFilters(party, f)) return *e;
  }
  if (format.contains("filtersForAnyParty")) {
    if (!c.user.read_as_any_party)
      return permissionDenied("filtersForAnyParty needs CanReadAsAnyParty");
    if (auto e = addFilters("", format["filtersForAnyParty"])) return *e;
  }
  if (filters.empty())
    return invalidArgument("eventFormat must name filtersByParty or filtersForAnyParty");
  Json out = Json::array();
  for (const auto& k : contractsFor(filters)) {
    std::vector<std::string> witnesses;
    bool any = false;
    for (const auto& [party, set] : filters) {
      if (!set.count(k.tmpl)) continue;
      if (party.empty())
        any = true;
      else if (contains(k.stakeholders(), party))
        witnesses.push_back(party);
    }
    if (witnesses.empty() && !any) continue;
    const auto* ev = store_.contractEvents(k.contract_id);
    const bool recorded = ev && !ev->created.empty();
    int64_t offset = recorded ? ev->offset : 0;
    std::string created_at = recorded && !ev->created_at.empty() ? ev->created_at : nowText();
    Json created = createdEvent(k, offset, 0, created_at);
    if (!any) created["witnessParties"] = witnesses;
    Json entry;
    if (k.in_flight) {
      auto d = engine_->dvp(k.lock_dvp);
      std::string target = d && *d ? (*d)->synchronizer : k.synchronizer;
      entry = {{"JsIncompleteUnassigned",
                {{"createdEvent", created},
                 {"unassignedEvent",
                  {{"reassignmentId", k.contract_id + ":0"},
                   {"contractId", k.contract_id},
                   {"templateId", daml::templateIdWithPackageId(k.tmpl)},
                   {"source", synchronizerId(k.synchronizer)},
                   {"target", synchronizerId(target)},
                   {"reassignmentCounter", 1},
                   {"witnessParties", created["witnessParties"]},
                   {"packageName", daml::packageName()},
                   {"offset", offset},
                   {"nodeId", 0}}}}}};
    } else {
      entry = {{"JsActiveContract",
                {{"createdEvent", created},
                 {"synchronizerId", synchronizerId(k.synchronizer)},
                 {"reassignmentCounter", 0}}}};
    }
    out.push_back({{"workflowId", ""}, {"contractEntry", entry}});
  }
  return jsonReply(200, out);
}

HttpReply Sandbox::updateById(const Caller& c, const Json& body) {
  const std::string id = body.value("updateId", "");
  if (id.empty()) return invalidArgument("missing field 'updateId'");
  if (const std::string* u = store_.update(id))
    return HttpReply{200, "{\"update\":" + *u + "}", false};
  if (auto u = engine_->updateById(id); u && *u) {
    // Known to the engine but not rendered by this sandbox (written before its log): no events.
    const std::string t = formatTimestamp((*u)->recorded_at);
    Json tx{{"updateId", id},
            {"commandId", (*u)->command_id},
            {"workflowId", ""},
            {"effectiveAt", t},
            {"events", Json::array()},
            {"offset", (*u)->offset},
            {"synchronizerId", synchronizerId(opts_.synchronizers.back())},
            {"recordTime", t}};
    return jsonReply(200, Json{{"update", {{"Transaction", {{"value", tx}}}}}});
  }
  return errorReply("UPDATE_NOT_FOUND", Category::kInvalidGivenCurrentSystemStateResourceMissing,
                    "Update not found: " + id);
}

HttpReply Sandbox::eventsByContractId(const Caller& c, const Json& body) {
  const std::string cid = body.value("contractId", "");
  if (cid.empty()) return invalidArgument("missing field 'contractId'");
  Json out = Json::object();
  const auto* ev = store_.contractEvents(cid);
  if (ev && !ev->created.empty()) {
    // The recorded events, as they are stored (serialized).
    const std::string sync = Json(ev->synchronizer_id).dump();
    std::string text =
        R"({"created":{"createdEvent":)" + ev->created + R"(,"synchronizerId":)" + sync + "}";
    if (!ev->archived.empty())
      text +=
          R"(,"archived":{"archivedEvent":)" + ev->archived + R"(,"synchronizerId":)" + sync + "}";
    return HttpReply{200, text + "}", false};
  } else if (auto k = contract(cid)) {
    out["created"] = {{"createdEvent", createdEvent(*k, 0, 0, nowText())},
                      {"synchronizerId", synchronizerId(k->synchronizer)}};
  } else {
    return errorReply("CONTRACT_EVENTS_NOT_FOUND",
                      Category::kInvalidGivenCurrentSystemStateResourceMissing,
                      "Contract events not found, or not visible: " + cid);
  }
  return jsonReply(200, out);
}

}  // namespace sc::ledger::sandbox

// CantonJsonLedger (see the header). Over 500 lines because every Ledger step is one Daml
// submission plus its recovery (DUPLICATE_COMMAND, unknown outcome, contention) and reads the
// same few API calls; split candidates when it grows: auth/token handling, reads, submission.
#include "ledger/canton/canton_json_ledger.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <type_traits>
#include <variant>

#include "common/log.h"
#include "domain/hex.h"
#include "ledger/canton/run_concurrently.h"

namespace sc::ledger::canton {
namespace {

using daml::Json;
using daml::Template;

// workflowId of each command kind: a transaction found again by command id (completions) is
// interpreted with it.
constexpr const char* kKindCreateDvp = "sc.CreateDvp";
constexpr const char* kKindLock = "sc.Lock";
constexpr const char* kKindSettle = "sc.Settle";
constexpr const char* kKindRelease = "sc.Release";
constexpr const char* kKindArchive = "sc.ArchiveDvp";
constexpr const char* kKindReassign = "sc.Reassign";
constexpr const char* kKindCredit = "sc.Credit";
constexpr const char* kKindFence = "sc.Fence";
// stream_idle_timeout_ms of the reconciler's bounded update reads.
constexpr int kUpdatesIdleMs = 2000;

// A reply of the JSON API: a body, or a JsCantonError.
struct Reply {
  int status = 0;
  Json body;
  std::optional<daml::CantonError> error;
};

Error ledgerError(const std::string& code, const std::string& message, bool retry) {
  return retry ? Error::transient(code, message) : Error::permanent(code, message);
}

Json exercise(Template t, const std::string& cid, const char* choice, Json argument) {
  return Json{{"ExerciseCommand",
               {{"templateId", daml::templateRef(t)},
                {"contractId", cid},
                {"choice", choice},
                {"choiceArgument", std::move(argument)}}}};
}

Json templateFilters(const std::vector<Template>& templates) {
  Json cumulative = Json::array();
  for (Template t : templates) {
    cumulative.push_back(
        {{"identifierFilter",
          {{"TemplateFilter",
            {{"value",
              {{"templateId", daml::templateRef(t)}, {"includeCreatedEventBlob", false}}}}}}}});
  }
  return Json{{"cumulative", cumulative}};
}

std::string newCommandId(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32);
  std::ostringstream s;
  s << prefix << ":" << std::hex << salt << ":" << ++counter;
  return s.str();
}

}  // namespace

CantonJsonLedger::CantonJsonLedger(CantonOptions options)
    : opts_(std::move(options)), http_(opts_.http) {
  if (opts_.settlement_synchronizer.empty() && !opts_.synchronizers.empty()) {
    opts_.settlement_synchronizer = opts_.synchronizers.back();
  }
}
CantonJsonLedger::~CantonJsonLedger() = default;

// ---- transport ------------------------------------------------------------------------------

Result<std::string> CantonJsonLedger::oauthToken() {
  const auto now = std::chrono::steady_clock::now();
  if (!token_.empty() && now < token_refresh_at_) return "Bearer " + token_;
  const std::string& url = opts_.oauth.token_url;
  if (!oauth_http_) {
    const bool tls = url.rfind("https://", 0) == 0;
    if (!tls && url.rfind("http://", 0) != 0) {
      return Error::permanent(kUnavailable,
                              "CANTON_OAUTH_TOKEN_URL must start with http:// or https://");
    }
    std::string rest = url.substr(tls ? 8 : 7);
    const size_t slash = rest.find('/');
    oauth_path_ = slash == std::string::npos ? "/" : rest.substr(slash);
    std::string hostport = rest.substr(0, slash);
    HttpClientOptions ho;
    ho.tls = tls;
    ho.ca_file = opts_.oauth.ca_file;
    ho.timeout = opts_.http.timeout;
    ho.pool_size = 1;
    const size_t colon = hostport.rfind(':');
    ho.host = hostport.substr(0, colon);
    ho.port = static_cast<uint16_t>(tls ? 443 : 80);
    if (colon != std::string::npos)
      ho.port = static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1)));
    oauth_http_ = std::make_unique<HttpClient>(ho);
  }
  std::ifstream in(opts_.oauth.client_secret_file);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string secret = ss.str();
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back())))
    secret.pop_back();
  if (secret.empty()) {
    return Error::transient(kUnavailable, "CANTON_OAUTH_CLIENT_SECRET_FILE " +
                                              opts_.oauth.client_secret_file +
                                              " is missing or empty");
  }
  std::string form =
      "grant_type=client_credentials&client_id=" + percentEncode(opts_.oauth.client_id) +
      "&client_secret=" + percentEncode(secret);
  if (!opts_.oauth.audience.empty()) form += "&audience=" + percentEncode(opts_.oauth.audience);
  auto r = oauth_http_->request("POST", oauth_path_, form, "", true,
                                "application/x-www-form-urlencoded");
  if (!r)
    return Error::transient(kUnavailable,
                            "OAuth2 token endpoint " + url + ": " + r.error().message);
  Json j = Json::parse(r->body, nullptr, false);
  if (r->status != 200 || !j.is_object() || !j.contains("access_token") ||
      !j["access_token"].is_string()) {
    return Error::transient(kUnavailable, "OAuth2 token endpoint " + url + " answered " +
                                              std::to_string(r->status) + ": " +
                                              r->body.substr(0, 200) +
                                              " (check CANTON_OAUTH_CLIENT_ID and the secret)");
  }
  token_ = j["access_token"].get<std::string>();
  const int64_t ttl = j.value("expires_in", int64_t{300});
  token_refresh_at_ = now + std::chrono::milliseconds(std::max<int64_t>(0, ttl * 800));
  return "Bearer " + token_;
}

Result<std::string> CantonJsonLedger::authorization() {
  if (!opts_.oauth.token_url.empty()) {
    std::lock_guard l(mu_);
    return oauthToken();
  }
  if (opts_.token_file.empty()) return std::string();
  struct stat st {};
  if (::stat(opts_.token_file.c_str(), &st) != 0) {
    return Error::transient(kUnavailable, "cannot read CANTON_AUTH_TOKEN_FILE " + opts_.token_file);
  }
  const int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  std::lock_guard l(mu_);
  if (mtime != token_mtime_ns_) {
    std::ifstream in(opts_.token_file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string t = ss.str();
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    if (t.empty())
      return Error::transient(kUnavailable,
                              "CANTON_AUTH_TOKEN_FILE " + opts_.token_file + " is empty");
    token_ = t;
    token_mtime_ns_ = mtime;
  }
  return "Bearer " + token_;
}

Result<Json> CantonJsonLedger::call(const std::string& method, const std::string& target,
                                    const Json* body, bool idempotent) {
  auto auth = authorization();
  if (!auth) return auth.error();
  auto r = http_.request(method, target, body ? body->dump() : std::string(), *auth, idempotent);
  if (!r) return r.error();
  Json parsed = r->body.empty() ? Json::object() : Json::parse(r->body, nullptr, false);
  if (r->status >= 200 && r->status < 300) {
    if (parsed.is_discarded()) {
      return Error::transient(kUnavailable, method + " " + target + ": the ledger answered " +
                                                std::to_string(r->status) +
                                                " with a body that is not JSON");
    }
    return parsed;
  }
  if (!parsed.is_discarded()) {
    if (auto e = daml::parseCantonError(parsed)) {
      Error err = errorOf(*e);
      err.message = method + " " + target + ": " + err.message;
      // The JsCantonError travels in the field, for callers that act on its code.
      err.field = parsed.dump();
      return err;
    }
  }
  const std::string text =
      method + " " + target + ": HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 200);
  // A server error without the participant's error body comes from what stands between (a
  // gateway's 502 or 504 after the request went on, a proxy's 500): for a command that is no
  // answer at all, since it may have reached the participant and run.
  if (r->status >= 500 && !idempotent)
    return ledgerError(kTimeout, text + " (no answer from the participant)", true);
  const bool server = r->status >= 500 || r->status == 429;
  return ledgerError(kUnavailable, text, server);
}

namespace {
// The JsCantonError carried by an Error from call(), if any.
std::optional<daml::CantonError> cantonErrorIn(const Error& e) {
  if (e.field.empty() || e.field.front() != '{') return std::nullopt;
  Json j = Json::parse(e.field, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  auto c = daml::parseCantonError(j);
  if (!c) return std::nullopt;
  return *c;
}
Error withoutPayload(Error e) {
  if (!e.field.empty() && e.field.front() == '{') e.field.clear();
  return e;
}
// OFFSET_AFTER_LEDGER_END: a read at an offset the participant's ledger end is behind.
// The contract id an ArchivedEvent archives when it is a DvP's, else "".
std::string archivedDvp(const Json& archived) {
  auto t = daml::parseTemplateId(archived.value("templateId", ""));
  return t && *t == Template::kDeliveryVsPayment ? archived.value("contractId", "") : "";
}

bool afterLedgerEnd(const Error& e) {
  auto ce = cantonErrorIn(e);
  return ce && ce->category() == daml::Category::kInvalidGivenCurrentSystemStateSeekAfterEnd;
}
}  // namespace

Error CantonJsonLedger::errorOf(const daml::CantonError& e) {
  const std::string text = "ledger " + e.code + ": " + e.cause;
  using daml::Category;
  const Category cat = e.category();
  // Every answer that a contract the command used is not active (consumed by another
  // transaction, at interpretation or at confirmation, or never there): the callers tell a
  // DvP that is gone (a failure) from a holding that changed (contention: choose again).
  if (daml::contractInactive(e)) return Error::permanent(kContractNotActive, text);
  if (e.code == daml::kPartyNotKnownOnLedger) return Error::permanent(kUnknownParty, text);
  // A read that starts below the participant's pruning offset: what it asks for is gone.
  if (e.code == daml::kParticipantPrunedDataAccessed) return Error::permanent(kLedgerPruned, text);
  // A command whose deduplication period starts below it: not run, since it may have run before.
  if (e.code == daml::kInvalidDeduplicationPeriod) {
    auto earliest = e.context.find("earliest_offset");
    return Error::permanent(
        kLedgerPruned,
        text + (earliest == e.context.end()
                    ? std::string()
                    : " (the participant deduplicates from offset " + earliest->second + ")"),
        "after_offset");
  }
  if (cat == Category::kAuthInterceptorInvalidAuthenticationCredentials ||
      cat == Category::kInsufficientPermission) {
    // The token or the user's rights are wrong: an operator must act; retried once fixed.
    return Error::transient(
        kUnavailable, text + " (check CANTON_AUTH_TOKEN_FILE and the rights of CANTON_USER_ID)");
  }
  if (cat == Category::kDeadlineExceededRequestStateUnknown)
    return Error::transient(kTimeout, text);
  if (cat == Category::kInvalidGivenCurrentSystemStateSeekAfterEnd) {
    // An offset past the participant's ledger end (Canton retries these after a second): its
    // end went back, or is catching up. The reads that meet it start over at the ledger end.
    return Error::transient(kUnavailable, text);
  }
  // Contracts locked by a transaction in flight, or on a synchronizer the participant cannot
  // tell (unassigned, their reassignment not complete, or not connected to it): wait and retry.
  if (e.code == daml::kLockedContracts || e.code == daml::kUnknownContractSynchronizers)
    return Error::transient(kContractInFlight, text);
  // A synchronizer the participant is not connected to now (an outage): whatever the category.
  if (e.code == daml::kNotConnectedToSynchronizer ||
      e.code == daml::kNotConnectedToOneSynchronizer ||
      e.code == daml::kNoSynchronizerForSubmission || e.code == daml::kSynchronizerNotAvailable)
    return Error::transient(kUnavailable, text);
  if (daml::retryable(cat)) return Error::transient(kUnavailable, text);
  if (e.code == daml::kDamlInterpretationError) {
    // The sandbox names the engine's reason in the context; a participant says it in the cause
    // (the model's assertion messages, and Daml's ArithmeticError for a Numeric overflow).
    auto reason = e.context.find("reason");
    if (reason != e.context.end() &&
        (reason->second == kInsufficientSecurities || reason->second == kInsufficientCash ||
         reason->second == kAmountOutOfRange)) {
      return Error::permanent(reason->second, text);
    }
    if (e.cause.find("insufficient securities") != std::string::npos)
      return Error::permanent(kInsufficientSecurities, text);
    if (e.cause.find("insufficient cash") != std::string::npos)
      return Error::permanent(kInsufficientCash, text);
    if (e.cause.find("ArithmeticError") != std::string::npos)
      return Error::permanent(kAmountOutOfRange, text);
  }
  return Error::permanent(kInvalidCommand, text);
}

Result<void> CantonJsonLedger::loadSynchronizers() {
  {
    std::lock_guard l(mu_);
    if (!id_by_alias_.empty()) return {};
  }
  auto r = call("GET", "/v2/state/connected-synchronizers", nullptr, true);
  if (!r) return withoutPayload(r.error());
  std::lock_guard l(mu_);
  for (const auto& s : r->value("connectedSynchronizers", Json::array())) {
    const std::string alias = s.value("synchronizerAlias", ""), id = s.value("synchronizerId", "");
    id_by_alias_[alias] = id;
    alias_by_id_[id] = alias;
  }
  if (id_by_alias_.empty())
    return Error::transient(kUnavailable, "the participant is connected to no synchronizer");
  return {};
}

std::string CantonJsonLedger::syncId(const std::string& alias) {
  (void)loadSynchronizers();
  std::lock_guard l(mu_);
  auto it = id_by_alias_.find(alias);
  return it == id_by_alias_.end() ? alias : it->second;
}
std::string CantonJsonLedger::syncAlias(const std::string& id) {
  (void)loadSynchronizers();
  std::lock_guard l(mu_);
  auto it = alias_by_id_.find(id);
  return it == alias_by_id_.end() ? id : it->second;
}

std::vector<std::string> CantonJsonLedger::coSigners() const {
  return {opts_.securities_issuer_party, opts_.cash_provider_party};
}

// ---- what this adapter has seen -------------------------------------------------------------

namespace {
// The caches only save round trips: past this many entries they start over (memory stays bounded).
constexpr size_t kMaxCached = 50000;
}  // namespace

void CantonJsonLedger::sawOffset(int64_t offset) {
  int64_t seen = offset_seen_.load();
  while (offset > seen && !offset_seen_.compare_exchange_weak(seen, offset)) {
  }
}

Result<int64_t> CantonJsonLedger::ledgerEnd() {
  auto end = call("GET", "/v2/state/ledger-end", nullptr, true);
  if (!end) return withoutPayload(end.error());
  const int64_t offset = end->value("offset", int64_t{0});
  sawOffset(offset);
  return offset;
}

Result<int64_t> CantonJsonLedger::ledgerWentBack(int64_t asked) {
  auto end = call("GET", "/v2/state/ledger-end", nullptr, true);
  if (!end) return withoutPayload(end.error());
  const int64_t offset = end->value("offset", int64_t{0});
  if (offset >= asked) return offset;  // caught up meanwhile: read there
  // The participant's history now ends before what this adapter saw (restored from a backup, a
  // wiped sandbox): read at its end from now on, and forget the completions seen (they may name
  // updates it no longer has; the stream is read again from its start).
  int64_t seen = offset_seen_.load();
  while (seen > offset && !offset_seen_.compare_exchange_weak(seen, offset)) {
  }
  int64_t low = went_back_to_.load();
  while (low > offset && !went_back_to_.compare_exchange_weak(low, offset)) {
  }
  {
    std::lock_guard l(mu_);
    completions_.clear();
  }
  log::get("ledger")->warn(
      "canton: the participant's ledger end {} is before offset {} seen earlier: its ledger went "
      "back (restore?); reading from its ledger end. The ledger_offset_floor and step_offset_floor "
      "of settlements in flight may now point past offsets it reuses: stop the instances and reset "
      "them "
      "(README of src/ledger/canton, 'went back')",
      offset, asked);
  return offset;
}

void CantonJsonLedger::rememberDvp(const std::string& contract_id, const Dvp& d) {
  std::lock_guard l(mu_);
  if (dvp_cache_.size() >= kMaxCached) dvp_cache_.clear();
  Dvp& e = dvp_cache_[contract_id];
  e = d;
  e.active = false;  // never cached: only what cannot change
}

std::optional<CantonJsonLedger::Dvp> CantonJsonLedger::cachedDvp(const std::string& contract_id) {
  std::lock_guard l(mu_);
  auto it = dvp_cache_.find(contract_id);
  if (it == dvp_cache_.end()) return std::nullopt;
  return it->second;
}

Result<std::optional<CantonJsonLedger::Dvp>> CantonJsonLedger::dvpArgs(
    const std::string& contract_id) {
  if (auto d = cachedDvp(contract_id)) return std::optional<Dvp>{*d};
  return dvpContract(contract_id);  // remembers it
}

void CantonJsonLedger::rememberUpdate(const Json& tx) {
  // Only its offset: the transaction itself is never answered from memory (updateById asks the
  // ledger, so verifying a settle's finality is a read of the ledger, not of this process).
  sawOffset(tx.value("offset", int64_t{0}));
}

// ---- submission -----------------------------------------------------------------------------

Result<std::optional<std::string>> CantonJsonLedger::completedUpdateId(
    const std::string& command_id, int64_t after, int64_t at) {
  after = startOf(after);
  int64_t begin;
  uint64_t generation;
  // The latest completion of the id read (a reassignment completes twice under its id, and a
  // release's id also names the reassignments before it: the later says what the id did last).
  std::optional<CompletionIndex::Entry> found;
  {
    std::lock_guard l(mu_);
    auto held = completions_.entry(command_id);
    if (held && at > 0 && held->offset == at) return {held->update_id};
    // Without `at`, what the index holds may be an earlier completion of the id than one the
    // stream has since: the tail is read as well.
    if (at == 0) found = held;
    // Only what the index does not hold entirely, and nothing before the command id's first
    // submission: a restarted instance asks about recent commands without reading the history.
    // `at` (DUPLICATE_COMMAND's completion_offset): exactly there.
    begin = at > 0 ? at - 1 : completions_.readFrom(std::max<int64_t>(0, after));
    generation = completions_.generation();
  }
  int64_t first = begin;
  bool went_back = false;
  for (;;) {
    // From one offset back: the sandbox gives a completion that changed nothing the offset of
    // the ledger end, which an earlier completion may already have.
    Json req{{"userId", opts_.user_id},
             {"parties", coSigners()},
             {"beginExclusive", std::max<int64_t>(0, begin - 1)}};
    constexpr int kPage = 1000;
    const std::string target =
        "/v2/commands/completions?limit=" + std::to_string(kPage) + "&stream_idle_timeout_ms=100";
    auto r = call("POST", target, &req, true);
    if (!r && !went_back && afterLedgerEnd(r.error())) {
      // The participant's ledger ends before `begin`: it went back (a restore), so what the index
      // and the command's floor say may name offsets it no longer has. Read it all, once.
      went_back = true;
      auto end = ledgerWentBack(begin);
      if (!end) return end.error();
      std::lock_guard l(mu_);
      begin = first = 0;
      at = 0;
      found.reset();
      generation = completions_.generation();
      continue;
    }
    if (!r) return withoutPayload(r.error());
    if (!r->is_array())
      return Error::transient(kUnavailable, "completions: the ledger did not answer an array");
    std::lock_guard l(mu_);
    if (completions_.generation() != generation) {
      // The index was cleared meanwhile (the participant's ledger went back): what this read
      // holds may be from the history it forgot.
      return Error::transient(kUnavailable, "completions of " + command_id +
                                                ": the participant's ledger went back during the "
                                                "lookup; it is asked again");
    }
    int64_t last = begin;
    for (const auto& item : *r) {
      const Json& cr = item.value("completionResponse", Json::object());
      if (!cr.contains("Completion")) continue;
      const Json& c = cr["Completion"]["value"];
      const int64_t off = c.value("offset", int64_t{0});
      last = std::max(last, off);
      const bool ok = !c.contains("status") || c["status"].value("code", 0) == 0;
      if (!ok || !c.contains("updateId")) continue;
      const std::string id = c.value("commandId", "");
      const std::string update = c.value("updateId", "");
      // Kept aside: the index may forget it at once when full.
      if (id == command_id && (at == 0 || off == at) && (!found || off >= found->offset))
        found = CompletionIndex::Entry{update, off};
      completions_.add(id, update, off);
    }
    const bool full = static_cast<int>(r->size()) >= kPage;
    if (full && last <= begin) {  // a full page that did not advance (one offset, 1,000 times)
      return Error::transient(kUnavailable, "completions of " + command_id +
                                                ": the stream did not advance past offset " +
                                                std::to_string(begin));
    }
    begin = last;
    completions_.readThrough(first, begin);
    if (!full) break;
    if (at > 0 && begin >= at) break;  // read past the completion named
    // A read from an older floor that reached the stretch held whole skips it.
    begin = std::max(begin, completions_.readFrom(begin));
  }
  if (at > 0) {
    if (found) return std::optional<std::string>{found->update_id};
    return std::optional<std::string>{};
  }
  // Read meanwhile by another lookup, in a stretch this one skipped: the later of the two.
  std::lock_guard l(mu_);
  auto held = completions_.entry(command_id);
  if (held && (!found || held->offset > found->offset)) found = held;
  if (!found) return std::optional<std::string>{};
  return std::optional<std::string>{found->update_id};
}

Result<Json> CantonJsonLedger::submitTransaction(const Cmd& cmd, const std::string& kind,
                                                 std::vector<std::string> act_as,
                                                 const Json& commands,
                                                 const std::string& synchronizer_alias,
                                                 bool& deduplicated) {
  // The co-signers are in every actAs: each completion is then visible to them (completion()).
  for (const auto& p : coSigners()) {
    if (std::find(act_as.begin(), act_as.end(), p) == act_as.end()) act_as.push_back(p);
  }
  std::sort(act_as.begin(), act_as.end());
  Json jc{{"commands", commands},    {"commandId", cmd.id},     {"actAs", act_as},
          {"userId", opts_.user_id}, {"readAs", Json::array()}, {"workflowId", kind}};
  // Deduplicated against every earlier submission of the id: each completed after the step's
  // floor (an offset no later than the ledger end when the id was first submitted), and the
  // period starts there (exclusive). A participant pruned past the floor can no longer tell
  // whether the id already ran: it refuses (INVALID_DEDUPLICATION_PERIOD, errorOf:
  // ledger_pruned) instead of running it a second time, which the participant's default, its
  // maximum deduplication duration, would not guarantee. Floor 0 (a settlement from before
  // floors were recorded) keeps that default: a period from the participant's beginning would be
  // refused by any participant pruned once.
  // After a participant restore an earlier run may sit below the floor: the period starts where
  // the lookups do.
  const int64_t start = startOf(cmd.after);
  if (start > 0) jc["deduplicationPeriod"] = {{"DeduplicationOffset", {{"value", start}}}};
  if (!synchronizer_alias.empty()) jc["synchronizerId"] = syncId(synchronizer_alias);
  Json filters = Json::object();
  for (const auto& p : act_as) filters[p] = Json::object();
  Json req{{"commands", jc},
           {"transactionFormat",
            {{"eventFormat", {{"filtersByParty", filters}, {"verbose", true}}},
             {"transactionShape", "TRANSACTION_SHAPE_ACS_DELTA"}}}};
  Error last = Error::transient(kTimeout, "not submitted");
  // Once an attempt was sent and not answered (or is still in flight), the command may have run:
  // an answer that does not say otherwise leaves it unknown, and the caller hears kTimeout (a
  // credit's route keeps its Idempotency-Key then: answering a definite failure would let a
  // client's retry credit twice).
  bool may_have_run = false;
  auto unknownAfter = [&](const Error& e) {
    return outcomeUnknown("command " + cmd.id + ": an earlier attempt may have run",
                          withoutPayload(e));
  };
  for (int attempt = 0; attempt < std::max(1, opts_.submit_attempts); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(opts_.retry_backoff * attempt);
    auto r = call("POST", "/v2/commands/submit-and-wait-for-transaction", &req, false);
    if (r) {
      const Json& tx = (*r)["transaction"];
      rememberUpdate(tx);
      {
        std::lock_guard l(mu_);
        completions_.add(cmd.id, tx.value("updateId", ""), tx.value("offset", int64_t{0}));
      }
      deduplicated = false;
      return tx;
    }
    last = r.error();
    auto ce = cantonErrorIn(last);
    if (ce && ce->code == daml::kDuplicateCommand) break;  // done before: recover below
    const bool unknown =  // sent, no answer (or one too large to read)
        !ce && (last.code == kTimeout || last.code == kResponseTooLarge);
    const bool in_flight =
        ce && (ce->code == daml::kSubmissionAlreadyInFlight ||
               ce->category() == daml::Category::kContentionOnSharedResources ||
               ce->category() == daml::Category::kDeadlineExceededRequestStateUnknown);
    if (!unknown && !in_flight) {
      // A refusal after an attempt that may have run says nothing of that attempt when it is
      // transient, when the participant was pruned past the period (it cannot check the
      // earlier run: INVALID_DEDUPLICATION_PERIOD), or when it is not the participant's (a
      // gateway's 401 or 413: the command never reached it). Any other refusal was checked
      // against it: had it run, this one would have been DUPLICATE_COMMAND.
      if (may_have_run && (!ce || last.retryable || last.code == kLedgerPruned))
        return unknownAfter(last);
      return withoutPayload(last);
    }
    may_have_run = true;
  }
  // Already done, or the outcome is unknown: the completion stream knows. DUPLICATE_COMMAND names
  // the first completion's offset (context completion_offset, as Canton's
  // DuplicateCommandReject does): read exactly there, not from the settlement's floor.
  int64_t at = 0;
  if (auto ce = cantonErrorIn(last); ce && ce->code == daml::kDuplicateCommand) {
    if (auto it = ce->context.find("completion_offset"); it != ce->context.end()) {
      auto [p, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), at);
      if (ec != std::errc{} || p != it->second.data() + it->second.size()) at = 0;
    }
  }
  // (Here the command ran, or may have: what the completions cannot show stays unknown.)
  auto update = completedUpdateId(cmd.id, cmd.after, at);
  if (!update) return unknownAfter(update.error());
  if (!*update) {
    auto ce = cantonErrorIn(last);
    if (ce && ce->code == daml::kDuplicateCommand) {
      return Error::transient(
          kTimeout,
          "command " + cmd.id +
              " was deduplicated but its completion is not visible yet (outcome unknown)");
    }
    return unknownAfter(last);
  }
  Json ureq{{"updateId", **update},
            {"updateFormat",
             {{"includeTransactions",
               {{"eventFormat", {{"filtersByParty", filters}, {"verbose", true}}},
                {"transactionShape", "TRANSACTION_SHAPE_ACS_DELTA"}}}}}};
  auto u = call("POST", "/v2/updates/update-by-id", &ureq, true);
  if (!u) return unknownAfter(u.error());  // it ran: only its answer is missing
  const Json& update_json = (*u)["update"];
  if (!update_json.contains("Transaction")) {
    return Error::permanent(kInvalidCommand, "command " + cmd.id + " completed with update " +
                                                 **update + ", which is not a transaction");
  }
  deduplicated = true;
  rememberUpdate(update_json["Transaction"]["value"]);
  return update_json["Transaction"]["value"];
}

namespace {
// A ledger figure that the engine's rules keep a trade figure (a lock, a release, a settle
// result), added into the Outcome's DECIMAL(18,8): refused, not rounded, if it does not fit.
Result<Decimal> addTradeFigure(Decimal sum, LedgerAmount figure) {
  auto d = figure.toDecimal();
  if (!d) return d.error();
  return sum.add(*d);
}
}  // namespace

Result<Outcome> CantonJsonLedger::outcomeOf(const Json& tx, bool deduplicated) {
  Outcome out;
  out.update_id = tx.value("updateId", "");
  out.offset = tx.value("offset", int64_t{0});
  out.synchronizer = syncAlias(tx.value("synchronizerId", ""));
  out.deduplicated = deduplicated;
  const std::string kind = tx.value("workflowId", "");
  std::string archived_dvp;
  std::vector<std::pair<Template, Json>> created;
  std::vector<std::string> created_ids;
  for (const auto& ev : tx.value("events", Json::array())) {
    if (ev.contains("ArchivedEvent")) {
      if (auto id = archivedDvp(ev["ArchivedEvent"]); !id.empty()) archived_dvp = id;
    } else if (ev.contains("CreatedEvent")) {
      const Json& c = ev["CreatedEvent"];
      auto t = daml::parseTemplateId(c.value("templateId", ""));
      if (!t) return t.error();
      if (*t == Template::kRoundFence) {
        out.fenced = true;  // the command id was taken by a fence (FenceCommand)
        continue;
      }
      created.emplace_back(*t, c.value("createArgument", Json::object()));
      created_ids.push_back(c.value("contractId", ""));
    }
  }
  if (!archived_dvp.empty()) out.contract_id = archived_dvp;
  for (size_t i = 0; i < created.size(); ++i) {
    const auto& [t, arg] = created[i];
    const std::string& cid = created_ids[i];
    if (t == Template::kDeliveryVsPayment) {
      auto a = daml::decodeDvp(arg);
      if (!a) return a.error();
      rememberDvp(cid, Dvp{*a, true, out.synchronizer});
      if (kind == kKindSettle) {
        out.remainder_dvp_contract_id = cid;
      } else {
        out.contract_id = cid;
        out.quantity = a->quantity;
        out.amount = a->cash_amount;
      }
    } else if (kind == kKindLock &&
               (t == Template::kLockedSecurities || t == Template::kLockedCash)) {
      auto a = daml::decodeHolding(t, arg);
      if (!a) return a.error();
      if (out.contract_id.empty()) out.contract_id = cid;
      Decimal& sum = t == Template::kLockedSecurities ? out.quantity : out.amount;
      auto s = addTradeFigure(sum, a->amount);
      if (!s) return s.error();
      sum = *s;
    } else if ((kind == kKindSettle || kind == kKindRelease) &&
               (t == Template::kSecuritiesHolding || t == Template::kCashHolding)) {
      auto a = daml::decodeHolding(t, arg);
      if (!a) return a.error();
      if (kind == kKindRelease) {
        Decimal& sum = t == Template::kSecuritiesHolding ? out.quantity : out.amount;
        auto s = addTradeFigure(sum, a->amount);
        if (!s) return s.error();
        sum = *s;
        continue;
      }
      // Settle: the buyer's new securities and the seller's cash (a refund of over-locked
      // cash also goes to the buyer, as a CashHolding: not the seller's).
      auto d = dvpArgs(out.contract_id);
      if (!d) return d.error();
      if (!*d) continue;
      if (t == Template::kSecuritiesHolding && a->owner == (*d)->args.buyer) {
        out.buyer_securities_contract_id = cid;
        auto q = addTradeFigure(Decimal{}, a->amount);
        if (!q) return q.error();
        out.quantity = *q;
      } else if (t == Template::kCashHolding && a->owner == (*d)->args.seller) {
        out.seller_cash_contract_id = cid;
        auto m = addTradeFigure(Decimal{}, a->amount);
        if (!m) return m.error();
        out.amount = *m;
      }
    } else if (kind == kKindCredit) {
      out.contract_id = cid;
    }
  }
  return out;
}

namespace {

// The DvP a command acts on (empty for CreateDvp and FenceCommand).
const std::string& dvpOf(const Command& c) {
  static const std::string none;
  return std::visit(
      [](const auto& x) -> const std::string& {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, CreateDvp> || std::is_same_v<T, FenceCommand>) {
          return none;
        } else {
          return x.dvp_contract_id;
        }
      },
      c);
}

}  // namespace

std::vector<size_t> commandGroups(std::span<const Submission> batch, const PartiesOf& parties_of) {
  std::vector<size_t> parent(batch.size());
  for (size_t i = 0; i < parent.size(); ++i) parent[i] = i;
  auto root = [&](size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  };
  std::map<std::string, size_t> first;  // key -> a submission holding it
  auto join = [&](const std::string& key, size_t i) {
    if (key.size() <= 2) return;  // an empty party or id
    auto [it, added] = first.emplace(key, i);
    if (!added) parent[root(i)] = root(it->second);
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    const Submission& s = batch[i];
    join("c:" + s.command_id, i);
    if (const auto* c = std::get_if<CreateDvp>(&s.command)) {
      join("p:" + c->buyer, i);
      join("p:" + c->seller, i);
    } else if (const auto* f = std::get_if<FenceCommand>(&s.command)) {
      join("p:" + f->buyer, i);
      join("p:" + f->seller, i);
    } else {
      const std::string& dvp = dvpOf(s.command);
      join("d:" + dvp, i);
      if (auto parties = parties_of(dvp)) {
        join("p:" + parties->first, i);
        join("p:" + parties->second, i);
      } else {
        // Whose holdings it takes is not known (the DvP was not read: a failed pre-read, a
        // cleared cache): it may share a party with any other such command, so they all run
        // one after another, in batch order.
        join("?:parties unknown", i);
      }
    }
  }
  std::vector<size_t> out(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) out[i] = root(i);
  return out;
}

std::vector<size_t> CantonJsonLedger::groupsOf(std::span<const Submission> batch) {
  return commandGroups(
      batch, [&](const std::string& dvp) -> std::optional<std::pair<std::string, std::string>> {
        if (auto d = cachedDvp(dvp)) return std::pair{d->args.buyer, d->args.seller};
        return std::nullopt;
      });
}

std::vector<Result<Outcome>> CantonJsonLedger::submit(std::span<const Submission> batch) {
  const int width = std::max(1, opts_.http.pool_size);
  // Every read of the batch's commands is taken at this ledger end or later: it shows whatever
  // happened before the caller decided on these commands.
  if (auto end = ledgerEnd(); !end) return std::vector<Result<Outcome>>(batch.size(), end.error());
  // The parties of DvPs not seen yet (after a restart): read concurrently, then cached.
  std::vector<std::string> unknown;
  for (const auto& s : batch) {
    const std::string& dvp = dvpOf(s.command);
    if (!dvp.empty() && !cachedDvp(dvp) &&
        std::find(unknown.begin(), unknown.end(), dvp) == unknown.end())
      unknown.push_back(dvp);
  }
  // Best effort: a DvP not read here is read again by its command (whose error, or unexpected
  // answer, is then that command's outcome); its command runs with the others of unknown parties.
  runConcurrently(
      unknown.size(), width, [&](size_t i) { (void)dvpArgs(unknown[i]); },
      [&](size_t i, const std::string& what) {
        log::get("ledger")->warn("canton: reading DvP {}: unexpected answer: {}", unknown[i], what);
      });
  // One group per set of commands sharing a party, DvP or command id, in batch order.
  const std::vector<size_t> root = groupsOf(batch);
  std::vector<std::vector<size_t>> groups;
  std::map<size_t, size_t> group_of_root;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto [it, added] = group_of_root.emplace(root[i], groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  std::vector<std::optional<Result<Outcome>>> results(batch.size());
  auto unexpected = [&](size_t i, const std::string& what) {
    return Error::transient(kUnavailable,
                            "command " + batch[i].command_id + ": unexpected answer: " + what);
  };
  runConcurrently(
      groups.size(), width,
      [&](size_t g) {
        for (size_t i : groups[g]) {
          try {
            results[i].emplace(submitOne(batch[i]));
          } catch (const std::exception& e) {
            results[i].emplace(unexpected(i, e.what()));
          }
        }
      },
      [&](size_t g, const std::string& what) {
        for (size_t i : groups[g]) {
          if (!results[i]) results[i].emplace(unexpected(i, what));
        }
      });
  std::vector<Result<Outcome>> out;
  out.reserve(batch.size());
  for (size_t i = 0; i < results.size(); ++i) {
    out.push_back(results[i] ? std::move(*results[i]) : unexpected(i, "no outcome"));
  }
  return out;
}

Result<Outcome> CantonJsonLedger::submitOne(const Submission& s) {
  if (s.command_id.empty())
    return Error::permanent(kInvalidCommand, "command id must not be empty", "command_id");
  const Cmd cmd{s.command_id, s.after_offset};
  auto r = std::visit([&](const auto& c) { return run(cmd, c); }, s.command);
  if (!r) {
    log::get("ledger")->debug("canton: command {} failed: {} {}", s.command_id, r.error().code,
                              r.error().message);
  }
  return r;
}

Result<Outcome> CantonJsonLedger::run(const Cmd& cmd, const CreateDvp& c) {
  daml::DvpArgs a{c.buyer,
                  c.seller,
                  opts_.securities_issuer_party,
                  opts_.cash_provider_party,
                  c.security,
                  c.cash_asset,
                  c.quantity,
                  c.amount,
                  c.settlement_date};
  Json commands = Json::array({{{"CreateCommand",
                                 {{"templateId", daml::templateRef(Template::kDeliveryVsPayment)},
                                  {"createArguments", daml::encode(a)}}}}});
  bool dedup = false;
  auto tx = submitTransaction(cmd, kKindCreateDvp, daml::signatories(a), commands,
                              opts_.settlement_synchronizer, dedup);
  if (!tx) return tx.error();
  auto out = outcomeOf(*tx, dedup);
  if (out && out->fenced) {
    // DUPLICATE_COMMAND, and the first transaction under the id is a RoundFence: the round was
    // abandoned before its DvP existed, and this create can never run.
    return Error::permanent(kCommandFenced, "command id " + cmd.id +
                                                " was fenced (RoundFence in update " +
                                                out->update_id + "): its round was abandoned");
  }
  return out;
}

// A RoundFence created under the round's create command id, acting as the create does (Canton's
// deduplication key is user, actAs and command id). DUPLICATE_COMMAND recovers the first
// transaction: the round's DvP (returned deduplicated, as the engine does) or an earlier fence.
Result<Outcome> CantonJsonLedger::run(const Cmd& cmd, const FenceCommand& c) {
  daml::FenceArgs a{opts_.cash_provider_party, cmd.id};
  Json commands = Json::array({{{"CreateCommand",
                                 {{"templateId", daml::templateRef(Template::kRoundFence)},
                                  {"createArguments", daml::encode(a)}}}}});
  std::vector<std::string> act_as{opts_.cash_provider_party};
  for (const std::string& p : {c.buyer, c.seller}) {
    if (!p.empty() && std::find(act_as.begin(), act_as.end(), p) == act_as.end())
      act_as.push_back(p);
  }
  bool dedup = false;
  auto tx = submitTransaction(cmd, kKindFence, std::move(act_as), commands,
                              opts_.settlement_synchronizer, dedup);
  if (!tx) return tx.error();
  return outcomeOf(*tx, dedup);
}

Result<Outcome> CantonJsonLedger::firstOutcomeOr(const Cmd& cmd, Error e) {
  auto done = completionAfter(cmd.id, cmd.after);
  // A lookup that failed says nothing about whether the command ran: its (retryable) error, never
  // `e`, which would be a definite answer given during an outage.
  if (!done) return done.error();
  if (*done) return **done;
  return e;
}

Result<Outcome> CantonJsonLedger::unlessInactive(const Cmd& cmd, const std::string& dvp_id,
                                                 Error e) {
  auto d = dvpContract(dvp_id);
  if (!d) return d.error();
  if (*d && (*d)->active) return e;
  // Done before (and the DvP settled or was archived since)? Its first outcome stands.
  return firstOutcomeOr(
      cmd, Error::permanent(kContractNotActive, "contract " + dvp_id + " is not active",
                            "dvp_contract_id"));
}

Result<Json> CantonJsonLedger::lockCommands(const std::string& dvp_id, const Dvp& d,
                                            std::vector<Active> acs, Decimal quantity,
                                            bool allow_partial, bool cash) {
  const daml::DvpArgs& dv = d.args;
  const std::string owner = cash ? dv.buyer : dv.seller;
  const std::string asset = cash ? dv.currency : dv.symbol;
  const Template free_t = cash ? Template::kCashHolding : Template::kSecuritiesHolding;
  // The DvP's synchronizer first (no reassignment needed), then the others, oldest first.
  std::vector<std::pair<Active, daml::HoldingArgs>> free;
  for (auto& k : acs) {
    if (k.in_flight || k.tmpl != free_t) continue;
    auto h = daml::decodeHolding(k.tmpl, k.argument);
    if (!h || h->owner != owner || h->asset != asset) continue;
    free.emplace_back(std::move(k), *h);
  }
  std::stable_sort(free.begin(), free.end(), [&](const auto& x, const auto& y) {
    return (x.first.synchronizer == d.synchronizer) > (y.first.synchronizer == d.synchronizer);
  });
  LedgerAmount available;
  for (const auto& [k, h] : free) {
    auto s = available.add(h.amount);
    if (!s) return s.error();
    available = *s;
  }
  // A partial lock takes what is available cut down to the trade's 8 decimals, as the engine
  // does: what is locked is a trade figure.
  const LedgerAmount at_trade_scale = available.truncatedToTradeScale();
  LedgerAmount need = quantity;
  if (available < LedgerAmount(quantity)) {
    if (!(allow_partial && !cash && at_trade_scale.isPositive())) {
      return Error::permanent(cash ? kInsufficientCash : kInsufficientSecurities,
                              "party " + owner + " has " + available.toString(8) + " " + asset +
                                  " available, needs " + quantity.toString());
    }
    need = at_trade_scale;
  }
  Json commands = Json::array();
  LedgerAmount remaining = need;
  for (const auto& [k, h] : free) {
    if (!remaining.isPositive()) break;
    LedgerAmount take = std::min(remaining, h.amount);
    Json arg{{"take", daml::numeric(take)}, {"dvp_ref", dvp_id}};
    arg[cash ? "seller" : "buyer"] = cash ? dv.seller : dv.buyer;
    commands.push_back(exercise(free_t, k.contract_id,
                                cash ? daml::kChoiceLockCash : daml::kChoiceLockSecurities, arg));
    remaining = remaining.sub(take).value();
  }
  return commands;
}

Result<Outcome> CantonJsonLedger::lock(const Cmd& cmd, const std::string& dvp_id, Decimal quantity,
                                       bool allow_partial, bool cash) {
  // The holdings are chosen from the active contracts, then exercised: a concurrent lock of the
  // same owner (another instance's) may consume one in between, and the participant answers
  // that the holding is not active (CONTRACT_NOT_FOUND at interpretation,
  // LOCAL_VERDICT_INACTIVE_CONTRACTS at confirmation: errorOf maps both to contract_not_active,
  // without the DvP's field). That is contention, not a failure of the command: choose again,
  // at the ledger end.
  // The owner signs the DvP, so the same read shows whether the DvP is still active; one it does
  // not show is asked for directly.
  auto once = [&](bool fresh) -> Result<Outcome> {
    auto d = dvpArgs(dvp_id);
    if (!d) return d.error();
    if (!*d) return unlessInactive(cmd, dvp_id, Error{});
    const Template free_t = cash ? Template::kCashHolding : Template::kSecuritiesHolding;
    const std::string owner = cash ? (*d)->args.buyer : (*d)->args.seller;
    auto acs = activeContracts({owner}, {free_t, Template::kDeliveryVsPayment}, fresh);
    if (!acs) return acs.error();
    if (std::none_of(acs->begin(), acs->end(), [&](const Active& k) {
          return k.tmpl == Template::kDeliveryVsPayment && k.contract_id == dvp_id;
        })) {
      // Not active at that offset; if it is now, the look was too early: look again.
      return unlessInactive(
          cmd, dvp_id,
          Error::permanent(kContractNotActive, "DvP " + dvp_id + " was not yet visible"));
    }
    auto commands = lockCommands(dvp_id, **d, std::move(*acs), quantity, allow_partial, cash);
    // Too little free now: unless this command already ran (and took them).
    if (!commands) return firstOutcomeOr(cmd, commands.error());
    bool dedup = false;
    auto tx = submitTransaction(cmd, kKindLock, {owner}, *commands, "", dedup);
    if (!tx) return tx.error();
    return outcomeOf(*tx, dedup);
  };
  for (int attempt = 1;; ++attempt) {
    auto r = once(attempt > 1);
    if (r || r.error().code != kContractNotActive || r.error().field == "dvp_contract_id") return r;
    if (attempt >= 5) {
      return Error::transient(
          kUnavailable, "the owner's holdings kept changing under the lock: " + r.error().message);
    }
  }
}

Result<Outcome> CantonJsonLedger::run(const Cmd& cmd, const LockSecurities& c) {
  return lock(cmd, c.dvp_contract_id, c.quantity, c.allow_partial, false);
}
Result<Outcome> CantonJsonLedger::run(const Cmd& cmd, const LockCash& c) {
  return lock(cmd, c.dvp_contract_id, c.amount, false, true);
}

Result<std::vector<CantonJsonLedger::Active>> CantonJsonLedger::locksOf(const std::string& dvp_id,
                                                                        const Dvp& d, bool fresh) {
  auto acs = activeContracts({d.args.seller, d.args.buyer},
                             {Template::kLockedSecurities, Template::kLockedCash}, fresh);
  if (!acs) return acs.error();
  std::vector<Active> out;
  for (auto& k : *acs) {
    auto h = daml::decodeHolding(k.tmpl, k.argument);
    if (h && h->dvp_ref == dvp_id) out.push_back(k);
  }
  return out;
}

Result<Json> CantonJsonLedger::reassign(const std::string& command_id, const std::string& submitter,
                                        const Json& command) {
  Json req{{"reassignmentCommands",
            {{"workflowId", kKindReassign},
             {"userId", opts_.user_id},
             {"commandId", command_id},
             {"submitter", submitter},
             {"commands", Json::array({{{"command", command}}})}}},
           {"eventFormat", {{"filtersByParty", {{submitter, Json::object()}}}, {"verbose", true}}}};
  auto r = call("POST", "/v2/commands/submit-and-wait-for-reassignment", &req, false);
  if (!r) return withoutPayload(r.error());
  sawOffset((*r)["reassignment"].value("offset", int64_t{0}));
  return (*r)["reassignment"];
}

Result<Outcome> CantonJsonLedger::run(const Cmd& cmd, const ReassignLocks& c) {
  auto d = dvpArgs(c.dvp_contract_id);
  if (!d) return d.error();
  if (!*d)
    return Error::permanent(kContractNotActive, "contract " + c.dvp_contract_id + " is not active",
                            "dvp_contract_id");
  const std::string target = (*d)->synchronizer;
  Outcome out;
  out.synchronizer = target;
  // Reassignments are not deduplicated: look where each lock sits before every step. The
  // submitter is the lock's issuer or provider (a stakeholder), so the completion is visible to
  // the co-signers, where completion() looks.
  //
  // Another worker (one whose lease lapsed while it ran this same step) may move a lock between
  // this look and this command; the participant then refuses the command because the lock is no
  // longer where it was seen. That is not a failure of the step: look again and go on from
  // where the lock is now (the guard bounds the loop). A refusal while the lock still sits where
  // it was seen is the step's own error.
  // What to make of a refused reassignment: nullopt when the lock moved (or was consumed) since
  // it was seen, so the loop looks again; else the error to return. A failed look is returned as
  // it is (retryable), never the refusal it was meant to explain.
  auto refusal = [&](const Error& e, const std::string& contract_id, const std::string& was_on,
                     bool was_in_flight) -> std::optional<Error> {
    if (e.retryable) return e;
    auto again = locksOf(c.dvp_contract_id, **d, true);
    if (!again) return again.error();
    for (const auto& k : *again) {
      if (k.contract_id == contract_id) {
        if (k.synchronizer != was_on || k.in_flight != was_in_flight) return std::nullopt;
        return e;
      }
    }
    return std::nullopt;  // consumed (settled or released) by the other worker
  };
  bool all_on_target = false;
  for (int guard = 0; guard < 64; ++guard) {
    auto locks = locksOf(c.dvp_contract_id, **d, false);
    if (!locks) return locks.error();
    const Active* move = nullptr;
    for (const auto& k : *locks) {
      if (k.in_flight || k.synchronizer != target) {
        move = &k;
        break;
      }
    }
    if (!move) {
      all_on_target = true;
      break;
    }
    auto h = daml::decodeHolding(move->tmpl, move->argument);
    if (!h) return h.error();
    std::string reassignment_id = move->reassignment_id;
    const std::string source = move->synchronizer, contract_id = move->contract_id;
    const bool in_flight = move->in_flight;
    if (!in_flight) {
      Json un{{"UnassignCommand",
               {{"value",
                 {{"contractId", contract_id},
                  {"source", syncId(source)},
                  {"target", syncId(target)}}}}}};
      auto r = reassign(cmd.id, h->issuer, un);
      if (!r) {
        if (auto e = refusal(r.error(), contract_id, source, in_flight)) return *e;
        continue;
      }
      for (const auto& ev : r->value("events", Json::array())) {
        if (ev.contains("JsUnassignedEvent"))
          reassignment_id = ev["JsUnassignedEvent"]["value"].value("reassignmentId", "");
      }
    }
    Json as{{"AssignCommand",
             {{"value",
               {{"reassignmentId", reassignment_id},
                {"source", syncId(source)},
                {"target", syncId(target)}}}}}};
    auto r = reassign(cmd.id, h->issuer, as);
    if (!r) {
      if (auto e = refusal(r.error(), contract_id, source, true)) return *e;
      continue;
    }
    out.update_id = r->value("updateId", "");
    out.offset = r->value("offset", int64_t{0});
    out.contract_id = contract_id;
  }
  if (!all_on_target) {
    return Error::transient(kContractInFlight, "the locks of " + c.dvp_contract_id +
                                                   " were still moving after 64 reassignment "
                                                   "steps; the step is retried");
  }
  // Nothing moved: the offset the locks were seen at (or a later one).
  if (out.update_id.empty()) out.offset = offset_seen_.load();
  return out;
}

Result<Outcome> CantonJsonLedger::run(const Cmd& cmd, const Settle& c) {
  // The DvP's arguments are known (cached), and whether it is still active only matters when
  // something is wrong: a settled or archived DvP has no locks, and the exercise on it fails.
  auto d = dvpArgs(c.dvp_contract_id);
  if (!d) return d.error();
  if (!*d) return unlessInactive(cmd, c.dvp_contract_id, Error{});
  auto locks = locksOf(c.dvp_contract_id, **d, false);
  if (!locks) return locks.error();
  Json sec = Json::array(), cash = Json::array();
  for (const auto& k : *locks) {
    if (k.in_flight) {
      return unlessInactive(cmd, c.dvp_contract_id,
                            Error::transient(kContractInFlight, "lock " + k.contract_id +
                                                                    " is in flight; reassign to "
                                                                    "complete"));
    }
    if (k.synchronizer != (*d)->synchronizer) {
      return unlessInactive(
          cmd, c.dvp_contract_id,
          Error::permanent(kInvalidCommand,
                           "lock " + k.contract_id + " sits on '" + k.synchronizer + "', not on '" +
                               (*d)->synchronizer + "'; reassign the locks first"));
    }
    (k.tmpl == Template::kLockedSecurities ? sec : cash).push_back(k.contract_id);
  }
  if (sec.empty() || cash.empty()) {
    return unlessInactive(cmd, c.dvp_contract_id,
                          Error::permanent(kInvalidCommand,
                                           "DvP " + c.dvp_contract_id + " has no " +
                                               (sec.empty() ? "securities" : "cash") + " locked",
                                           "dvp_contract_id"));
  }
  Json arg{{"buyer_securities_ref", c.dvp_contract_id + ":securities"},
           {"seller_cash_ref", c.dvp_contract_id + ":cash"},
           {"securities_locks", sec},
           {"cash_locks", cash}};
  Json commands = Json::array(
      {exercise(Template::kDeliveryVsPayment, c.dvp_contract_id, daml::kChoiceSettle, arg)});
  bool dedup = false;
  auto tx = submitTransaction(cmd, kKindSettle, {(*d)->args.buyer, (*d)->args.seller}, commands, "",
                              dedup);
  if (!tx) {
    if (tx.error().code == kContractNotActive)
      return unlessInactive(cmd, c.dvp_contract_id, tx.error());
    return tx.error();
  }
  return outcomeOf(*tx, dedup);
}

Result<Outcome> CantonJsonLedger::run(const Cmd& cmd, const ReleaseLocks& c) {
  auto d = dvpContract(c.dvp_contract_id);
  if (!d) return d.error();
  // Nothing (left) to release: the first outcome of this command id if it ran, else a no-op.
  auto nothing = [&](std::string synchronizer) -> Result<Outcome> {
    if (auto done = completionAfter(cmd.id, cmd.after); !done) {
      return done.error();  // as firstOutcomeOr: a failed lookup is no answer
    } else if (*done) {
      return **done;
    }
    Outcome none;
    none.contract_id = c.dvp_contract_id;
    none.synchronizer = std::move(synchronizer);
    return none;
  };
  if (!*d) return nothing("");
  auto locks = locksOf(c.dvp_contract_id, **d, true);
  if (!locks) return locks.error();
  // A lock in flight is assigned to the DvP's synchronizer first (it cannot be used elsewhere).
  if (std::any_of(locks->begin(), locks->end(), [](const Active& k) { return k.in_flight; })) {
    auto moved = run(cmd, ReassignLocks{c.dvp_contract_id});
    if (!moved) return moved.error();
    locks = locksOf(c.dvp_contract_id, **d, true);
    if (!locks) return locks.error();
  }
  Json commands = Json::array();
  std::vector<std::string> act_as;
  for (const auto& k : *locks) {
    auto h = daml::decodeHolding(k.tmpl, k.argument);
    if (!h) return h.error();
    const bool sec = k.tmpl == Template::kLockedSecurities;
    commands.push_back(exercise(k.tmpl, k.contract_id,
                                sec ? daml::kChoiceReleaseSecurities : daml::kChoiceReleaseCash,
                                Json::object()));
    act_as.push_back(h->owner);
  }
  const bool archive = c.archive_dvp && (*d)->active;
  if (archive) {
    commands.push_back(exercise(Template::kDeliveryVsPayment, c.dvp_contract_id,
                                daml::kChoiceCancel, Json::object()));
    act_as.push_back((*d)->args.buyer);
    act_as.push_back((*d)->args.seller);
  }
  if (commands.empty()) return nothing((*d)->synchronizer);
  std::sort(act_as.begin(), act_as.end());
  act_as.erase(std::unique(act_as.begin(), act_as.end()), act_as.end());
  bool dedup = false;
  auto tx = submitTransaction(cmd, kKindRelease, act_as, commands, "", dedup);
  if (!tx) return tx.error();
  auto out = outcomeOf(*tx, dedup);
  if (out && out->contract_id.empty()) out->contract_id = c.dvp_contract_id;
  return out;
}

Result<Outcome> CantonJsonLedger::run(const Cmd& cmd, const ArchiveDvp& c) {
  auto d = dvpContract(c.dvp_contract_id);
  if (!d) return d.error();
  if (!*d)
    return Error::permanent(kContractNotActive, "contract " + c.dvp_contract_id + " is not active",
                            "dvp_contract_id");
  Outcome none;
  none.contract_id = c.dvp_contract_id;
  none.synchronizer = (*d)->synchronizer;
  if (!(*d)->active) return none;
  auto locks = locksOf(c.dvp_contract_id, **d, true);
  if (!locks) return locks.error();
  if (!locks->empty())
    return Error::permanent(kInvalidCommand,
                            "DvP " + c.dvp_contract_id + " still has locks; release them first");
  Json commands = Json::array({exercise(Template::kDeliveryVsPayment, c.dvp_contract_id,
                                        daml::kChoiceCancel, Json::object())});
  bool dedup = false;
  auto tx = submitTransaction(cmd, kKindArchive, {(*d)->args.buyer, (*d)->args.seller}, commands,
                              "", dedup);
  if (!tx) return tx.error();
  auto out = outcomeOf(*tx, dedup);
  if (out && out->contract_id.empty()) out->contract_id = c.dvp_contract_id;
  return out;
}

// ---- parties and funding --------------------------------------------------------------------

Result<std::string> CantonJsonLedger::allocateParty(const std::string& hint) {
  if (hint.find("::") != std::string::npos) {
    auto e = partyExists(hint);
    if (!e) return e.error();
    if (!*e)
      return Error::permanent(kUnknownParty, "party '" + hint + "' is not known to the participant",
                              "hint");
    return hint;
  }
  Json req{{"partyIdHint", hint}, {"userId", opts_.user_id}, {"identityProviderId", ""}};
  auto r = call("POST", "/v2/parties", &req, false);
  if (r) return (*r)["partyDetails"].value("party", "");
  // Allocated before (a participant rejects a second allocation of a hint): find it.
  auto ce = cantonErrorIn(r.error());
  if (!ce || ce->category() == daml::Category::kTransientServerFailure)
    return withoutPayload(r.error());
  auto list = call("GET", "/v2/parties?filter-party=" + percentEncode(hint), nullptr, true);
  if (!list) return withoutPayload(list.error());
  for (const auto& p : list->value("partyDetails", Json::array())) {
    const std::string id = p.value("party", "");
    if (id.rfind(hint + "::", 0) == 0) return id;
  }
  return withoutPayload(r.error());
}

Result<bool> CantonJsonLedger::partyExists(const std::string& party) {
  auto r = call("GET", "/v2/parties/" + percentEncode(party), nullptr, true);
  if (!r) return withoutPayload(r.error());
  for (const auto& p : r->value("partyDetails", Json::array())) {
    if (p.value("party", "") == party) return true;
  }
  return false;
}

Result<HoldingView> CantonJsonLedger::credit(const std::string& party, const std::string& asset,
                                             LedgerAmount amount, const std::string& synchronizer) {
  const bool cash = opts_.cash_assets.count(asset) > 0;
  daml::HoldingArgs a;
  a.kind = cash ? Template::kCashHolding : Template::kSecuritiesHolding;
  a.issuer = cash ? opts_.cash_provider_party : opts_.securities_issuer_party;
  a.owner = party;
  a.asset = asset;
  a.amount = amount;
  Json commands = Json::array(
      {{{"CreateCommand",
         {{"templateId", daml::templateRef(a.kind)}, {"createArguments", daml::encode(a)}}}}});
  // A fresh id, resent only within this call: deduplicated from the ledger end read now (no
  // instance's stale offset), so a resend that a pruning overtook is refused, never run twice.
  auto end = ledgerEnd();
  if (!end) return end.error();
  bool dedup = false;
  auto tx = submitTransaction(Cmd{newCommandId("credit"), *end}, kKindCredit, daml::signatories(a),
                              commands, synchronizer, dedup);
  if (!tx) return tx.error();
  for (const auto& ev : tx->value("events", Json::array())) {
    if (!ev.contains("CreatedEvent")) continue;
    HoldingView v;
    v.contract_id = ev["CreatedEvent"].value("contractId", "");
    v.owner = party;
    v.asset = asset;
    v.amount = amount;
    v.synchronizer = syncAlias(tx->value("synchronizerId", ""));
    return v;
  }
  return Error::permanent(kInvalidCommand, "the ledger created no holding for " + party);
}

// ---- reads ----------------------------------------------------------------------------------

Result<std::vector<CantonJsonLedger::Active>> CantonJsonLedger::activeContracts(
    const std::vector<std::string>& parties, const std::vector<Template>& templates, bool fresh) {
  int64_t at = offset_seen_.load();
  if (fresh || at == 0) {
    auto end = ledgerEnd();
    if (!end) return end.error();
    at = *end;
  }
  Json filters = Json::object();
  for (const auto& p : parties) filters[p] = templateFilters(templates);
  Json req{{"activeAtOffset", at},
           {"eventFormat", {{"filtersByParty", filters}, {"verbose", true}}}};
  auto r = call("POST", "/v2/state/active-contracts", &req, true);
  if (!r && afterLedgerEnd(r.error())) {
    auto end = ledgerWentBack(at);
    if (!end) return end.error();
    req["activeAtOffset"] = *end;
    r = call("POST", "/v2/state/active-contracts", &req, true);
  }
  if (!r) return withoutPayload(r.error());
  if (!r->is_array())
    return Error::transient(kUnavailable, "active-contracts: the ledger did not answer an array");
  std::vector<Active> out;
  std::set<std::string> seen;
  for (const auto& item : *r) {
    const Json& entry = item.value("contractEntry", Json::object());
    Active k;
    const Json* created = nullptr;
    if (entry.contains("JsActiveContract")) {
      created = &entry["JsActiveContract"]["createdEvent"];
      k.synchronizer = syncAlias(entry["JsActiveContract"].value("synchronizerId", ""));
    } else if (entry.contains("JsIncompleteUnassigned")) {
      const Json& u = entry["JsIncompleteUnassigned"];
      created = &u["createdEvent"];
      k.in_flight = true;
      k.synchronizer = syncAlias(u["unassignedEvent"].value("source", ""));
      k.target = syncAlias(u["unassignedEvent"].value("target", ""));
      k.reassignment_id = u["unassignedEvent"].value("reassignmentId", "");
    } else {
      continue;
    }
    auto t = daml::parseTemplateId(created->value("templateId", ""));
    if (!t) continue;  // another package's contract
    k.tmpl = *t;
    k.contract_id = created->value("contractId", "");
    k.argument = created->value("createArgument", Json::object());
    if (seen.insert(k.contract_id).second) out.push_back(std::move(k));
  }
  return out;
}

Result<std::vector<HoldingView>> CantonJsonLedger::holdings(const std::string& party) {
  // At the ledger end, not at the last offset this process saw: other instances commit too, and
  // the reconciler compares these with rows written after their commands (fresh).
  auto acs = activeContracts({party},
                             {Template::kSecuritiesHolding, Template::kLockedSecurities,
                              Template::kCashHolding, Template::kLockedCash},
                             true);
  if (!acs) return acs.error();
  std::vector<HoldingView> out;
  for (const auto& k : *acs) {
    auto h = daml::decodeHolding(k.tmpl, k.argument);
    if (!h) return h.error();
    if (h->owner != party) continue;
    HoldingView v;
    v.contract_id = k.contract_id;
    v.owner = h->owner;
    v.asset = h->asset;
    v.amount = h->amount;
    v.locked = h->isLock();
    v.lock_dvp_contract_id = h->dvp_ref;
    v.synchronizer = k.synchronizer;
    v.in_flight = k.in_flight;
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.contract_id < b.contract_id; });
  return out;
}

Result<std::optional<CantonJsonLedger::Dvp>> CantonJsonLedger::dvpContract(
    const std::string& contract_id) {
  Json filters = Json::object();
  for (const auto& p : coSigners()) filters[p] = Json::object();
  Json req{{"contractId", contract_id},
           {"eventFormat", {{"filtersByParty", filters}, {"verbose", true}}}};
  auto r = call("POST", "/v2/events/events-by-contract-id", &req, true);
  if (!r) {
    auto ce = cantonErrorIn(r.error());
    if (ce && ce->category() == daml::Category::kInvalidGivenCurrentSystemStateResourceMissing) {
      return std::optional<Dvp>{};
    }
    return withoutPayload(r.error());
  }
  if (!r->contains("created")) return std::optional<Dvp>{};
  const Json& created = (*r)["created"];
  auto t = daml::parseTemplateId(created["createdEvent"].value("templateId", ""));
  if (!t || *t != Template::kDeliveryVsPayment) return std::optional<Dvp>{};
  auto a = daml::decodeDvp(created["createdEvent"].value("createArgument", Json::object()));
  if (!a) return a.error();
  Dvp d;
  d.args = *a;
  d.active = !r->contains("archived") || (*r)["archived"].is_null();
  d.synchronizer = syncAlias(created.value("synchronizerId", ""));
  rememberDvp(contract_id, d);
  return std::optional<Dvp>{d};
}

Result<std::optional<DvpView>> CantonJsonLedger::dvp(const std::string& contract_id) {
  auto d = dvpContract(contract_id);
  if (!d) return d.error();
  if (!*d) return std::optional<DvpView>{};
  DvpView v;
  v.contract_id = contract_id;
  v.active = (*d)->active;
  v.buyer = (*d)->args.buyer;
  v.seller = (*d)->args.seller;
  v.security = (*d)->args.symbol;
  v.cash_asset = (*d)->args.currency;
  v.quantity = (*d)->args.quantity;
  v.amount = (*d)->args.cash_amount;
  v.synchronizer = (*d)->synchronizer;
  return std::optional<DvpView>{v};
}

Result<std::optional<UpdateView>> CantonJsonLedger::updateById(const std::string& update_id) {
  // Always the ledger's answer, never a remembered one: the workflow verifies a settle's
  // finality with it (SETTLED), which must hold on the ledger, not in this process's memory.
  Json filters = Json::object();
  for (const auto& p : coSigners()) filters[p] = Json::object();
  Json fmt{{"filtersByParty", filters}, {"verbose", false}};
  Json req{{"updateId", update_id},
           {"updateFormat",
            {{"includeTransactions",
              {{"eventFormat", fmt}, {"transactionShape", "TRANSACTION_SHAPE_ACS_DELTA"}}},
             {"includeReassignments", fmt}}}};
  auto r = call("POST", "/v2/updates/update-by-id", &req, true);
  if (!r) {
    auto ce = cantonErrorIn(r.error());
    if (ce && ce->category() == daml::Category::kInvalidGivenCurrentSystemStateResourceMissing) {
      return std::optional<UpdateView>{};
    }
    return withoutPayload(r.error());
  }
  const Json& u = (*r)["update"];
  const Json* v = u.contains("Transaction")    ? &u["Transaction"]["value"]
                  : u.contains("Reassignment") ? &u["Reassignment"]["value"]
                                               : nullptr;
  if (!v) return std::optional<UpdateView>{};
  UpdateView out;
  out.update_id = v->value("updateId", "");
  out.offset = v->value("offset", int64_t{0});
  out.command_id = v->value("commandId", "");
  if (auto t = parseTimestamp(v->value("recordTime", ""))) out.recorded_at = *t;
  return std::optional<UpdateView>{out};
}

Result<int64_t> CantonJsonLedger::prunedUpTo() {
  auto r = call("GET", "/v2/state/latest-pruned-offsets", nullptr, true);
  if (!r) return withoutPayload(r.error());
  const Json& v = *r;
  auto it = v.find("participantPrunedUpToInclusive");
  if (it == v.end()) return int64_t{0};  // optional: absent until the participant is pruned
  if (!it->is_number_integer() || it->get<int64_t>() < 0) {
    return Error::transient(kUnavailable,
                            "/v2/state/latest-pruned-offsets: participantPrunedUpToInclusive is " +
                                it->dump() + ", not a non-negative integer");
  }
  return it->get<int64_t>();
}

Result<int64_t> CantonJsonLedger::knownLedgerEnd() {
  if (int64_t seen = offset_seen_.load(); seen > 0) return seen;
  return ledgerEnd();
}

Result<std::optional<Outcome>> CantonJsonLedger::completionAfter(const std::string& command_id,
                                                                 int64_t after_offset) {
  auto update = completedUpdateId(command_id, after_offset, /*at=*/0);
  if (!update) return update.error();
  if (!*update) return std::optional<Outcome>{};
  Json filters = Json::object();
  for (const auto& p : coSigners()) filters[p] = Json::object();
  Json fmt{{"filtersByParty", filters}, {"verbose", true}};
  Json req{{"updateId", **update},
           {"updateFormat",
            {{"includeTransactions",
              {{"eventFormat", fmt}, {"transactionShape", "TRANSACTION_SHAPE_ACS_DELTA"}}},
             {"includeReassignments", fmt}}}};
  auto r = call("POST", "/v2/updates/update-by-id", &req, true);
  if (!r) return withoutPayload(r.error());
  const Json& u = (*r)["update"];
  if (u.contains("Transaction")) {
    auto o = outcomeOf(u["Transaction"]["value"], true);
    if (!o) return o.error();
    if (o->fenced) return std::optional<Outcome>{};  // a fence: nothing succeeded under the id
    return std::optional<Outcome>{*o};
  }
  if (u.contains("Reassignment")) {
    const Json& v = u["Reassignment"]["value"];
    Outcome o;
    o.update_id = v.value("updateId", "");
    o.offset = v.value("offset", int64_t{0});
    o.synchronizer = syncAlias(v.value("synchronizerId", ""));
    o.deduplicated = true;
    for (const auto& ev : v.value("events", Json::array())) {
      if (ev.contains("JsAssignmentEvent"))
        o.contract_id = ev["JsAssignmentEvent"]["createdEvent"].value("contractId", "");
      if (ev.contains("JsUnassignedEvent")) return std::optional<Outcome>{};  // only half done
    }
    return std::optional<Outcome>{o};
  }
  return std::optional<Outcome>{};
}

Result<std::vector<AssetTotal>> CantonJsonLedger::totals() {
  auto acs = activeContracts(coSigners(),
                             {Template::kSecuritiesHolding, Template::kLockedSecurities,
                              Template::kCashHolding, Template::kLockedCash},
                             true);  // at the ledger end: compared with movements read up to it
  if (!acs) return acs.error();
  std::map<std::string, AssetTotal> by_asset;
  for (const auto& k : *acs) {
    auto h = daml::decodeHolding(k.tmpl, k.argument);
    if (!h) return h.error();
    AssetTotal& t = by_asset[h->asset];
    t.asset = h->asset;
    auto s = t.total.add(h->amount);
    if (!s) return s.error();
    t.total = *s;
    if (h->isLock()) {
      auto l = t.locked.add(h->amount);
      if (!l) return l.error();
      t.locked = *l;
    }
  }
  std::vector<AssetTotal> out;
  for (auto& [a, t] : by_asset) out.push_back(t);
  return out;
}

std::vector<std::string> CantonJsonLedger::synchronizers() const {
  auto* self = const_cast<CantonJsonLedger*>(this);
  if (self->loadSynchronizers()) {
    std::lock_guard l(mu_);
    std::vector<std::string> out;
    // In the configured order first (the default synchronizer is the first), then the others.
    for (const auto& a : opts_.synchronizers) {
      if (id_by_alias_.count(a)) out.push_back(a);
    }
    for (const auto& [a, id] : id_by_alias_) {
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    }
    return out;
  }
  return opts_.synchronizers;
}

Result<void> CantonJsonLedger::ping() {
  // Alive first, then ready, so /ready can tell a participant that is down from one that is up
  // but not (yet) ready to serve commands.
  auto live = call("GET", "/livez", nullptr, true);
  if (!live) return withoutPayload(live.error());
  auto ready = call("GET", "/readyz", nullptr, true);
  if (!ready) {
    Error e = withoutPayload(ready.error());
    e.message = "the participant is alive but not ready: " + e.message;
    return e;
  }
  // The token is checked too: a wrong or expired one must show in /ready, not at the first trade.
  auto user = call("GET", "/v2/authenticated-user", nullptr, true);
  if (!user) return withoutPayload(user.error());
  const std::string id = (*user)["user"].value("id", "");
  if (id != opts_.user_id) {
    return Error::transient(kUnavailable, "the token authenticates user '" + id +
                                              "', not CANTON_USER_ID '" + opts_.user_id + "'");
  }
  return {};
}

// ---- movements (the reconciler's read) ------------------------------------------------------

Result<MovementPage> CantonJsonLedger::movementsSince(int64_t after_offset, int limit) {
  if (limit <= 0) return Error::permanent(kInvalidCommand, "limit must be positive", "limit");
  MovementPage page;
  page.end_offset = after_offset;
  auto end = ledgerEnd();
  if (!end) return end.error();
  if (*end <= after_offset) {
    page.at_end = true;
    return page;
  }
  Json filters = Json::object();
  for (const auto& p : coSigners()) filters[p] = Json::object();
  // Most updates are locks, reassignments and the like: read up to 8 per movement wanted, in
  // requests of at most updates_page_ updates, so that no answer is larger than the client takes
  // (an answer too large halves the page for good). A reconciler far behind thus catches up page
  // by page instead of asking, pass after pass, for an answer it cannot read.
  const int64_t budget = int64_t{std::min(limit, 100000 / 8)} * 8;
  int64_t read = 0;
  int64_t last = after_offset;
  for (;;) {
    const int page_size = static_cast<int>(std::min<int64_t>(updates_page_.load(), budget - read));
    Json req{{"beginExclusive", last},
             {"endInclusive", *end},
             {"updateFormat",
              {{"includeTransactions",
                {{"eventFormat", {{"filtersByParty", filters}, {"verbose", true}}},
                 {"transactionShape", "TRANSACTION_SHAPE_ACS_DELTA"}}}}}};
    // A list answer ends at endInclusive, at its limit, or when the stream is idle for
    // stream_idle_timeout_ms: a generous idle time (not the 100 ms of the completion polls), so a
    // participant's pause mid-read does not pass for the end of the range.
    auto r = call("POST",
                  "/v2/updates?limit=" + std::to_string(page_size) +
                      "&stream_idle_timeout_ms=" + std::to_string(kUpdatesIdleMs),
                  &req, true);
    if (!r && r.error().code == kResponseTooLarge && page_size > 1) {
      const int smaller = std::max(1, page_size / 2);
      int expected = updates_page_.load();
      while (expected > smaller && !updates_page_.compare_exchange_weak(expected, smaller)) {
      }
      log::get("ledger")->warn(
          "canton: {} updates answer more than the client takes ({}): "
          "reading {} per request from now on",
          page_size, r.error().message, smaller);
      continue;
    }
    if (!r) return withoutPayload(r.error());
    if (!r->is_array())
      return Error::transient(kUnavailable, "updates: the ledger did not answer an array");
    for (const auto& item : *r) {
      auto m = movementOf(item.value("update", Json::object()), last);
      if (!m) return m.error();
      if (*m) page.movements.push_back(std::move(**m));
    }
    read += static_cast<int64_t>(r->size());
    // An answer cut by its limit carries on from its last offset (update or checkpoint).
    if (static_cast<int>(r->size()) < page_size) {
      page.at_end = true;
      break;
    }
    if (static_cast<int>(page.movements.size()) >= limit || read >= budget) break;
  }
  page.end_offset = page.at_end ? *end : last;
  if (static_cast<int>(page.movements.size()) > limit) {
    page.end_offset = page.movements[limit - 1].offset;
    page.movements.resize(limit);
    page.at_end = false;
  }
  return page;
}

Result<std::optional<MovementView>> CantonJsonLedger::movementOf(const Json& u, int64_t& last) {
  if (u.contains("OffsetCheckpoint")) {
    last = std::max(last, u["OffsetCheckpoint"]["value"].value("offset", last));
    return std::optional<MovementView>{};
  }
  if (u.contains("Reassignment"))
    last = std::max(last, u["Reassignment"]["value"].value("offset", last));
  if (!u.contains("Transaction")) return std::optional<MovementView>{};
  const Json& tx = u["Transaction"]["value"];
  const int64_t offset = tx.value("offset", int64_t{0});
  last = std::max(last, offset);
  std::string archived_dvp, remainder;
  std::vector<std::pair<std::string, daml::HoldingArgs>> holdings;
  bool archives = false;
  for (const auto& ev : tx.value("events", Json::array())) {
    if (ev.contains("ArchivedEvent")) {
      archives = true;
      if (auto id = archivedDvp(ev["ArchivedEvent"]); !id.empty()) archived_dvp = id;
    } else if (ev.contains("CreatedEvent")) {
      const Json& c = ev["CreatedEvent"];
      auto t = daml::parseTemplateId(c.value("templateId", ""));
      if (!t) continue;  // another package's contract
      if (*t == Template::kDeliveryVsPayment) {
        remainder = c.value("contractId", "");
        // Its arguments cannot change: remembered, so that the settle archiving it later in the
        // stream is read without asking the ledger for the DvP (events-by-contract-id).
        auto a = daml::decodeDvp(c.value("createArgument", Json::object()));
        if (!a) return a.error();
        rememberDvp(remainder, Dvp{*a, true, syncAlias(tx.value("synchronizerId", ""))});
      } else if (*t == Template::kSecuritiesHolding || *t == Template::kCashHolding ||
                 *t == Template::kLockedSecurities || *t == Template::kLockedCash) {
        auto h = daml::decodeHolding(*t, c.value("createArgument", Json::object()));
        if (!h) return h.error();
        holdings.emplace_back(c.value("contractId", ""), std::move(*h));
      }
    }
  }
  MovementView m;
  m.update_id = tx.value("updateId", "");
  m.offset = offset;
  m.command_id = tx.value("commandId", "");
  if (auto t = parseTimestamp(tx.value("recordTime", ""))) m.recorded_at = *t;
  if (!archived_dvp.empty()) {
    auto d = dvpArgs(archived_dvp);
    if (!d) return d.error();
    if (!*d) {
      // Whether it settled (and between whom) is in the DvP's arguments: never skip it
      // unread. Retried; an operator sees which update and DvP cannot be read.
      return Error::transient(kUnavailable, "update " + m.update_id + " archives DvP " +
                                                archived_dvp + ", which cannot be read");
    }
    bool settled = false;
    for (const auto& [cid, h] : holdings) {
      if (h.kind == Template::kSecuritiesHolding && h.owner == (*d)->args.buyer) {
        auto q = h.amount.toDecimal();
        if (!q) return q.error();
        m.quantity = *q;
        settled = true;
      } else if (h.kind == Template::kCashHolding && h.owner == (*d)->args.seller) {
        auto a = h.amount.toDecimal();
        if (!a) return a.error();
        m.amount = *a;
      }
    }
    if (!settled) return std::optional<MovementView>{};  // a release or a cancel: nothing moved
    m.kind = MovementView::Kind::kSettle;
    m.dvp_contract_id = archived_dvp;
    m.remainder_dvp_contract_id = remainder;
    m.buyer = (*d)->args.buyer;
    m.seller = (*d)->args.seller;
    m.security = (*d)->args.symbol;
    m.cash_asset = (*d)->args.currency;
  } else if (!archives && holdings.size() == 1 && !holdings.front().second.isLock()) {
    m.kind = MovementView::Kind::kCredit;
    m.owner = holdings.front().second.owner;
    m.asset = holdings.front().second.asset;
    m.credited = holdings.front().second.amount;
  } else {
    return std::optional<MovementView>{};
  }
  return std::optional<MovementView>{std::move(m)};
}

}  // namespace sc::ledger::canton

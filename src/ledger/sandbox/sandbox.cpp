// Sandbox: opening, authentication, routing and the administrative endpoints (parties, users,
// state). Commands, completions, contracts and updates are in sandbox_commands.cpp. Over 500
// lines because it holds the routing table and one short handler per administrative path of
// the JSON Ledger API; splitting the handlers from their routes would scatter each path.
#include "ledger/sandbox/sandbox.h"

#include <openssl/sha.h>

#include <algorithm>
#include <filesystem>

#include "common/log.h"
#include "ledger/engine/journal.h"
#include "ledger/sandbox/jwt.h"
#include "ledger/sandbox/sandbox_internal.h"

namespace sc::ledger::sandbox {
namespace {

// Every path of the published OpenAPI; those the sandbox does not serve answer 501.
constexpr const char* kOpenApiPaths[] = {"/v2/commands/submit-and-wait",
                                         "/v2/commands/submit-and-wait-for-transaction",
                                         "/v2/commands/submit-and-wait-for-reassignment",
                                         "/v2/commands/submit-and-wait-for-transaction-tree",
                                         "/v2/commands/async/submit",
                                         "/v2/commands/async/submit-reassignment",
                                         "/v2/commands/completions",
                                         "/v2/commands/command-completions",
                                         "/v2/commands/completion-by-hash",
                                         "/v2/events/events-by-contract-id",
                                         "/v2/version",
                                         "/v2/dars/validate",
                                         "/v2/dars",
                                         "/v2/packages",
                                         "/v2/packages/{}",
                                         "/v2/packages/{}/status",
                                         "/v2/package-vetting/list",
                                         "/v2/package-vetting/update",
                                         "/v2/parties",
                                         "/v2/parties/external/allocate",
                                         "/v2/parties/participant-id",
                                         "/v2/parties/{}",
                                         "/v2/parties/external/generate-topology",
                                         "/v2/state/active-contracts",
                                         "/v2/state/active-contracts-page",
                                         "/v2/state/connected-synchronizers",
                                         "/v2/state/ledger-end",
                                         "/v2/state/latest-pruned-offsets",
                                         "/v2/updates",
                                         "/v2/updates/update-by-offset",
                                         "/v2/updates/update-by-id",
                                         "/v2/updates/update-by-hash",
                                         "/v2/updates/get-updates-page",
                                         "/v2/users",
                                         "/v2/users/{}",
                                         "/v2/authenticated-user",
                                         "/v2/users/{}/rights",
                                         "/v2/users/{}/identity-provider-id",
                                         "/v2/idps",
                                         "/v2/idps/{}",
                                         "/v2/interactive-submission/prepare",
                                         "/v2/interactive-submission/execute",
                                         "/v2/interactive-submission/executeAndWait",
                                         "/v2/interactive-submission/executeAndWaitForTransaction",
                                         "/v2/interactive-submission/preferred-packages",
                                         "/livez",
                                         "/readyz",
                                         "/v2/contracts/contract-by-id",
                                         "/v2/jose/jwks/synchronizer/{}/party/{}"};

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool isOpenApiPath(const std::string& path) {
  auto segs = split(path);
  for (const char* p : kOpenApiPaths) {
    auto pat = split(p);
    if (pat.size() != segs.size()) continue;
    bool match = true;
    for (size_t i = 0; i < pat.size() && match; ++i) {
      match = pat[i] == "{}" ? !segs[i].empty() : pat[i] == segs[i];
    }
    if (match) return true;
  }
  return false;
}

std::string urlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// "a=1&b=2" (a query string or a form body), percent-decoded.
std::map<std::string, std::string> parseForm(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t amp = text.find('&', i);
    if (amp == std::string::npos) amp = text.size();
    std::string kv = text.substr(i, amp - i);
    size_t eq = kv.find('=');
    out[urlDecode(kv.substr(0, eq))] = eq == std::string::npos ? "" : urlDecode(kv.substr(eq + 1));
    i = amp + 1;
  }
  return out;
}

std::string fingerprint(const std::string& seed) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), d);
  static const char* kHex = "0123456789abcdef";
  std::string out = "1220";
  for (int i = 0; i < 32; ++i) {
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 0xf]);
  }
  return out;
}

Json objectMeta() { return Json{{"resourceVersion", ""}, {"annotations", Json::object()}}; }

Json partyJson(const std::string& party) {
  return Json{{"party", party},
              {"isLocal", true},
              {"localMetadata", objectMeta()},
              {"identityProviderId", ""}};
}

Json userJson(const User& u) {
  Json j{{"id", u.id},
         {"isDeactivated", u.deactivated},
         {"metadata", objectMeta()},
         {"identityProviderId", ""}};
  if (!u.primary_party.empty()) j["primaryParty"] = u.primary_party;
  return j;
}

Json rightsJson(const User& u) {
  Json rights = Json::array();
  if (u.participant_admin)
    rights.push_back({{"kind", {{"ParticipantAdmin", {{"value", Json::object()}}}}}});
  if (u.read_as_any_party)
    rights.push_back({{"kind", {{"CanReadAsAnyParty", {{"value", Json::object()}}}}}});
  for (const auto& p : u.act_as)
    rights.push_back({{"kind", {{"CanActAs", {{"value", {{"party", p}}}}}}}});
  for (const auto& p : u.read_as)
    rights.push_back({{"kind", {{"CanReadAs", {{"value", {{"party", p}}}}}}}});
  return rights;
}

// Applies a list of Right objects; returns those that were new, or an error for an unknown kind.
Result<Json> applyRights(User& u, const Json& rights) {
  Json granted = Json::array();
  if (!rights.is_array()) return Error::permanent("invalid", "rights must be an array");
  for (const auto& r : rights) {
    const Json* kind = r.contains("kind") ? &r["kind"] : nullptr;
    if (!kind || !kind->is_object() || kind->size() != 1) {
      return Error::permanent("invalid", "a right must be {\"kind\": {<Kind>: {\"value\": …}}}");
    }
    const std::string name = kind->begin().key();
    const Json& value = kind->begin().value().value("value", Json::object());
    bool added = false;
    if (name == "ParticipantAdmin") {
      added = !u.participant_admin;
      u.participant_admin = true;
    } else if (name == "CanReadAsAnyParty") {
      added = !u.read_as_any_party;
      u.read_as_any_party = true;
    } else if (name == "CanActAs" || name == "CanReadAs") {
      if (!value.contains("party") || !value["party"].is_string()) {
        return Error::permanent("invalid", name + " needs a party");
      }
      auto& set = name == "CanActAs" ? u.act_as : u.read_as;
      added = set.insert(value["party"].get<std::string>()).second;
    } else {
      return Error::permanent("unsupported",
                              "right kind " + name + " is not supported by the sandbox");
    }
    if (added) granted.push_back(r);
  }
  return granted;
}

}  // namespace

daml::CantonError cantonErrorOf(const Error& e) {
  using daml::Category;
  const std::string& c = e.code;
  if (c == kUnavailable) {
    return daml::makeError(daml::kNotConnectedToSynchronizer, Category::kTransientServerFailure,
                           e.message);
  }
  if (c == kTimeout) {
    return daml::makeError(daml::kRequestTimeout, Category::kDeadlineExceededRequestStateUnknown,
                           e.message);
  }
  if (c == kContractInFlight) {
    return daml::makeError(daml::kLockedContracts, Category::kContentionOnSharedResources,
                           e.message);
  }
  if (c == kUnknownParty) {
    return daml::makeError(daml::kPartyNotKnownOnLedger,
                           Category::kInvalidGivenCurrentSystemStateResourceMissing, e.message);
  }
  if (c == kCommandFenced) {
    // The command id was taken by a RoundFence: on a participant, a duplicate of that command.
    return daml::makeError(daml::kDuplicateCommand,
                           Category::kInvalidGivenCurrentSystemStateResourceExists,
                           "A command with the given command id has already been successfully "
                           "processed (" +
                               e.message + ")");
  }
  if (c == kLedgerPruned) {
    // A submission the engine cannot deduplicate any more: its period (none: the participant's
    // maximum deduplication duration, which a participant never prunes within) starts below the
    // pruned offset. Refused as Canton refuses such a period, never run a second time.
    return daml::makeError(
        daml::kInvalidDeduplicationPeriod, Category::kInvalidGivenCurrentSystemStateOther,
        "The submitted command had an invalid deduplication period: " + e.message);
  }
  if (c == kContractNotActive) {
    return daml::makeError(daml::kContractNotFound,
                           Category::kInvalidGivenCurrentSystemStateResourceMissing,
                           "Contract could not be found: " + e.message);
  }
  // Daml interpretation failures: an assertion of the model failed (insufficient holdings, a lock
  // exceeding the DvP, …). The engine's reason code stays in the context.
  auto err = daml::makeError(daml::kDamlInterpretationError,
                             Category::kInvalidGivenCurrentSystemStateOther,
                             "Interpretation error: Error: User abort: " + e.message);
  err.context["reason"] = c;
  if (!e.field.empty()) err.context["field"] = e.field;
  return err;
}

namespace {
// A command's request writes the engine's journal and then the sandbox's record of the update and
// its completion, both under the sandbox's lock, and is answered only once both are durable. A
// kill between the two writes leaves the engine with a transaction that nobody was told of and
// that the sandbox never rendered: the command id would be deduplicated for ever while its
// completion never appears in the stream, so no client could learn what it did. As a Canton
// participant commits both in one database transaction, the sandbox makes the pair atomic on
// open: the journal's tail of records the store does not know (a transaction past the store's
// last offset, or a completion or fence of a command id the store has no completion for) is cut
// before the engine replays it, but only the last request's, and only once that request's
// records are complete (its completion, its fence, or a credit's single record): records of a
// request answered with an error after it committed some (a reassignment whose target was down)
// were made durable and could be read, so they stay. An answered command in the tail that the
// store does not know (a sandbox.jsonl lost or from another ledger) is refused, never cut.
// Returns the records cut.
Result<int> dropUnrenderedTail(const std::string& engine_dir, const std::string& store_dir,
                               const SandboxStore& store) {
  const std::string path = (std::filesystem::path(engine_dir) / journal::kJournalFile).string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  struct Unrendered {
    uint64_t at;
    std::string command_id;
    bool ends_request;  // a completion, a fence, or a credit (one record, no command id)
  };
  std::vector<Unrendered> run;  // the trailing run of unrendered records
  auto report = journal::scanFile(path, [&](journal::Record&& r, uint64_t at) -> Result<void> {
    const bool fence = std::any_of(r.ops.begin(), r.ops.end(), [](const journal::Op& op) {
      return std::holds_alternative<journal::FenceOp>(op);
    });
    // (Records of commands the store pruned never reach the trailing run: the engine's prune
    // record, and a compaction's snapshot, carry no command id and end any run before them.)
    const bool unrendered =
        r.offset > store.lastOffset() ||
        ((r.completion || fence) && !r.command_id.empty() && !store.completionOf(r.command_id));
    if (unrendered) {
      run.push_back({at, r.command_id, r.completion || fence || r.command_id.empty()});
    } else {
      run.clear();
    }
    return {};
  });
  if (!report) return report.error();
  // A corrupt journal is the engine's to refuse, untouched, for an operator (journal.h).
  if (report->tail == journal::ScanReport::Tail::kCorrupt || run.empty() ||
      !run.back().ends_request) {
    return 0;
  }
  size_t first = run.size() - 1;
  while (first > 0 && !run[first - 1].ends_request &&
         run[first - 1].command_id == run.back().command_id) {
    --first;
  }
  const auto answered = std::count_if(run.begin(), run.begin() + static_cast<ptrdiff_t>(first),
                                      [](const Unrendered& u) { return u.ends_request; });
  if (answered > 0) {
    return Error::permanent(
        kInvalidCommand,
        "the engine journal " + path + " holds " + std::to_string(answered + 1) +
            " completed commands that " + store_dir +
            "/sandbox.jsonl does not know (its last offset is " +
            std::to_string(store.lastOffset()) +
            "); a process killed mid-request leaves one at most. Is sandbox.jsonl missing, or "
            "from another ledger? Nothing was changed");
  }
  auto cut = journal::truncateAt(path, run[first].at);
  if (!cut) return cut.error();
  return static_cast<int>(run.size() - first);
}
}  // namespace

Result<std::unique_ptr<Sandbox>> Sandbox::open(Options options) {
  std::unique_ptr<Sandbox> s(new Sandbox());
  s->opts_ = options;
  if (!s->opts_.verifier && !s->opts_.hs256_secret.empty())
    s->opts_.verifier = std::make_shared<Hs256Verifier>(s->opts_.hs256_secret);
  EmbeddedLedger::Options eo;
  if (!options.data_dir.empty())
    eo.data_dir = (std::filesystem::path(options.data_dir) / "engine").string();
  eo.synchronizers = options.synchronizers;
  eo.securities_issuer_party = options.securities_issuer_party;
  eo.cash_provider_party = options.cash_provider_party;
  // The engine writes its journal; the sandbox makes it durable after each request with its lock
  // released (EmbeddedLedger::syncUpTo, then SandboxStore::sync for its own records), so
  // concurrent requests share the fdatasync instead of taking turns under the lock.
  eo.durable = options.durable && !options.data_dir.empty();
  eo.defer_sync = true;
  eo.clock = options.clock;
  // Never compacted by itself (compact_journal_bytes 0): an engine compaction at the end of a
  // submission would fold the command's effect into its snapshot before the sandbox recorded the
  // command, and dropUnrenderedTail could no longer cut it after a crash. POST /sandbox/prune
  // compacts it once the sandbox's records are synced.
  if (auto r = s->store_.open(options.data_dir); !r) return r.error();
  if (!eo.data_dir.empty()) {
    auto cut = dropUnrenderedTail(eo.data_dir, options.data_dir, s->store_);
    if (!cut) return cut.error();
    if (*cut > 0) {
      log::get("sandbox")->warn(
          "sandbox: dropped the last {} journal record(s) of the engine: the process stopped "
          "after the engine wrote them and before the sandbox recorded their update (offsets "
          "after {}); their command was never answered and may be submitted again",
          *cut, s->store_.lastOffset());
    }
  }
  auto engine = EmbeddedLedger::open(eo);
  if (!engine) return engine.error();
  s->engine_ = std::move(*engine);
  for (const auto& d : s->engine_->activeDvps()) s->noteDvp(d);
  for (const auto& h : s->engine_->allHoldings()) s->noteLock(h);
  // The application user: administers the participant and acts as the DvP co-signers.
  User app;
  if (auto it = s->store_.users().find(options.app_user); it != s->store_.users().end())
    app = it->second;
  app.id = options.app_user;
  app.participant_admin = true;
  app.act_as.insert(s->engine_->securitiesIssuer());
  app.act_as.insert(s->engine_->cashProvider());
  if (auto r = s->store_.putUser(app); !r) return r.error();
  if (!s->store_.users().count("participant_admin")) {
    User admin;
    admin.id = "participant_admin";
    admin.participant_admin = true;
    if (auto r = s->store_.putUser(admin); !r) return r.error();
  }
  if (auto r = s->engine_->syncUpTo(s->engine_->journalPosition()); !r) return r.error();
  if (auto r = s->store_.sync(s->store_.version()); !r) return r.error();
  return s;
}

std::string Sandbox::participantId() const {
  return opts_.participant_id + "::" + fingerprint(opts_.participant_id);
}
std::string Sandbox::audience() const {
  return "https://daml.com/jwt/aud/participant/" + participantId();
}
std::string Sandbox::makeToken(const std::string& user, int64_t ttl_seconds) const {
  TokenClaims c;
  c.user_id = user;
  c.audience = audience();
  c.expires_at = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count() +
                 ttl_seconds;
  return signHs256(opts_.hs256_secret, c);
}

std::string Sandbox::synchronizerId(const std::string& alias) const {
  return alias + "::" + fingerprint("synchronizer:" + alias);
}
std::string Sandbox::synchronizerAlias(const std::string& id) const {
  for (const auto& a : opts_.synchronizers) {
    if (id == a || id == synchronizerId(a)) return a;
  }
  return {};
}

Result<Sandbox::Caller> Sandbox::authenticate(const HttpRequest& r) {
  const std::string prefix = "Bearer ";
  if (r.authorization.compare(0, prefix.size(), prefix) != 0) {
    return Error::permanent("unauthenticated", "missing 'Authorization: Bearer <token>'");
  }
  if (!opts_.verifier) {
    return Error::permanent("unauthenticated", "the sandbox was started without a token secret");
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // A token verified in the last second is not verified again (a client sends the same one with
  // every request; a revoked key or an expired token is refused within a second).
  const std::string token = r.authorization.substr(prefix.size());
  auto cached = verified_.find(token);
  if (cached == verified_.end() || cached->second.first != now) {
    auto claims = opts_.verifier->verify(token, audience(), now);
    if (!claims) return claims.error();
    if (verified_.size() >= 1024) verified_.clear();
    cached = verified_.insert_or_assign(token, std::pair{now, claims->user_id}).first;
  }
  const std::string& user_id = cached->second.second;
  auto it = store_.users().find(user_id);
  if (it == store_.users().end() || it->second.deactivated) {
    return Error::permanent("permission_denied",
                            "user '" + user_id + "' does not exist or is deactivated");
  }
  return Caller{it->second};
}

void Sandbox::failNextRequests(int n, int status, std::string path, int skip, bool gateway) {
  std::lock_guard l(faults_mu_);
  fail_path_ = std::move(path);
  fail_skip_ = std::max(0, skip);
  fail_gateway_ = gateway;
  fail_status_.store(status);
  fail_next_.store(n);
}

void Sandbox::mistypeNextResponses(std::string path, int n) {
  std::lock_guard l(faults_mu_);
  mistype_path_ = std::move(path);
  mistype_next_.store(n);
}

namespace {
// Every string of `j` as a number (its length): an answer outside the API's types.
void mistype(Json& j) {
  if (j.is_string()) {
    j = j.get_ref<const std::string&>().size();
  } else if (j.is_structured()) {
    for (auto& v : j) mistype(v);
  }
}
// Whether an armed fault (count `n`, path prefix `path`) takes this request; counts it down. A
// matching request is let through while `skip` (if given, under the faults' lock) is positive.
bool takeFault(std::atomic<int>& n, const std::string& path, const std::string& target,
               int* skip = nullptr) {
  int left = n.load();
  if (left <= 0 || target.compare(0, path.size(), path) != 0) return false;
  if (skip && *skip > 0) {
    --*skip;
    return false;
  }
  return n.compare_exchange_strong(left, left - 1);
}
}  // namespace

std::optional<HttpReply> Sandbox::halted() {
  std::optional<std::string> why = store_.failure();
  if (!why) {
    if (auto p = engine_->ping(); !p) why = p.error().message;
  }
  if (!why) return std::nullopt;
  // A participant whose ledger API service stopped: retryable (UNAVAILABLE, 503).
  auto e = daml::makeError(daml::kServiceNotRunning, daml::Category::kTransientServerFailure,
                           "the ledger API service is not running: " + *why +
                               "; restart the sandbox to replay what is durable");
  e.context["service_name"] = "sc-ledger-sandbox";
  return errorReply(e);
}

HttpReply Sandbox::handle(const HttpRequest& request) {
  if (fail_next_.load() > 0) {
    std::unique_lock l(faults_mu_);
    if (takeFault(fail_next_, fail_path_, request.target, &fail_skip_)) {
      if (fail_gateway_) {
        return HttpReply{fail_status_.load(),
                         "injected gateway failure (POST /sandbox/faults, fail_gateway)", false};
      }
      l.unlock();
      auto e = daml::makeError("SANDBOX_INJECTED_FAILURE", daml::Category::kTransientServerFailure,
                               "injected failure (POST /sandbox/faults)");
      return HttpReply{fail_status_.load(), daml::render(e).dump(), false};
    }
  }
  std::string path = request.target;
  std::map<std::string, std::string> query;
  if (auto q = path.find('?'); q != std::string::npos) {
    query = parseForm(path.substr(q + 1));
    path.resize(q);
  }
  HttpReply reply;
  uint64_t version = 0, journal = 0;
  bool answered_from_state = false;  // what it saw or wrote must be durable before the answer
  {
    std::lock_guard lock(mu_);
    // Once a sync failed, nothing is served (as the engine halts itself): a command executed now
    // could take effect in memory, or reach the disk without its record, and never be answered.
    // (The health endpoints read no ledger state: they answer, and need no sync, either way.)
    const bool health = path == "/livez" || path == "/readyz";
    auto stopped = health ? std::nullopt : halted();
    reply = stopped ? *stopped : route(request, path, query);
    // What this request saw or wrote: the engine's journal and the sandbox's records so far.
    version = store_.version();
    journal = engine_->journalPosition();
    answered_from_state = !stopped && !health;
  }
  // What this request wrote or read is answered only once it is on disk: the engine's journal
  // first (an effect before its record), then the sandbox's records. The lock is free meanwhile,
  // so the requests that queued behind this one share these fdatasyncs (group commit).
  // A failed sync leaves what the request did unknown: a restart may replay it (the bytes were
  // written) or not, so a command's answer is request-state-unknown, never a refusal.
  if (answered_from_state) {
    auto synced = engine_->syncUpTo(journal);
    if (synced) synced = store_.sync(version);
    if (!synced) {
      reply = errorReply(cantonErrorOf(outcomeUnknown(path, synced.error())));
    }
  }
  if (reply.status >= 400) {
    // Correlation id, as a participant adds to every error.
    Json body = Json::parse(reply.body, nullptr, false);
    if (body.is_object() && body.contains("code")) {
      body["correlationId"] = "sandbox-" + std::to_string(++correlation_);
      reply.body = body.dump();
    }
  } else if (mistype_next_.load() > 0) {
    std::unique_lock l(faults_mu_);
    if (takeFault(mistype_next_, mistype_path_, request.target)) {
      l.unlock();
      Json body = Json::parse(reply.body, nullptr, false);
      if (!body.is_discarded()) {
        mistype(body);
        reply.body = body.dump();
      }
    }
  }
  return reply;
}

HttpReply Sandbox::route(const HttpRequest& r, const std::string& path,
                         const std::map<std::string, std::string>& query) {
  const std::string& m = r.method;
  if (path == "/livez" && m == "GET") return HttpReply{200, "{}", false};
  if (path == "/readyz" && m == "GET") {
    if (auto p = engine_->ping(); !p) return errorReply(cantonErrorOf(p.error()));
    if (auto f = store_.failure()) {
      return errorReply(cantonErrorOf(Error::transient(kUnavailable, "ledger halted: " + *f)));
    }
    return HttpReply{200, "{}", false};
  }
  if (path == "/v2/version" && m == "GET") return version();
  if (path == "/sandbox/oauth/token" && m == "POST" && !opts_.oauth_client_id.empty())
    return oauthToken(r.body);

  const bool known = isOpenApiPath(path) || path == "/sandbox/faults" || path == "/sandbox/prune";
  if (!known) {
    return errorReply(daml::kNotFound,
                      daml::Category::kInvalidGivenCurrentSystemStateResourceMissing,
                      "no such endpoint: " + m + " " + path);
  }
  auto caller = authenticate(r);
  if (!caller) {
    if (caller.error().code == "permission_denied") return permissionDenied(caller.error().message);
    return errorReply(daml::kUnauthenticated,
                      daml::Category::kAuthInterceptorInvalidAuthenticationCredentials,
                      caller.error().message);
  }
  const Caller& c = *caller;
  Json body;
  if (m == "POST" || m == "PATCH") {
    body = Json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return invalidArgument("the request body is not a JSON object");
    }
  }
  auto segs = split(path);
  if (m == "GET") {
    if (path == "/v2/state/ledger-end") return ledgerEnd();
    if (path == "/v2/state/latest-pruned-offsets") return latestPrunedOffsets();
    if (path == "/v2/state/connected-synchronizers") return connectedSynchronizers();
    if (path == "/v2/parties") return listParties(c);
    if (segs.size() == 3 && segs[1] == "parties" && segs[2] != "participant-id")
      return getParty(c, urlDecode(segs[2]));
    if (path == "/v2/parties/participant-id")
      return jsonReply(200, Json{{"participantId", participantId()}});
    if (path == "/v2/users") return listUsers(c);
    if (path == "/v2/authenticated-user") return jsonReply(200, Json{{"user", userJson(c.user)}});
    if (segs.size() == 3 && segs[1] == "users") return getUser(c, urlDecode(segs[2]));
    if (segs.size() == 4 && segs[1] == "users" && segs[3] == "rights")
      return listRights(c, urlDecode(segs[2]));
  } else if (m == "POST") {
    if (path == "/v2/parties") return allocateParty(c, body);
    if (path == "/v2/users") return createUser(c, body);
    if (segs.size() == 4 && segs[1] == "users" && segs[3] == "rights")
      return grantRights(c, urlDecode(segs[2]), body);
    if (path == "/v2/commands/submit-and-wait") return submit(c, body, 0);
    if (path == "/v2/commands/submit-and-wait-for-transaction") {
      if (!body.contains("commands")) return invalidArgument("missing field 'commands'");
      return submit(c, body["commands"], 1);
    }
    if (path == "/v2/commands/submit-and-wait-for-reassignment") return submitReassignment(c, body);
    if (path == "/v2/commands/completions") return completions(c, body, query);
    if (path == "/v2/state/active-contracts") return activeContracts(c, body);
    if (path == "/v2/updates/update-by-id") return updateById(c, body);
    if (path == "/v2/updates") return updates(c, body, query);
    if (path == "/v2/events/events-by-contract-id") return eventsByContractId(c, body);
    if (path == "/sandbox/faults") return faults(c, body);
    if (path == "/sandbox/prune") return prune(c, body);
  }
  return errorReply(
      daml::kUnsupportedOperation, daml::Category::kInternalUnsupportedOperation,
      m + " " + path + " is part of the JSON Ledger API but not implemented by the sandbox");
}

HttpReply Sandbox::version() {
  Json features{
      {"experimental", Json::object()},
      {"userManagement",
       {{"supported", true}, {"maxRightsPerUser", 1000}, {"maxUsersPageSize", 1000}}},
      {"partyManagement", {{"maxPartiesPageSize", 10000}}},
      {"offsetCheckpoint", {{"maxOffsetCheckpointEmissionDelay", {{"seconds", 1}, {"nanos", 0}}}}},
      {"packageFeature", {{"maxVettedPackagesPageSize", 100}}}};
  return jsonReply(200, Json{{"version", "3.4.0"}, {"features", features}});
}

HttpReply Sandbox::ledgerEnd() { return jsonReply(200, Json{{"offset", engine_->ledgerEnd()}}); }

// What POST /sandbox/prune pruned (0 before the first pruning, as a participant reports it). The
// sandbox has no divulged contracts apart from its own: they are pruned with the rest.
HttpReply Sandbox::latestPrunedOffsets() {
  return jsonReply(200, Json{{"participantPrunedUpToInclusive", store_.prunedUpTo()},
                             {"allDivulgedContractsPrunedUpToInclusive", store_.prunedUpTo()}});
}

HttpReply Sandbox::connectedSynchronizers() {
  Json list = Json::array();
  for (const auto& a : opts_.synchronizers) {
    list.push_back({{"synchronizerAlias", a},
                    {"synchronizerId", synchronizerId(a)},
                    {"permission", "PARTICIPANT_PERMISSION_SUBMISSION"}});
  }
  return jsonReply(200, Json{{"connectedSynchronizers", list}});
}

HttpReply Sandbox::listParties(const Caller& c) {
  if (!c.user.participant_admin) return permissionDenied("listing parties needs ParticipantAdmin");
  Json list = Json::array();
  for (const auto& p : engine_->allParties()) list.push_back(partyJson(p));
  return jsonReply(200, Json{{"partyDetails", list}, {"nextPageToken", ""}});
}

HttpReply Sandbox::getParty(const Caller& c, const std::string& party) {
  if (!c.user.participant_admin && !c.canRead(party)) {
    return permissionDenied("reading party " + party + " needs ParticipantAdmin or a right on it");
  }
  Json list = Json::array();
  if (auto e = engine_->partyExists(party); e && *e) list.push_back(partyJson(party));
  return jsonReply(200, Json{{"partyDetails", list}});
}

HttpReply Sandbox::allocateParty(const Caller& c, const Json& body) {
  if (!c.user.participant_admin)
    return permissionDenied("allocating parties needs ParticipantAdmin");
  std::string hint = body.value("partyIdHint", "");
  if (hint.empty()) hint = "party-" + std::to_string(engine_->allParties().size() + 1);
  if (hint.find("::") != std::string::npos) {
    return invalidArgument("partyIdHint '" + hint + "' must not contain '::'");
  }
  auto party = engine_->allocateParty(hint);
  if (!party) {
    if (party.error().code == kInvalidCommand) return invalidArgument(party.error().message);
    return errorReply(cantonErrorOf(party.error()));
  }
  if (std::string user = body.value("userId", ""); !user.empty()) {
    auto it = store_.users().find(user);
    if (it == store_.users().end()) {
      return userNotFound(user);
    }
    User u = it->second;
    u.act_as.insert(*party);
    if (auto r = store_.putUser(u); !r) return errorReply(cantonErrorOf(r.error()));
  }
  return jsonReply(200, Json{{"partyDetails", partyJson(*party)}});
}

HttpReply Sandbox::listUsers(const Caller& c) {
  if (!c.user.participant_admin) return permissionDenied("listing users needs ParticipantAdmin");
  Json list = Json::array();
  for (const auto& [id, u] : store_.users()) list.push_back(userJson(u));
  return jsonReply(200, Json{{"users", list}, {"nextPageToken", ""}});
}

HttpReply Sandbox::createUser(const Caller& c, const Json& body) {
  if (!c.user.participant_admin) return permissionDenied("creating users needs ParticipantAdmin");
  if (!body.contains("user") || !body["user"].is_object() || !body["user"].contains("id") ||
      !body["user"]["id"].is_string() || body["user"]["id"].get<std::string>().empty()) {
    return invalidArgument("missing field 'user.id'");
  }
  User u;
  u.id = body["user"]["id"].get<std::string>();
  if (store_.users().count(u.id)) {
    return errorReply(daml::kUserAlreadyExists,
                      daml::Category::kInvalidGivenCurrentSystemStateResourceExists,
                      "user '" + u.id + "' already exists");
  }
  u.primary_party = body["user"].value("primaryParty", "");
  u.deactivated = body["user"].value("isDeactivated", false);
  if (body.contains("rights")) {
    auto g = applyRights(u, body["rights"]);
    if (!g) return invalidArgument(g.error().message);
  }
  if (auto r = store_.putUser(u); !r) return errorReply(cantonErrorOf(r.error()));
  return jsonReply(200, Json{{"user", userJson(u)}});
}

HttpReply Sandbox::getUser(const Caller& c, const std::string& id) {
  if (!c.user.participant_admin && c.user.id != id)
    return permissionDenied("reading another user needs ParticipantAdmin");
  auto it = store_.users().find(id);
  if (it == store_.users().end()) {
    return userNotFound(id);
  }
  return jsonReply(200, Json{{"user", userJson(it->second)}});
}

HttpReply Sandbox::listRights(const Caller& c, const std::string& id) {
  if (!c.user.participant_admin && c.user.id != id)
    return permissionDenied("reading another user needs ParticipantAdmin");
  auto it = store_.users().find(id);
  if (it == store_.users().end()) {
    return userNotFound(id);
  }
  return jsonReply(200, Json{{"rights", rightsJson(it->second)}});
}

HttpReply Sandbox::grantRights(const Caller& c, const std::string& id, const Json& body) {
  if (!c.user.participant_admin) return permissionDenied("granting rights needs ParticipantAdmin");
  auto it = store_.users().find(id);
  if (it == store_.users().end()) {
    return userNotFound(id);
  }
  User u = it->second;
  auto granted = applyRights(u, body.value("rights", Json::array()));
  if (!granted) return invalidArgument(granted.error().message);
  if (auto r = store_.putUser(u); !r) return errorReply(cantonErrorOf(r.error()));
  return jsonReply(200, Json{{"newlyGrantedRights", *granted}});
}

HttpReply Sandbox::oauthToken(const std::string& form) {
  std::map<std::string, std::string> f = parseForm(form);
  if (f["grant_type"] != "client_credentials") {
    return HttpReply{400, Json{{"error", "unsupported_grant_type"}}.dump(), false};
  }
  if (f["client_id"] != opts_.oauth_client_id || f["client_secret"] != opts_.oauth_client_secret) {
    return HttpReply{401, Json{{"error", "invalid_client"}}.dump(), false};
  }
  ++oauth_issued_;
  return jsonReply(200,
                   Json{{"access_token", makeToken(opts_.app_user, opts_.oauth_token_ttl_seconds)},
                        {"token_type", "Bearer"},
                        {"expires_in", opts_.oauth_token_ttl_seconds}});
}

HttpReply Sandbox::faults(const Caller& c, const Json& body) try {
  if (!c.user.participant_admin) return permissionDenied("fault injection needs ParticipantAdmin");
  if (body.contains("drop_committed_responses"))
    dropNextCommittedResponses(body.value("drop_committed_responses", 0));
  if (body.contains("fail_next_requests"))
    failNextRequests(body.value("fail_next_requests", 0), body.value("fail_status", 503),
                     body.value("fail_path", ""), body.value("fail_skip", 0),
                     body.value("fail_gateway", false));
  if (body.contains("mistyped_responses")) {
    const Json& m = body["mistyped_responses"];
    if (!m.is_object())
      return invalidArgument("'mistyped_responses' must be {\"path\", \"count\"}");
    mistypeNextResponses(m.value("path", ""), m.value("count", 0));
  }
  if (body.contains("inactive_contract_verdicts"))
    inactiveContractVerdicts(body.value("inactive_contract_verdicts", 0));
  if (body.contains("fail_store_syncs")) failNextStoreSyncs(body.value("fail_store_syncs", 0));
  if (body.contains("outage")) {
    const Json& o = body["outage"];
    std::string alias = synchronizerAlias(o.value("synchronizer", ""));
    if (alias.empty()) return invalidArgument("unknown synchronizer in 'outage'");
    engine_->setOutage(alias, o.value("down", true));
  }
  if (body.contains("latency_ms")) {
    for (const auto& a : opts_.synchronizers) {
      engine_->setLatency(a, std::chrono::milliseconds(body.value("latency_ms", 0)));
    }
  }
  return jsonReply(200, Json::object());
} catch (const Json::exception& e) {  // a field of the wrong type
  return invalidArgument(std::string("fault injection: ") + e.what());
}

}  // namespace sc::ledger::sandbox

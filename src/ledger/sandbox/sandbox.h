#pragma once
// Sandbox: the embedded ledger engine served through Canton's JSON Ledger API v2 (the subset in
// README.md). Transport-independent: handle() maps one HTTP request to one reply; server.h puts
// it on a socket. Commands arrive in Daml's vocabulary (CreateCommand/ExerciseCommand on the
// daml/ templates) and are translated to the engine's commands; responses render the engine's
// effects as a participant does (CreatedEvent/ArchivedEvent, offsets, update ids).
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ledger/daml_json.h"
#include "ledger/engine/embedded_ledger.h"
#include "ledger/sandbox/jwt.h"
#include "ledger/sandbox/sandbox_store.h"

namespace sc::ledger::sandbox {

struct HttpRequest {
  std::string method;  // "GET", "POST", …
  std::string target;  // path and query
  std::string authorization;
  std::string body;
};
struct HttpReply {
  int status = 200;
  std::string body;
  // Fault injection: the request took effect but the connection is closed without an answer.
  bool drop_connection = false;
};

class Sandbox {
 public:
  struct Options {
    std::string data_dir;      // engine journal in <data_dir>/engine, users/updates beside it
    std::string hs256_secret;  // token secret; empty = reject every authenticated call
    // Verifies Bearer tokens; null = HS256 with hs256_secret (which also signs makeToken's).
    std::shared_ptr<const TokenVerifier> verifier;
    std::string participant_id = "sandbox-participant";
    std::string app_user = "settlement-coordinator";  // created with admin and act-as rights
    std::vector<std::string> synchronizers{"securities", "cash", "settlement"};
    std::string securities_issuer_party = "securities-issuer::12345";
    std::string cash_provider_party = "cash-provider::67890";
    bool durable = true;
    const Clock* clock = nullptr;
    // A development OAuth2 client-credentials endpoint (POST /sandbox/oauth/token) issuing
    // tokens for app_user to this client; empty id = no such endpoint.
    std::string oauth_client_id, oauth_client_secret;
    int64_t oauth_token_ttl_seconds = 3600;
  };

  static Result<std::unique_ptr<Sandbox>> open(Options options);
  HttpReply handle(const HttpRequest& request);

  // "https://daml.com/jwt/aud/participant/<participant-id>"
  std::string audience() const;
  std::string participantId() const;
  // An HS256 token for `user` (development and tests), valid for `ttl_seconds`.
  std::string makeToken(const std::string& user, int64_t ttl_seconds) const;
  EmbeddedLedger& engine() { return *engine_; }
  // Synchronizer id ("<alias>::<fingerprint>") of an engine synchronizer name, and back.
  std::string synchronizerId(const std::string& alias) const;
  std::string synchronizerAlias(const std::string& id) const;

  // Fault injection (also reachable through POST /sandbox/faults, ParticipantAdmin only).
  void dropNextCommittedResponses(int n) { drop_committed_.store(n); }
  int oauthTokensIssued() const { return oauth_issued_.load(); }
  // The next `n` requests (whose path starts with `path`, when given) fail with `status` and a
  // retryable JsCantonError, without being handled; the first `skip` of them are handled first
  // (e.g. a resend fails after its first attempt committed). With `gateway` the body is a plain
  // text one, as a proxy between client and participant answers (no JsCantonError).
  void failNextRequests(int n, int status, std::string path = {}, int skip = 0,
                        bool gateway = false);
  // The next `n` answers to `path` come back with every JSON string turned into a number (a
  // participant or proxy answering outside the API's types): for clients' robustness.
  void mistypeNextResponses(std::string path, int n);
  // The next `n` submissions that name a contract consumed since it was created answer
  // LOCAL_VERDICT_INACTIVE_CONTRACTS instead of CONTRACT_NOT_FOUND, as a participant does when
  // the consuming transaction was still in flight when this one was interpreted (the race is
  // lost at confirmation, not at interpretation).
  void inactiveContractVerdicts(int n) { inactive_verdicts_.store(n); }
  // The next `n` fdatasyncs of the sandbox's own records fail with EIO (the engine's journal
  // has its own: engine().failNextSyncs). The first failure halts the sandbox.
  void failNextStoreSyncs(int n) { store_.failNextSyncs(n); }

 private:
  struct Caller;
  Sandbox() = default;
  Result<Caller> authenticate(const HttpRequest& r);
  HttpReply route(const HttpRequest& r, const std::string& path,
                  const std::map<std::string, std::string>& query);
  // Endpoints (sandbox_routes.cpp / sandbox_commands.cpp).
  HttpReply version();
  HttpReply ledgerEnd();
  HttpReply latestPrunedOffsets();
  HttpReply connectedSynchronizers();
  HttpReply listParties(const Caller& c);
  HttpReply allocateParty(const Caller& c, const daml::Json& body);
  HttpReply getParty(const Caller& c, const std::string& party);
  HttpReply listUsers(const Caller& c);
  HttpReply createUser(const Caller& c, const daml::Json& body);
  HttpReply getUser(const Caller& c, const std::string& id);
  HttpReply listRights(const Caller& c, const std::string& id);
  HttpReply grantRights(const Caller& c, const std::string& id, const daml::Json& body);
  HttpReply submit(const Caller& c, const daml::Json& commands, int shape);
  HttpReply submitReassignment(const Caller& c, const daml::Json& body);
  HttpReply completions(const Caller& c, const daml::Json& body,
                        const std::map<std::string, std::string>& query);
  HttpReply activeContracts(const Caller& c, const daml::Json& body);
  HttpReply updateById(const Caller& c, const daml::Json& body);
  // POST /v2/updates (sandbox_updates.cpp): the rendered transactions and reassignments in an
  // offset range, for the reconciler's reads of settles and credits.
  HttpReply updates(const Caller& c, const daml::Json& body,
                    const std::map<std::string, std::string>& query);
  HttpReply eventsByContractId(const Caller& c, const daml::Json& body);
  HttpReply faults(const Caller& c, const daml::Json& body);
  // POST /sandbox/prune {"pruneUpTo": n} (ParticipantAdmin): what a participant's operator does
  // through its pruning service (sandbox_prune.cpp).
  HttpReply prune(const Caller& c, const daml::Json& body);
  HttpReply oauthToken(const std::string& form);

  struct Contract;
  // A contract as the engine shows it, rendered only when needed.
  struct Seen {
    std::string id;
    std::optional<HoldingView> holding;
    std::optional<DvpView> dvp;
  };
  // The holdings of `owners` and the active DvPs among `dvp_ids` (what a command may change).
  std::vector<Seen> contractsOf(const std::vector<std::string>& owners,
                                const std::vector<std::string>& dvp_ids);
  // The active contracts of these templates that the filters (party -> templates, "" = any
  // party) may show; the caller applies the filters exactly.
  std::vector<Contract> contractsFor(
      const std::map<std::string, std::set<daml::Template>>& filters);
  std::vector<Contract> allContracts(const std::set<daml::Template>& wanted);
  bool mayMatch(const HoldingView& h, const std::set<daml::Template>& wanted) const;
  Result<Contract> contract(const std::string& cid);
  Contract contractOf(const HoldingView& h);
  Contract contractOf(const DvpView& v);
  Contract contractOf(const Seen& s);
  void noteDvp(const DvpView& v);
  void noteLock(const HoldingView& h);
  daml::Json createdEvent(const Contract& k, int64_t offset, int node_id,
                          const std::string& created_at) const;

  Options opts_;
  std::unique_ptr<EmbeddedLedger> engine_;
  SandboxStore store_;
  std::mutex mu_;  // serializes every request that reads or changes state (but its fdatasync)
  // Buyer and seller -> DvPs they are party to (those seen active; archived ones are dropped
  // when met): which DvPs and counterparty locks a party's active-contract read must include.
  std::map<std::string, std::set<std::string>> dvps_by_party_;
  // DvP -> its lock contracts (as seen; gone ones are dropped when met).
  std::map<std::string, std::set<std::string>> locks_by_dvp_;
  // Bearer token -> (the second it was verified in, its user).
  std::map<std::string, std::pair<int64_t, std::string>> verified_;
  // A command is refused, before it can take effect, once a sync of the engine's journal or of
  // the sandbox's records has failed: what it would write could not be made durable.
  std::optional<HttpReply> halted();
  // CONTRACT_NOT_FOUND for an input contract that is gone, or the armed inactive-contract verdict.
  HttpReply contractGone(const std::string& cid);
  std::atomic<int> drop_committed_{0};
  std::atomic<int> fail_next_{0};
  std::atomic<int> fail_status_{503};
  int fail_skip_ = 0;          // under faults_mu_
  bool fail_gateway_ = false;  // under faults_mu_
  std::atomic<int> inactive_verdicts_{0};
  std::atomic<int> mistype_next_{0};
  std::mutex faults_mu_;  // the paths below
  std::string fail_path_, mistype_path_;
  std::atomic<uint64_t> correlation_{0};
  std::atomic<int> oauth_issued_{0};
};

}  // namespace sc::ledger::sandbox

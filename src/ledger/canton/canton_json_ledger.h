#pragma once
// CantonJsonLedger: the Ledger interface over a Canton participant's JSON Ledger API v2
// (DESIGN §5, README.md). Every command is a CreateCommand/ExerciseCommand on the daml/
// templates, submitted with submit-and-wait-for-transaction under the workflow's command id
// (Canton deduplicates on user, actAs and command id); reassignments go through
// submit-and-wait-for-reassignment after checking where each contract sits; reads come from
// /v2/state/active-contracts, /v2/events/events-by-contract-id, /v2/updates/update-by-id and
// /v2/commands/completions. Thread-safe.
//
// submit() runs a batch's commands concurrently, up to CANTON_POOL_SIZE at a time: commands that
// share a party (or a DvP, or a command id) stay together and run in batch order, so a party's
// holdings are never chosen by two of its commands at once; unrelated commands overlap their
// round trips, and the participant commits them together. A batch first reads the ledger end
// once; every active-contract read of its commands is taken at that offset or a later one this
// adapter saw (a DvP's arguments are immutable and cached; whether it is active never is).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ledger/canton/completion_index.h"
#include "ledger/canton/http_client.h"
#include "ledger/daml_json.h"
#include "ledger/ledger.h"

namespace sc::ledger::canton {

struct CantonOptions {
  HttpClientOptions http;
  std::string user_id = "settlement-coordinator";  // CANTON_USER_ID: acts as every party
  std::string token_file;  // CANTON_AUTH_TOKEN_FILE: Bearer JWT, re-read when it changes
  // OAuth2 client credentials (instead of token_file): the token is fetched from token_url and
  // refreshed before it expires (at 80 % of its lifetime).
  struct OAuth {
    std::string token_url;  // http(s)://host[:port]/path
    std::string client_id, client_secret_file, audience;
    std::string ca_file;  // https token endpoint: CAs (empty: the system's)
  } oauth;
  std::string securities_issuer_party, cash_provider_party;
  // Aliases of the synchronizers (as the participant names them); DvPs are created on
  // settlement_synchronizer (empty: the last).
  std::vector<std::string> synchronizers{"securities", "cash", "settlement"};
  std::string settlement_synchronizer;
  std::set<std::string> cash_assets{"USD", "USDC", "USDT", "EUR", "GBP", "CHF", "JPY"};
  // Submissions whose outcome is unknown (timeout, connection lost) are resent with the same
  // command id this many times before the caller gets a retryable ledger_timeout.
  int submit_attempts = 3;
  std::chrono::milliseconds retry_backoff{50};
};

// The buyer and seller of a DvP, if known (nullopt: not read).
using PartiesOf =
    std::function<std::optional<std::pair<std::string, std::string>>(const std::string& dvp)>;
// Which commands of a batch must run one after another: one group index per submission. Those
// sharing a command id, a DvP or a party run in batch order, so a party's holdings are never
// chosen by two of its commands at once; every command whose DvP's parties are unknown shares
// one group (it may share a party with any of them). CantonJsonLedger::submit runs the groups
// concurrently.
std::vector<size_t> commandGroups(std::span<const Submission> batch, const PartiesOf& parties_of);

class CantonJsonLedger final : public Ledger {
 public:
  explicit CantonJsonLedger(CantonOptions options);
  ~CantonJsonLedger() override;

  std::vector<Result<Outcome>> submit(std::span<const Submission> batch) override;
  Result<std::string> allocateParty(const std::string& hint) override;
  Result<bool> partyExists(const std::string& party) override;
  Result<HoldingView> credit(const std::string& party, const std::string& asset,
                             LedgerAmount amount, const std::string& synchronizer) override;
  Result<std::vector<HoldingView>> holdings(const std::string& party) override;
  Result<std::optional<DvpView>> dvp(const std::string& contract_id) override;
  Result<std::optional<UpdateView>> updateById(const std::string& update_id) override;
  // Reads the completion stream after `after_offset` and after what the index already holds
  // entirely (CompletionIndex); the update itself is read from the ledger.
  Result<std::optional<Outcome>> completionAfter(const std::string& command_id,
                                                 int64_t after_offset) override;
  Result<int64_t> knownLedgerEnd() override;
  Result<std::vector<AssetTotal>> totals() override;
  // From POST /v2/updates (beginExclusive, endInclusive = the ledger end), reading transactions
  // as the co-signers see them: a settle archives a DvP and creates the buyer's securities; a
  // credit creates one holding and archives nothing.
  Result<MovementPage> movementsSince(int64_t after_offset, int limit) override;
  Result<int64_t> prunedUpTo() override;  // GET /v2/state/latest-pruned-offsets
  std::vector<std::string> synchronizers() const override;
  Result<void> ping() override;

  // Maps a JsCantonError to the Ledger's error codes (public for tests).
  static Error errorOf(const daml::CantonError& e);

 private:
  using Json = daml::Json;
  struct Active {  // an active contract from /v2/state/active-contracts
    std::string contract_id;
    daml::Template tmpl{};
    Json argument;
    std::string synchronizer;  // alias
    bool in_flight = false;
    std::string reassignment_id, target;  // in flight: the pending assignment
  };
  struct Dvp {
    daml::DvpArgs args;
    bool active = false;
    std::string synchronizer;
  };

  // A command id and the offset its first submission is known to follow (Submission): where
  // lookups of what it did start, and its deduplication period.
  struct Cmd {
    std::string id;
    int64_t after = 0;
  };
  Result<Outcome> submitOne(const Submission& s);
  // Which commands of a batch must run one after another (same party, DvP or command id): one
  // group index per submission.
  std::vector<size_t> groupsOf(std::span<const Submission> batch);
  Result<Outcome> run(const Cmd& cmd, const CreateDvp& c);
  Result<Outcome> run(const Cmd& cmd, const LockSecurities& c);
  Result<Outcome> run(const Cmd& cmd, const LockCash& c);
  Result<Outcome> run(const Cmd& cmd, const ReassignLocks& c);
  Result<Outcome> run(const Cmd& cmd, const Settle& c);
  Result<Outcome> run(const Cmd& cmd, const ReleaseLocks& c);
  Result<Outcome> run(const Cmd& cmd, const ArchiveDvp& c);
  Result<Outcome> run(const Cmd& cmd, const FenceCommand& c);
  Result<Outcome> lock(const Cmd& cmd, const std::string& dvp_id, Decimal quantity,
                       bool allow_partial, bool cash);
  // The lock's exercises on the owner's free holdings (`acs`), or insufficient_*.
  Result<Json> lockCommands(const std::string& dvp_id, const Dvp& d, std::vector<Active> acs,
                            Decimal quantity, bool allow_partial, bool cash);
  // `e`, unless the DvP is no longer active: then the first outcome of `cmd` if it ran, else
  // contract_not_active.
  Result<Outcome> unlessInactive(const Cmd& cmd, const std::string& dvp_id, Error e);
  // The first outcome of `cmd` if it ran, else `e`; a lookup that failed is its own (retryable)
  // error, never `e`.
  Result<Outcome> firstOutcomeOr(const Cmd& cmd, Error e);

  // Submits and returns the transaction (the first one's when the command id was already done).
  Result<Json> submitTransaction(const Cmd& cmd, const std::string& kind,
                                 std::vector<std::string> act_as, const Json& commands,
                                 const std::string& synchronizer_alias, bool& deduplicated);
  Result<Json> reassign(const std::string& command_id, const std::string& submitter,
                        const Json& command);
  Result<Outcome> outcomeOf(const Json& tx, bool deduplicated);
  // The update the command id completed with (its latest completion), reading the completion
  // stream after `after` and after what the index holds whole. `at` > 0: the id's first
  // completion is at that offset (DUPLICATE_COMMAND's completion_offset): read exactly there.
  Result<std::optional<std::string>> completedUpdateId(const std::string& command_id, int64_t after,
                                                       int64_t at);

  Result<Json> call(const std::string& method, const std::string& target, const Json* body,
                    bool idempotent);
  Result<std::string> authorization();
  // At the ledger end (fresh), or at the latest offset this adapter has seen, which is never
  // before the ledger end read when the current batch began.
  Result<std::vector<Active>> activeContracts(const std::vector<std::string>& parties,
                                              const std::vector<daml::Template>& templates,
                                              bool fresh = true);
  Result<std::vector<Active>> locksOf(const std::string& dvp_id, const Dvp& d, bool fresh);
  Result<std::optional<Dvp>> dvpContract(const std::string& contract_id);
  // The DvP's arguments and synchronizer (immutable): cached, else read (`active` then says
  // whether it was active at that read; a cached entry says nothing about it).
  Result<std::optional<Dvp>> dvpArgs(const std::string& contract_id);
  void rememberDvp(const std::string& contract_id, const Dvp& d);
  std::optional<Dvp> cachedDvp(const std::string& contract_id);
  void rememberUpdate(const Json& tx);
  // The movement an update of /v2/updates makes, if any (movementsSince); raises `last` to its
  // offset. Remembers the arguments of the DvPs it creates.
  Result<std::optional<MovementView>> movementOf(const Json& update, int64_t& last);
  // Reads the ledger end; offsets seen in answers only ever raise offset_seen_.
  Result<int64_t> ledgerEnd();
  // A read at `asked` met OFFSET_AFTER_LEDGER_END: reads the ledger end and, if it is before
  // `asked` (the participant's ledger went back: a restore, a wiped sandbox), lowers offset_seen_
  // to it and forgets the completions seen. Returns the ledger end, where to read again.
  Result<int64_t> ledgerWentBack(int64_t asked);
  void sawOffset(int64_t offset);
  Result<void> loadSynchronizers();
  std::string syncId(const std::string& alias);
  std::string syncAlias(const std::string& id);
  std::vector<std::string> coSigners() const;

  CantonOptions opts_;
  HttpClient http_;
  // Guards the caches below. Only what cannot change is cached: a DvP's arguments, and which
  // update a command id completed with (its transaction is read from the ledger every time).
  // Whether a contract is active, and any update asked for by id, always come from the ledger.
  mutable std::mutex mu_;
  std::map<std::string, std::string> alias_by_id_, id_by_alias_;
  // Bounded: 100,000 ids are well over what the settlements in flight can ask about (their floors
  // keep lookups to recent offsets), at ~200 bytes each.
  static constexpr size_t kCompletionIndexCapacity = 100000;
  CompletionIndex completions_{kCompletionIndexCapacity};
  std::map<std::string, Dvp> dvp_cache_;  // DvP arguments, by contract id
  std::atomic<int64_t> offset_seen_{0};
  // Updates asked for per /v2/updates request (movementsSince): halved for good when an answer
  // exceeds the client's max_response_bytes. 2,000 settles of a few KB each stay well inside the
  // default 64 MiB.
  std::atomic<int> updates_page_{2000};
  // The lowest ledger end seen after the participant's ledger went back (startOf).
  std::atomic<int64_t> went_back_to_{std::numeric_limits<int64_t>::max()};
  // Where what a command id did is looked for, and deduplicated from: its floor `after`, but
  // never later than the lowest end seen since the ledger went back. After a participant restore
  // a floor recorded before may point past offsets the participant has since reused. (It costs
  // reads until the process restarts; a wrong "not completed" would cost a settlement.)
  int64_t startOf(int64_t after) const { return std::min(after, went_back_to_.load()); }
  std::string token_;
  int64_t token_mtime_ns_ = -1;
  Result<std::string> oauthToken();  // with mu_ held
  std::unique_ptr<HttpClient> oauth_http_;
  std::string oauth_path_;
  std::chrono::steady_clock::time_point token_refresh_at_{};
};

}  // namespace sc::ledger::canton

#pragma once
// The sandbox's own durable state beside the engine's journal: ledger users and their rights,
// the kind (security or cash) of each asset, and every update it rendered with its completion
// (what /v2/updates/update-by-id, /v2/events/events-by-contract-id and /v2/commands/completions
// serve). An append-only JSON-lines file "<data_dir>/sandbox.jsonl", replayed on open; a torn
// final line is dropped. Not thread-safe: the Sandbox serializes every call but sync(), which it
// makes after each request with its lock released, so that concurrent requests share one
// fdatasync (group commit): a request is answered only once its records are on disk.
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/result.h"

namespace sc::ledger::sandbox {

using Json = nlohmann::json;

struct User {
  std::string id;
  std::string primary_party;
  bool deactivated = false;
  std::set<std::string> act_as, read_as;
  bool participant_admin = false;
  bool read_as_any_party = false;
};

struct CompletionRecord {
  int64_t offset = 0;
  std::string command_id, user_id, submission_id, update_id;
  std::vector<std::string> act_as;
  std::string synchronizer_id;
  std::string record_time;
};

class SandboxStore {
 public:
  // Empty dir: in memory only.
  Result<void> open(const std::string& dir);

  const std::map<std::string, User>& users() const { return users_; }
  Result<void> putUser(const User& u);
  Result<void> removeUser(const std::string& id);

  std::optional<bool> assetIsCash(const std::string& asset) const;
  Result<void> putAssetKind(const std::string& asset, bool cash);

  // An update as the API renders it ({"Transaction": …} or {"Reassignment": …}) and its
  // completion (null for reassignments' events of the same command).
  Result<void> putUpdate(const std::string& update_id, Json update,
                         const std::optional<CompletionRecord>& completion);
  // The update, serialized.
  const std::string* update(const std::string& update_id) const;
  // The completions kept, in offset order (every record is made under the sandbox's lock).
  const std::deque<CompletionRecord>& completions() const { return completions_; }
  // The completion of a command id, if one was recorded.
  const CompletionRecord* completionOf(const std::string& command_id) const;
  // The highest ledger offset of an update or completion recorded (0: none).
  int64_t lastOffset() const { return last_offset_; }
  // Records are applied and written at once, and made durable by sync(). version() counts the
  // records; sync(v) returns once every record up to version v is durable, with one fdatasync for
  // every caller waiting meanwhile (group commit). The Sandbox syncs the engine's journal first
  // (EmbeddedLedger::syncUpTo: the effect before its record). A failed write or sync fails every
  // later sync: nothing unsynced is ever acknowledged. Thread-safe.
  uint64_t version() const { return version_.load(); }
  Result<void> sync(uint64_t upto);
  // The first failed write or sync, if any.
  std::optional<std::string> failure();
  // Fault injection: the next `n` fdatasyncs fail with EIO (the first failure is final).
  void failNextSyncs(int n) { fail_syncs_left_.store(n); }
  // Events per contract id: its CreatedEvent (and synchronizer), its ArchivedEvent if any. Kept
  // serialized ("" = none), as updates are: a tree per contract cost ten times the memory.
  struct ContractEvents {
    std::string created, archived;
    std::string synchronizer_id;
    int64_t offset = 0;      // the CreatedEvent's
    std::string created_at;  // the CreatedEvent's createdAt
    uint64_t seq = 0;        // creation order (several may share an offset)
  };
  const ContractEvents* contractEvents(const std::string& contract_id) const;
  // Contracts only the sandbox keeps (SettledDeliveryVsPayment and RoundFence: the engine has no
  // such contracts), in creation order.
  const std::vector<std::string>& sandboxContracts() const { return sandbox_contracts_; }

  // Pruning, as a participant's operator prunes up to `upto` (inclusive): the completions and
  // updates at or below it, and the events of the contracts archived at or below it, are
  // dropped; active contracts keep their CreatedEvent whenever they were created (a participant
  // never prunes an active contract). Recorded (a "prune" record, durable with the next sync),
  // then the file is compacted: its live state is written to "sandbox.jsonl.compact", synced,
  // and renamed over the file, so the file, like the memory, holds only what is kept. A failure
  // before the rename keeps the old file (the prune record in it replays the pruning); one
  // after it fails every later sync, as a failed sync does. An `upto` at or below the current
  // one changes nothing but a compaction that failed before. Returns what this call dropped.
  struct PruneResult {
    size_t completions = 0, updates = 0, contracts = 0;
  };
  Result<PruneResult> prune(int64_t upto);
  // The greatest offset pruned (participantPrunedUpToInclusive), 0 when nothing was.
  int64_t prunedUpTo() const { return pruned_up_to_; }

 private:
  Result<void> append(Json record);  // applies and writes
  Result<void> write(const Json& record);
  void apply(Json record);
  void noteCreated(const std::string& cid, const Json& created, const std::string& synchronizer);
  void dropUpTo(int64_t upto, PruneResult& dropped);
  // Writes the live state to a new file and renames it over the old one (under sync_mu_).
  Result<void> compact();

  int fd_ = -1;
  std::string path_;
  std::atomic<uint64_t> version_{0}, synced_{0};
  std::mutex sync_mu_;      // one sync at a time
  std::string sync_error_;  // the first failed sync (under sync_mu_)
  std::atomic<int> fail_syncs_left_{0};
  // Command id -> its completion's position in the stream kept: completions_[pos - first_pos_].
  std::unordered_map<std::string, uint64_t> completion_by_command_;
  uint64_t first_pos_ = 0;  // the position of completions_.front()
  std::map<std::string, User> users_;
  std::map<std::string, bool> asset_cash_;
  std::unordered_map<std::string, std::string> updates_;
  std::deque<CompletionRecord> completions_;
  // Updates and archived contracts in offset order, for pruning.
  std::deque<std::pair<int64_t, std::string>> update_order_, archived_order_;
  std::unordered_map<std::string, ContractEvents> contracts_;
  std::vector<std::string> sandbox_contracts_;
  int64_t last_offset_ = 0;
  int64_t pruned_up_to_ = 0;
  uint64_t created_seq_ = 0;
  bool compaction_due_ = false;  // the last compaction failed before its rename
};

Json toJson(const User& u);
User userFromJson(const Json& j);

}  // namespace sc::ledger::sandbox

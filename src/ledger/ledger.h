#pragma once
// The ledger boundary (DESIGN §5). Every command carries a caller-chosen command id
// "<settlement_id>:<step>:<attempt>": submitting the same id again returns the first successful
// outcome and changes nothing (deduplication). Errors are tagged retryable or permanent.
// EmbeddedLedger implements it in-process and durably; a Canton JSON API client can too.
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "domain/decimal.h"
#include "domain/ledger_amount.h"
#include "domain/result.h"
#include "domain/time.h"

namespace sc::ledger {

// Error codes (Error::code). Retryable: kUnavailable, kTimeout, kContractInFlight.
inline constexpr const char* kUnavailable = "ledger_unavailable";  // synchronizer down, I/O
// The request may have taken effect, or not (outcome unknown): sent and not answered, or a
// command whose earlier attempt may have run and whose completion cannot be found.
inline constexpr const char* kTimeout = "ledger_timeout";
// The answer to a command that may have taken effect although `cause` went wrong after it was
// sent or applied (a lost answer, a journal write or sync that failed after the commit): the
// caller must neither count it done nor free what a definite failure would free (a credit's
// Idempotency-Key), and a resend under the same id finds out.
inline Error outcomeUnknown(const std::string& what, const Error& cause) {
  return Error::transient(kTimeout, what + " (outcome unknown): " + cause.message);
}
inline constexpr const char* kContractInFlight =
    "contract_in_flight";  // unassigned, not assigned yet
inline constexpr const char* kUnknownParty = "unknown_party";
inline constexpr const char* kContractNotActive = "contract_not_active";
inline constexpr const char* kInsufficientSecurities = "insufficient_securities";
inline constexpr const char* kInsufficientCash = "insufficient_cash";
inline constexpr const char* kInvalidCommand = "invalid_command";
inline constexpr const char* kCommandFenced = "command_fenced";  // the id was taken by a fence
// The ledger was pruned past what the request needs: a submission whose after_offset is below
// the pruned offset (its deduplication can no longer be checked), or a read that starts there.
inline constexpr const char* kLedgerPruned = "ledger_pruned";
// A credit that would take an asset's ledger total past Numeric 10 (LedgerAmount::max()).
inline constexpr const char* kAmountOutOfRange = "ledger_amount_out_of_range";

// Creates a DeliveryVsPayment contract (signatories buyer, seller, issuer, cash provider) on the
// settlement synchronizer.
struct CreateDvp {
  std::string buyer, seller;  // parties
  std::string security, cash_asset;
  Decimal quantity, amount;
  Date settlement_date;
};
// Locks up to `quantity` of the seller's `security` to the DvP, splitting holdings as needed.
// With allow_partial and fewer available (but > 0), locks what there is; otherwise
// kInsufficientSecurities.
struct LockSecurities {
  std::string dvp_contract_id;
  Decimal quantity;
  bool allow_partial = false;
};
// Locks exactly `amount` of the buyer's cash asset to the DvP, or kInsufficientCash.
struct LockCash {
  std::string dvp_contract_id;
  Decimal amount;
};
// Moves the DvP's locks to the DvP's synchronizer if they sit elsewhere (unassign + assign).
struct ReassignLocks {
  std::string dvp_contract_id;
};
// Exercises SettleDeliveryVsPayment: consumes both locks, creates the buyer's securities holding
// and the seller's cash holding, all or nothing. If the locks cover only part of the DvP's
// quantity, that part settles and a DvP for the remainder is created.
struct Settle {
  std::string dvp_contract_id;
};
// Releases every lock of the DvP back to its owner's free holdings (idempotent). A lock in flight
// between synchronizers is assigned first (retryable kUnavailable while its target is down). With
// archive_dvp the DvP is archived in the same transaction, so no later command can lock against
// it: the fence against a worker whose lease expired mid-step.
struct ReleaseLocks {
  std::string dvp_contract_id;
  bool archive_dvp = false;
};
// Archives a DvP contract that will never settle (after release).
struct ArchiveDvp {
  std::string dvp_contract_id;
};

// Fences an abandoned round before any contract of it is known: submitted under the command id
// of the round's CreateDvp. If that command already succeeded, its outcome comes back
// (deduplicated, not `fenced`): the DvP exists and is fenced by releasing and archiving it.
// Otherwise the fence takes the command id for good: any later submission under it fails with
// kCommandFenced (permanent), so a worker whose lease expired can never start the round. (Canton
// deduplicates by command id, not content, so a fence transaction under the id does the same.)
// Canton's deduplication key also holds the acting parties, so the fence names the round's buyer
// and seller: it acts as the create did (the embedded engine keys on the command id alone).
struct FenceCommand {
  std::string buyer, seller;  // parties of the round's CreateDvp
};

using Command = std::variant<CreateDvp, LockSecurities, LockCash, ReassignLocks, Settle,
                             ReleaseLocks, ArchiveDvp, FenceCommand>;

struct Submission {
  std::string command_id;
  Command command;
  // An offset no later than the ledger end when this command id was first submitted (the
  // settlement's stepFloor()): any completion of the id is after it, so a resend's lookup
  // of what the id already did reads the completions after it, not the ledger's whole history.
  // 0: anywhere.
  int64_t after_offset = 0;
};

struct Outcome {
  // The transaction that applied the command, and that transaction's own offset, also when the
  // outcome is a deduplicated resend's or a lookup's (never the ledger end when it was read).
  // The workflow starts lookups of the next step's command at this offset
  // (Settlement::step_offset_floor), so a later offset here would hide that command's
  // completion. Empty update_id (a step that moved nothing): `offset` is only informative.
  std::string update_id;
  int64_t offset = 0;
  std::string contract_id;   // CreateDvp: the DvP; Lock*: the lock contract
  std::string synchronizer;  // where the created/affected contract sits
  Decimal quantity;          // LockSecurities: locked quantity; Settle: settled quantity
  Decimal amount;            // LockCash: locked amount; Settle: settled amount
  // Settle only:
  std::string buyer_securities_contract_id;
  std::string seller_cash_contract_id;
  std::string remainder_dvp_contract_id;  // non-empty after a partial settle
  bool deduplicated = false;              // this command id had already succeeded
  bool fenced = false;                    // FenceCommand: the id is fenced (nothing ran under it)
};

// Ledger-side figures (holdings, totals) are LedgerAmount, Numeric 10 (DESIGN §5); the figures of
// a DvP and of an Outcome are trade figures and stay DECIMAL(18,8).
struct HoldingView {
  std::string contract_id;
  std::string owner;
  std::string asset;
  LedgerAmount amount;
  bool locked = false;
  std::string lock_dvp_contract_id;
  std::string synchronizer;
  bool in_flight = false;
};

struct DvpView {
  std::string contract_id;
  bool active = false;
  std::string buyer, seller, security, cash_asset;
  Decimal quantity, amount;
  std::string synchronizer;
};

struct UpdateView {
  std::string update_id;
  int64_t offset = 0;
  Timestamp recorded_at{};
  std::string command_id;
};

struct AssetTotal {
  std::string asset;
  LedgerAmount total;
  LedgerAmount locked;
};

// A transaction that moves assets between parties (a settle: SettleDeliveryVsPayment) or changes
// an asset's supply (a credit), as the reconciler reads them. Nothing else on the ledger does
// either: a lock, release, reassignment, DvP creation or archival keeps every owner's total.
struct MovementView {
  enum class Kind : uint8_t { kSettle, kCredit };
  Kind kind = Kind::kSettle;
  std::string update_id;
  int64_t offset = 0;
  Timestamp recorded_at{};
  std::string command_id;  // the submission's ("" for a credit outside any command)
  // kSettle: the DvP settled (archived), its terms, and what moved (trade figures: the part that
  // settled and its cash); remainder_dvp_contract_id after a partial settle.
  std::string dvp_contract_id, remainder_dvp_contract_id;
  std::string buyer, seller, security, cash_asset;
  Decimal quantity, amount;
  // kCredit: the holding created.
  std::string owner, asset;
  LedgerAmount credited;
};

struct MovementPage {
  std::vector<MovementView> movements;  // offset order
  // Every movement up to this offset is in this page or an earlier one: the next call's
  // after_offset. It equals after_offset when nothing more was found.
  int64_t end_offset = 0;
  // True when end_offset is the ledger end this call read: nothing committed up to it is in a
  // later page. False when the page was cut (by `limit`, or an answer that may have stopped
  // short): read on from end_offset before relying on having seen everything.
  bool at_end = false;
};

class Ledger {
 public:
  virtual ~Ledger() = default;

  // Applies each submission in order; results in the same order. A batch is made durable once
  // (group commit) before returning. Each element succeeds or fails on its own.
  virtual std::vector<Result<Outcome>> submit(std::span<const Submission> batch) = 0;

  // Allocates a party for an account if it does not exist (idempotent). Returns the party id.
  virtual Result<std::string> allocateParty(const std::string& hint) = 0;
  virtual Result<bool> partyExists(const std::string& party) = 0;

  // Credits a new holding (operators and tests; on Canton this is the issuer's job): a ledger
  // operation, so any positive Numeric 10 amount; kAmountOutOfRange (naming the asset and the
  // limit) when the asset's total on the ledger would exceed LedgerAmount::max().
  virtual Result<HoldingView> credit(const std::string& party, const std::string& asset,
                                     LedgerAmount amount, const std::string& synchronizer) = 0;

  virtual Result<std::vector<HoldingView>> holdings(const std::string& party) = 0;
  virtual Result<std::optional<DvpView>> dvp(const std::string& contract_id) = 0;
  virtual Result<std::optional<UpdateView>> updateById(const std::string& update_id) = 0;
  // The completion of a command id, if it succeeded. `after_offset` is an offset known to be before
  // the id's first submission (Submission::after_offset; 0: anywhere): an adapter that reads a
  // completion stream reads it from there, so the cost of a lookup does not grow with the ledger's
  // history (a restarted instance recovering its leases asks about recent commands only).
  virtual Result<std::optional<Outcome>> completionAfter(const std::string& command_id,
                                                         int64_t after_offset) = 0;
  Result<std::optional<Outcome>> completion(const std::string& command_id) {
    return completionAfter(command_id, 0);
  }
  // An offset no later than the ledger end at this call, cheap (the latest this process has seen,
  // read from the ledger only when it has seen none): a command submitted after this call
  // completes after it. The workflow records it when it first leases a settlement
  // (Settlement::ledger_offset_floor).
  virtual Result<int64_t> knownLedgerEnd() = 0;
  virtual Result<std::vector<AssetTotal>> totals() = 0;
  // The settles and credits committed after `after_offset`, oldest first, at most `limit` (> 0):
  // the reconciler's incremental read of what moved (DESIGN §11). The page ends at the ledger end
  // read by this call, or earlier when `limit` cut it.
  virtual Result<MovementPage> movementsSince(int64_t after_offset, int limit) = 0;
  // The greatest offset the ledger has pruned, 0 when it has pruned nothing (Canton's
  // participantPrunedUpToInclusive, /v2/state/latest-pruned-offsets): a read that starts before
  // it (movementsSince or completionAfter with an earlier after_offset) fails with kLedgerPruned.
  virtual Result<int64_t> prunedUpTo() = 0;
  virtual std::vector<std::string> synchronizers() const = 0;
  // Reachability, for /ready.
  virtual Result<void> ping() = 0;
};

}  // namespace sc::ledger

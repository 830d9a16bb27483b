#pragma once
// The Daml-LF JSON encoding shared by the Canton adapter (src/ledger/canton) and the sandbox
// (src/ledger/sandbox): template ids of the daml/ package, the argument records of its templates
// and choices, Numeric/Date/Party values, and Canton's JsCantonError with its error categories.
//
// Every Numeric passes through numeric()/parseNumeric() here and nowhere else, as a decimal
// string (never a double): switching the ledger's amount type is a change to this file only.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/decimal.h"
#include "domain/ledger_amount.h"
#include "domain/result.h"
#include "domain/time.h"

namespace sc::ledger::daml {

using Json = nlohmann::json;
// The ledger-side amount type (Daml Numeric 10 on the wire). A trade figure (a DvP's quantity and
// cash amount, DECIMAL(18,8)) converts into it exactly and is read back with tradeFigureField.
using Numeric = sc::LedgerAmount;
inline constexpr int kNumericScale = 10;  // Daml's Decimal = Numeric 10

// ---- package and template ids ---------------------------------------------------------------

// The package name from daml/daml.yaml (compiled in) and a stable package id derived from its
// name and version (the sandbox renders template ids with it, as a participant does).
const std::string& packageName();
const std::string& packageId();

enum class Template {
  kDeliveryVsPayment,
  kSettledDeliveryVsPayment,
  kSecuritiesHolding,
  kLockedSecurities,
  kCashHolding,
  kLockedCash,
  kRoundFence,
};
inline constexpr Template kAllTemplates[] = {
    Template::kDeliveryVsPayment, Template::kSettledDeliveryVsPayment,
    Template::kSecuritiesHolding, Template::kLockedSecurities,
    Template::kCashHolding,       Template::kLockedCash,
    Template::kRoundFence};

// "Settlement.DvP:DeliveryVsPayment"
std::string moduleEntity(Template t);
// "#settlement-coordinator:Settlement.DvP:DeliveryVsPayment": what a client submits.
std::string templateRef(Template t);
// "<package-id>:Settlement.DvP:DeliveryVsPayment": what a participant renders in events.
std::string templateIdWithPackageId(Template t);
// Accepts both forms (and any package id, as long as module and entity name a daml/ template).
Result<Template> parseTemplateId(std::string_view id);

// Choice names of daml/Settlement.
inline constexpr const char* kChoiceLockSecurities = "LockSecurities";
inline constexpr const char* kChoiceLockCash = "LockCash";
inline constexpr const char* kChoiceReleaseSecurities = "ReleaseSecurities";
inline constexpr const char* kChoiceReleaseCash = "ReleaseCash";
inline constexpr const char* kChoiceSettle = "SettleDeliveryVsPayment";
inline constexpr const char* kChoiceCancel = "CancelDeliveryVsPayment";
inline constexpr const char* kChoiceArchive = "Archive";

// ---- values ---------------------------------------------------------------------------------

// Numeric as a string with the Numeric 10 scale: "100.5000000000".
Json numeric(const Numeric& value);
// A Numeric from a JSON string (or integer): at most kNumericScale decimals, the digits past the
// ledger type's scale must be zeros. `field` names the record field in errors.
Result<Numeric> parseNumeric(const Json& value, std::string_view field);
Json date(Date d);  // "YYYY-MM-DD"
Result<Date> parseDateValue(const Json& value, std::string_view field);
// A record field holding Text, Party or ContractId.
Result<std::string> textField(const Json& record, std::string_view field);
Result<Numeric> numericField(const Json& record, std::string_view field);
// A Numeric field that holds a trade figure: refused (naming the field) unless it fits
// DECIMAL(18,8) exactly.
Result<Decimal> tradeFigureField(const Json& record, std::string_view field);

// Create arguments of the DvP templates (the record fields of daml/Settlement/DvP.daml).
struct DvpArgs {
  std::string buyer, seller, securities_issuer, cash_provider, symbol, currency;
  Decimal quantity, cash_amount;  // trade figures, Numeric 10 on the wire
  Date settlement_date{};
};
Json encode(const DvpArgs& a);
Result<DvpArgs> decodeDvp(const Json& record);

// Create arguments of SettledDeliveryVsPayment: the settled part of a DvP (quantity and
// cash_amount as settled) and the references of both legs.
struct SettledDvpArgs {
  DvpArgs settled;
  std::string securities_transfer_id, cash_transfer_id;
  Timestamp settled_at{};
};
Json encode(const SettledDvpArgs& a);

// Create arguments of RoundFence (daml/Settlement/Fence.daml): the cash provider takes an
// abandoned round's DvP-create command id.
struct FenceArgs {
  std::string cash_provider, round_command_id;
};
Json encode(const FenceArgs& a);
Result<FenceArgs> decodeFence(const Json& record);

// Create arguments of the holding and lock templates (daml/Settlement/Holding.daml). `issuer` is
// the securities issuer or the cash provider; `asset` the symbol or currency; `counterparty` the
// lock's observer (buyer of LockedSecurities, seller of LockedCash); `dvp_ref` the lock's DvP.
struct HoldingArgs {
  Template kind = Template::kSecuritiesHolding;
  std::string issuer, owner, asset, counterparty, dvp_ref;
  Numeric amount;
  bool isLock() const {
    return kind == Template::kLockedSecurities || kind == Template::kLockedCash;
  }
  bool isCash() const { return kind == Template::kCashHolding || kind == Template::kLockedCash; }
};
Json encode(const HoldingArgs& a);
Result<HoldingArgs> decodeHolding(Template kind, const Json& record);
// Signatories of a template instance (issuer/provider and owner; all four for DvPs).
std::vector<std::string> signatories(const HoldingArgs& a);
std::vector<std::string> signatories(const DvpArgs& a);

// ---- JsCantonError --------------------------------------------------------------------------

// Canton's error categories (ErrorCategory ids) and the gRPC codes they map to.
enum class Category : int {
  kTransientServerFailure = 1,
  kContentionOnSharedResources = 2,
  kDeadlineExceededRequestStateUnknown = 3,
  kSystemInternalAssumptionViolated = 4,
  kMaliciousOrFaultyBehaviour = 5,
  kAuthInterceptorInvalidAuthenticationCredentials = 6,
  kInsufficientPermission = 7,
  kInvalidIndependentOfSystemState = 8,
  kInvalidGivenCurrentSystemStateOther = 9,
  kInvalidGivenCurrentSystemStateResourceExists = 10,
  kInvalidGivenCurrentSystemStateResourceMissing = 11,
  kInvalidGivenCurrentSystemStateSeekAfterEnd = 12,
  kBackgroundProcessDegradationWarning = 13,
  kInternalUnsupportedOperation = 14,
};
int grpcCodeOf(Category c);
// HTTP status of a gRPC code as Canton's JSON API renders it.
int httpStatusOfGrpc(int grpc_code);
// Retryable per Canton's documented retry strategy (categories 1, 2, 3).
bool retryable(Category c);

struct CantonError {
  std::string code;   // e.g. "DUPLICATE_COMMAND"
  std::string cause;  // human readable
  std::map<std::string, std::string> context;
  std::vector<std::pair<std::string, std::string>> resources;
  int error_category = 0;
  std::optional<int> grpc_code;
  std::optional<std::string> retry_info;  // e.g. "1 second"
  std::optional<bool> definite_answer;
  std::string correlation_id;

  Category category() const { return static_cast<Category>(error_category); }
  int httpStatus() const;
};
// Builds an error the way a participant reports it (grpc code from the category).
CantonError makeError(std::string code, Category category, std::string cause);
Json render(const CantonError& e);
// Parses a JsCantonError body; an error names what is missing.
Result<CantonError> parseCantonError(const Json& body);

// Well-known codes.
inline constexpr const char* kDuplicateCommand = "DUPLICATE_COMMAND";
inline constexpr const char* kSubmissionAlreadyInFlight = "SUBMISSION_ALREADY_IN_FLIGHT";
inline constexpr const char* kContractNotFound = "CONTRACT_NOT_FOUND";
// The other answers naming a contract that is not (or no longer) active: consumed within the
// same transaction (interpretation), consumed by a transaction in flight (confirmation), or on no
// synchronizer the participant is connected to (routing).
inline constexpr const char* kInterpreterContractNotActive = "CONTRACT_NOT_ACTIVE";
inline constexpr const char* kLocalVerdictInactiveContracts = "LOCAL_VERDICT_INACTIVE_CONTRACTS";
inline constexpr const char* kUnknownContractSynchronizers = "UNKNOWN_CONTRACT_SYNCHRONIZERS";
inline constexpr const char* kDamlAuthorizationError = "DAML_AUTHORIZATION_ERROR";
inline constexpr const char* kDamlInterpretationError = "DAML_INTERPRETATION_ERROR";
inline constexpr const char* kInvalidArgument = "INVALID_ARGUMENT";
inline constexpr const char* kInvalidField = "INVALID_FIELD";
inline constexpr const char* kMissingField = "MISSING_FIELD";
inline constexpr const char* kPartyNotKnownOnLedger = "PARTY_NOT_KNOWN_ON_LEDGER";
inline constexpr const char* kUserNotFound = "USER_NOT_FOUND";
inline constexpr const char* kUserAlreadyExists = "USER_ALREADY_EXISTS";
inline constexpr const char* kUnauthenticated = "UNAUTHENTICATED";
inline constexpr const char* kPermissionDenied = "PERMISSION_DENIED";
inline constexpr const char* kNotConnectedToSynchronizer = "NOT_CONNECTED_TO_ANY_SYNCHRONIZER";
// A participant says these of a synchronizer it is (for now) not connected to, in category
// InvalidGivenCurrentSystemStateOther, which is not retryable by category.
inline constexpr const char* kNotConnectedToOneSynchronizer = "NOT_CONNECTED_TO_SYNCHRONIZER";
inline constexpr const char* kNoSynchronizerForSubmission = "NO_SYNCHRONIZER_FOR_SUBMISSION";
inline constexpr const char* kSynchronizerNotAvailable = "SYNCHRONIZER_IS_NOT_AVAILABLE";
inline constexpr const char* kRequestTimeout = "REQUEST_TIME_OUT";
inline constexpr const char* kLockedContracts = "LOCAL_VERDICT_LOCKED_CONTRACTS";
inline constexpr const char* kUnsupportedOperation = "UNSUPPORTED_OPERATION";
inline constexpr const char* kNotFound = "NOT_FOUND";
inline constexpr const char* kUpdateNotFound = "UPDATES_NOT_FOUND";
inline constexpr const char* kOffsetAfterLedgerEnd = "OFFSET_AFTER_LEDGER_END";
// A read (updates, completions, active contracts at an offset) below the pruning offset.
inline constexpr const char* kParticipantPrunedDataAccessed = "PARTICIPANT_PRUNED_DATA_ACCESSED";
// A submission whose deduplication period starts before what the participant still keeps (its
// DeduplicationOffset below the pruning offset): reported as the command's completion, with
// context earliest_offset (Canton's CommandDeduplicationError, FAILED_PRECONDITION).
inline constexpr const char* kInvalidDeduplicationPeriod = "INVALID_DEDUPLICATION_PERIOD";
inline constexpr const char* kServiceNotRunning = "SERVICE_NOT_RUNNING";

// Whether the error says a contract the command used is not active (any of the codes above):
// another transaction consumed it, or it never existed.
bool contractInactive(const CantonError& e);

}  // namespace sc::ledger::daml

#include "api/errors.h"

#include <array>
#include <nlohmann/json.hpp>

#include "auth/errors.h"
#include "domain/ledger_amount.h"
#include "domain/trade.h"
#include "ledger/ledger.h"
#include "reconciliation/errors.h"
#include "store/errors.h"
#include "workflow/errors.h"

namespace sc::api {
namespace {

// Every client-input rejection: the domain's reason codes and the API's own.
constexpr std::array<std::string_view, 28> kBadRequestCodes = {
    reason::kInvalidJson,
    reason::kMissingField,
    reason::kInvalidFieldType,
    reason::kInvalidEventType,
    reason::kInvalidId,
    reason::kInvalidDecimal,
    reason::kDecimalTooPrecise,
    reason::kDecimalOutOfRange,
    reason::kNonPositiveQuantity,
    reason::kNonPositiveAmount,
    reason::kNonPositivePrice,
    reason::kAmountMismatch,
    reason::kSelfTrade,
    reason::kInvalidSymbol,
    reason::kUnknownSymbol,
    reason::kInvalidDate,
    reason::kInvalidTimestamp,
    reason::kSettlementDateBeforeTradeDate,
    reason::kUnknownAccount,
    reason::kInactiveAccount,
    kInvalidParameter,
    kMalformedRequest,
    kJsonTooDeep,
    ledger::kInvalidCommand,  // e.g. an unknown synchronizer in a credit
    // A credit's amount (Numeric 10) and a credit past an asset's Numeric 10 ledger total.
    amount_reason::kInvalidAmount,
    amount_reason::kAmountTooPrecise,
    amount_reason::kAmountOutOfRange,
    ledger::kAmountOutOfRange,
};

// The request is valid but the resource's state forbids it.
constexpr std::array<std::string_view, 8> kConflictCodes = {
    reason::kTradeConflict, workflow::kInvalidState,
    store::kAccountExists,  store::kPartyTaken,
    kIdempotencyInProgress, store::kFindingNotOpen,
    store::kHistoryDropped, reconciliation::kReconcilerStandby};

// Every refusal of a bearer token (auth/errors.h), each its own reason code.
constexpr std::array<std::string_view, 15> kUnauthorizedCodes = {
    kUnauthorized,         auth::kMissingToken,   auth::kMalformedToken,   auth::kAlgNone,
    auth::kUnsupportedAlg, auth::kAlgKeyMismatch, auth::kMissingKid,       auth::kUnknownKid,
    auth::kBadSignature,   auth::kTokenExpired,   auth::kTokenNotYetValid, auth::kWrongIssuer,
    auth::kWrongAudience,  auth::kMissingClaim,   auth::kInvalidClaim};

// Well-formed, but refused for what it says.
constexpr std::array<std::string_view, 2> kUnprocessableCodes = {kIdempotencyKeyReused,
                                                                 kReservedParty};

constexpr std::array<std::string_view, 4> kNotFoundCodes = {
    workflow::kSettlementNotFound, workflow::kAccountNotFound, kNotFound, store::kFindingNotFound};

// Unavailable dependencies: 503 with Retry-After even when the error is not marked retryable.
constexpr std::array<std::string_view, 7> kUnavailableCodes = {
    auth::kKeysUnavailable,    store::kDatabaseUnavailable, ledger::kUnavailable, ledger::kTimeout,
    ledger::kContractInFlight, kTooManyConnections,         kDeadlineExceeded};

bool in(std::string_view code, auto const& list) {
  for (auto c : list)
    if (c == code) return true;
  return false;
}

}  // namespace

unsigned httpStatusFor(const Error& e) {
  const std::string_view c = e.code;
  if (in(c, kConflictCodes)) return 409;
  if (in(c, kBadRequestCodes)) return 400;
  if (in(c, kNotFoundCodes)) return 404;
  if (in(c, kUnauthorizedCodes)) return 401;
  if (c == auth::kForbidden) return 403;
  if (in(c, kUnprocessableCodes)) return 422;
  if (c == kMethodNotAllowed) return 405;
  if (c == kPayloadTooLarge) return 413;
  if (c == kUnsupportedMediaType) return 415;
  if (c == kHeaderTooLarge) return 431;
  if (c == kNotReady || e.retryable || in(c, kUnavailableCodes)) return 503;
  return 500;
}

std::string errorBody(const Error& e) {
  nlohmann::ordered_json err;
  err["code"] = e.code.empty() ? std::string(kInternalError) : e.code;
  err["message"] = e.message;
  if (!e.field.empty()) err["field"] = e.field;
  nlohmann::ordered_json body;
  body["error"] = std::move(err);
  // Messages may quote client input that is not valid UTF-8: replace rather than throw.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpResponse errorResponse(const Error& e) {
  HttpResponse r;
  r.status = httpStatusFor(e);
  r.body = errorBody(e);
  if (r.status == 503) r.headers.emplace_back("Retry-After", "1");
  return r;
}

HttpResponse errorResponse(std::string_view code, std::string message, std::string field) {
  return errorResponse(Error::permanent(std::string(code), std::move(message), std::move(field)));
}

}  // namespace sc::api

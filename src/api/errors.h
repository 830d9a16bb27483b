#pragma once
// The one place that maps an sc::Error to an HTTP status and the JSON error body (STYLE 4):
//   {"error":{"code":"...","message":"...","field":"..."}}   (field only when known)
#include <string_view>

#include "api/router.h"
#include "domain/result.h"

namespace sc::api {

// Error codes the API itself produces. The other modules' codes are in their own lists:
// domain/trade.h (reason::), store/errors.h, ledger/ledger.h, workflow/errors.h,
// messaging/errors.h; errors.cpp maps them all by those names.
inline constexpr std::string_view kInvalidParameter = "invalid_parameter";  // query/body value
inline constexpr std::string_view kMalformedRequest = "malformed_request";  // bad HTTP
inline constexpr std::string_view kPayloadTooLarge = "payload_too_large";
inline constexpr std::string_view kHeaderTooLarge = "header_too_large";
// A request body that is not declared "Content-Type: application/json" (415).
inline constexpr std::string_view kUnsupportedMediaType = "unsupported_media_type";
// A JSON body nested deeper than the API accepts (400).
inline constexpr std::string_view kJsonTooDeep = "json_too_deep";
// Load shedding (503 with Retry-After): the connection limit is reached, or a request was not
// answered within its deadline (it waited too long for a handler, or its handler ran too long).
inline constexpr std::string_view kTooManyConnections = "too_many_connections";
inline constexpr std::string_view kDeadlineExceeded = "deadline_exceeded";
inline constexpr std::string_view kUnauthorized = "unauthorized";
// POST /ledger/holdings: the Idempotency-Key was used with another body (422), or its first
// request is still crediting (409).
inline constexpr std::string_view kIdempotencyKeyReused = "idempotency_key_reused";
inline constexpr std::string_view kIdempotencyInProgress = "idempotency_key_in_progress";
// POST /accounts: the issuer's and the cash provider's parties are never account parties (422).
inline constexpr std::string_view kReservedParty = "reserved_party";
inline constexpr std::string_view kNotFound = "not_found";
inline constexpr std::string_view kMethodNotAllowed = "method_not_allowed";
inline constexpr std::string_view kNotReady = "not_ready";
inline constexpr std::string_view kInternalError = "internal_error";

// 400 for every validation/reason code, 401 (auth/errors.h token codes), 403, 404, 405, 409, 413,
// 415, 431, 503 for retryable errors, 500 for anything unexpected.
unsigned httpStatusFor(const Error& e);

// The JSON error body for `e`.
std::string errorBody(const Error& e);

// A complete response for `e` (status from httpStatusFor; Retry-After on 503).
HttpResponse errorResponse(const Error& e);
// Shorthand: errorResponse(Error::permanent(code, message, field)).
HttpResponse errorResponse(std::string_view code, std::string message, std::string field = {});

}  // namespace sc::api

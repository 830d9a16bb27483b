#pragma once
// What every route handler needs to parse a request and answer it: the JSON body, typed fields
// with errors naming the field, and the JSON response.
#include <optional>
#include <string>
#include <string_view>

#include "api/json_mapping.h"
#include "api/router.h"
#include "domain/result.h"
#include "domain/trade.h"

namespace sc::api {

HttpResponse jsonResponse(unsigned status, const Json& body);

// A permanent error with `code` (a client-input rejection).
Error bad(std::string_view code, std::string message, std::string field = {});

// Bodies other than a trade's (accounts, credits, faults, retries) are small flat objects.
inline constexpr size_t kMaxObjectBodyBytes = 64 * 1024;
inline constexpr size_t kMaxJsonDepth = 16;

// The deepest nesting of objects and arrays in `text` (strings skipped), whether or not it is
// valid JSON.
size_t jsonNestingDepth(std::string_view text);

// The body as a JSON object: payload_too_large past kMaxObjectBodyBytes, json_too_deep past
// kMaxJsonDepth, invalid_json when it is not a JSON object.
Result<Json> parseObject(const std::string& body);

// A string member: nullopt when absent (or null), invalid_field_type when not a string,
// invalid_parameter when it contains U+0000 (PostgreSQL cannot store it). Parsed strings are
// always valid UTF-8 (parseObject refuses anything else).
Result<std::optional<std::string>> optionalString(const Json& obj, const char* name);
// A string member that must be present (missing_field).
Result<std::string> requiredString(const Json& obj, const char* name);
// A required string field that must be an external id (1-64 of [A-Za-z0-9_.:-]); `code` is the
// reason reported when it is not.
Result<std::string> requiredExternalId(const Json& obj, const char* name,
                                       std::string_view code = reason::kInvalidId);

}  // namespace sc::api

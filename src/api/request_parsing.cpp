#include "api/request_parsing.h"

#include <algorithm>

#include "api/errors.h"
#include "domain/ids.h"

namespace sc::api {

HttpResponse jsonResponse(unsigned status, const Json& body) {
  HttpResponse r;
  r.status = status;
  r.body = dump(body);
  return r;
}

Error bad(std::string_view code, std::string message, std::string field) {
  return Error::permanent(std::string(code), std::move(message), std::move(field));
}

size_t jsonNestingDepth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char ch : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (ch == '\\')
        escaped = true;
      else if (ch == '"')
        in_string = false;
      continue;
    }
    if (ch == '"') {
      in_string = true;
    } else if (ch == '{' || ch == '[') {
      deepest = std::max(deepest, ++depth);
    } else if ((ch == '}' || ch == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<Json> parseObject(const std::string& body) {
  // Checked before parsing, so a hostile body costs one linear scan, never a deep tree.
  if (body.size() > kMaxObjectBodyBytes)
    return Error::permanent(std::string(kPayloadTooLarge),
                            "request body exceeds " + std::to_string(kMaxObjectBodyBytes) +
                                " bytes (the limit for this endpoint)");
  if (jsonNestingDepth(body) > kMaxJsonDepth)
    return bad(kJsonTooDeep,
               "request body nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded()) return bad(reason::kInvalidJson, "request body is not valid JSON");
  if (!j.is_object()) return bad(reason::kInvalidJson, "request body must be a JSON object");
  return j;
}

Result<std::optional<std::string>> optionalString(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string())
    return bad(reason::kInvalidFieldType, std::string(name) + " must be a string", name);
  // nlohmann::json has already refused invalid UTF-8 (and lone surrogates) while parsing; U+0000 is
  // valid JSON but neither PostgreSQL's text nor its jsonb can store it.
  std::string s = it->get<std::string>();
  if (s.find('\0') != std::string::npos)
    return bad(kInvalidParameter, std::string(name) + " must not contain NUL (U+0000) characters",
               name);
  return std::optional<std::string>(std::move(s));
}

Result<std::string> requiredString(const Json& obj, const char* name) {
  auto v = optionalString(obj, name);
  if (!v) return v.error();
  if (!*v) return bad(reason::kMissingField, std::string(name) + " is required", name);
  return std::move(**v);
}

Result<std::string> requiredExternalId(const Json& obj, const char* name, std::string_view code) {
  auto v = requiredString(obj, name);
  if (!v) return v;
  if (!isValidExternalId(*v))
    return bad(code, std::string(name) + " must be 1-64 of [A-Za-z0-9_.:-]", name);
  return v;
}

}  // namespace sc::api

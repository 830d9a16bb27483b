#include "api/request_parsing.h"

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

Result<Json> parseObject(const std::string& body) {
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
  return std::optional<std::string>(it->get<std::string>());
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

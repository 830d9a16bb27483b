#pragma once
// The OpenAPI 3 description of the REST API (src/api/openapi.json, embedded at build time), served
// by GET /openapi.json. scripts/schemathesis checks real responses against it.
#include <string_view>

namespace sc::api {

std::string_view openApiDocument();

}  // namespace sc::api

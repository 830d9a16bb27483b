// libFuzzer target: the HTTP router's target parsing (path, percent-decoding, query string) and
// route matching, on the API's real route table, and the typed parsers the handlers apply to query
// values. Input: "<METHOD> <target>" (no space: a GET of the whole input).
// Properties: dispatch never throws and answers 200 (the handler ran), 400 exactly when an escape
// is malformed, 404, 405 with an Allow header naming the route's methods, or 500 exactly when the
// handler threw; every error body is the API's JSON error; path is the target before '?';
// percentDecode agrees with an independent reference and inverts percentEncode; a parsed query
// re-encodes to a query that parses the same; a matched path rebuilt from its decoded parameters
// dispatches to the same route with the same parameters; a query date, time or status that parses
// prints as text that parses to the same value.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "api/router.h"
#include "domain/hex.h"
#include "domain/status.h"
#include "domain/time.h"

namespace {

using sc::api::HttpRequest;
using sc::api::HttpResponse;

void check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "property failed: %s for input '%.*s'\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

// The routes of Api::registerRoutes (src/api/routes.cpp), with every optional one.
const std::vector<std::pair<std::string, std::string>> kRoutes = {
    {"POST", "/trades"},
    {"POST", "/accounts"},
    {"GET", "/accounts/{id}"},
    {"PATCH", "/accounts/{id}"},
    {"GET", "/accounts/{id}/holdings"},
    {"POST", "/ledger/holdings"},
    {"GET", "/ledger/totals"},
    {"POST", "/ledger/faults"},
    {"GET", "/settlements"},
    {"GET", "/settlements/{id}"},
    {"GET", "/settlements/{id}/events"},
    {"POST", "/settlements/{id}/retry"},
    {"GET", "/audit"},
    {"GET", "/rejections"},
    {"GET", "/health"},
    {"GET", "/ready"},
    {"GET", "/metrics"},
    {"GET", "/openapi.json"},
};

// What the last handler saw.
struct Seen {
  bool ran = false;
  std::string pattern;
  std::map<std::string, std::string> params, query;
};
Seen seen;

const sc::api::Router& router() {
  static const sc::api::Router r = [] {
    sc::api::Router r;
    for (const auto& [method, pattern] : kRoutes) {
      r.add(method, pattern, [p = pattern](const HttpRequest& req) -> HttpResponse {
        seen = {true, p, req.params, req.query};
        if (req.queryParam("throw")) throw std::runtime_error("handler failure");
        return HttpResponse{};
      });
    }
    return r;
  }();
  return r;
}

// Independent reference: decoding fails exactly when a '%' lacks two hex digits after it.
bool escapesWellFormed(std::string_view s) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (s.size() - i < 3 || !hex(s[i + 1]) || !hex(s[i + 2])) return false;
    i += 2;
  }
  return true;
}

std::string encodeQuery(const std::map<std::string, std::string>& q) {
  std::string out;
  for (const auto& [k, v] : q)
    out += (out.empty() ? "" : "&") + sc::percentEncode(k) + "=" + sc::percentEncode(v);
  return out;
}

void checkQueryValues(const std::map<std::string, std::string>& q, std::string_view input) {
  for (const char* name : {"start_date", "end_date"}) {
    auto it = q.find(name);
    if (it == q.end()) continue;
    if (auto d = sc::parseDate(it->second)) {
      auto again = sc::parseDate(sc::formatDate(*d));
      check(again && *again == *d, "parseDate(formatDate(d)) == d", input);
    }
  }
  for (const char* name : {"since", "until"}) {
    auto it = q.find(name);
    if (it == q.end()) continue;
    if (auto t = sc::parseTimestamp(it->second)) {
      auto again = sc::parseTimestamp(sc::formatTimestamp(*t));
      check(again && *again == *t, "parseTimestamp(formatTimestamp(t)) == t", input);
    }
  }
  if (auto it = q.find("status"); it != q.end()) {
    if (auto s = sc::parseStatus(it->second)) {
      auto again = sc::parseStatus(sc::toString(*s));
      check(again && *again == *s, "parseStatus(toString(s)) == s", input);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  HttpRequest req;
  const size_t space = input.find(' ');
  req.method = space == std::string_view::npos ? "GET" : std::string(input.substr(0, space));
  req.target = std::string(space == std::string_view::npos ? input : input.substr(space + 1));

  // The pure parsers on their own.
  const size_t q = req.target.find('?');
  const std::string_view query =
      q == std::string::npos ? std::string_view() : std::string_view(req.target).substr(q + 1);
  auto parsed = sc::api::parseQuery(query);
  check(parsed.has_value() == escapesWellFormed(query), "parseQuery fails exactly on a bad escape",
        input);
  if (parsed) {
    auto again = sc::api::parseQuery(encodeQuery(*parsed));
    check(again && *again == *parsed, "a parsed query re-encodes to one that parses the same",
          input);
  }
  for (bool plus : {false, true}) {
    auto decoded = sc::api::percentDecode(req.target, plus);
    check(decoded.has_value() == escapesWellFormed(req.target),
          "percentDecode fails exactly on a bad escape", input);
    if (decoded) {
      auto back = sc::api::percentDecode(sc::percentEncode(*decoded), plus);
      check(back && *back == *decoded, "percentDecode(percentEncode(s)) == s", input);
    }
  }

  seen = {};
  HttpResponse res;
  try {
    res = router().dispatch(req);
  } catch (...) {
    check(false, "dispatch never throws", input);
  }
  check(req.path == req.target.substr(0, q), "path is the target before '?'", input);
  check(res.status == 200 || res.status == 400 || res.status == 404 || res.status == 405 ||
            res.status == 500,
        "status is 200, 400, 404, 405 or 500", input);
  check((res.status == 200 || res.status == 500) == seen.ran,
        "the handler ran exactly when the answer is 200 or 500", input);
  if (res.status != 200) {
    auto body = nlohmann::json::parse(res.body, nullptr, false);
    check(body.is_object() && body.contains("error") && body["error"]["code"].is_string(),
          "an error answer has the JSON error body", input);
  }
  if (!parsed) {
    check(res.status == 400, "a malformed query is a 400", input);
    return 0;
  }
  if (res.status == 405) {
    bool allow = false;
    for (const auto& [name, value] : res.headers)
      allow = allow || (name == "Allow" && !value.empty());
    check(allow, "a 405 names the allowed methods", input);
  }
  if (!seen.ran) return 0;
  check(seen.query == *parsed, "the handler sees the parsed query", input);
  check((res.status == 500) == (parsed->count("throw") == 1), "500 exactly when the handler threw",
        input);
  checkQueryValues(seen.query, input);

  // Rebuild the path from the pattern and the decoded parameters: same route, same parameters.
  std::string rebuilt;
  size_t i = 0;
  const std::string& pattern = seen.pattern;
  while (i < pattern.size()) {
    size_t open = pattern.find('{', i);
    if (open == std::string::npos) {
      rebuilt += pattern.substr(i);
      break;
    }
    size_t close = pattern.find('}', open);
    rebuilt += pattern.substr(i, open - i);
    auto p = seen.params.find(pattern.substr(open + 1, close - open - 1));
    check(p != seen.params.end(), "every parameter of the route is filled", input);
    rebuilt += p->second.empty() ? std::string() : sc::percentEncode(p->second);
    i = close + 1;
  }
  const Seen first = seen;
  for (const auto& [name, value] : first.params)
    if (value.empty()) return 0;  // "/settlements//events": an empty segment is not one to rebuild
  HttpRequest again;
  again.method = req.method;
  again.target = rebuilt;
  seen = {};
  auto res2 = router().dispatch(again);
  check(res2.status == 200 && seen.pattern == first.pattern && seen.params == first.params,
        "a path rebuilt from its parameters matches the same route with the same parameters",
        input);
  return 0;
}

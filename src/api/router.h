#pragma once
// HTTP-agnostic request/response values and the router that maps method + path pattern to a
// handler. Patterns are literal segments and "{name}" parameters: "/settlements/{id}/events".
// The server (http_server.h) translates Beast messages to and from these; handlers never see Beast.
#include <spdlog/logger.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sc::api {

// The API's logger ("api").
std::shared_ptr<spdlog::logger> logger();

// ASCII lower case (HTTP header names are case-insensitive; HttpRequest keeps them lower case).
std::string lowerCase(std::string_view s);

struct HttpRequest {
  std::string method;                          // upper case: "GET", "POST", ...
  std::string target;                          // as received: "/settlements?limit=5"
  std::string path;                            // target without the query string (not decoded)
  std::map<std::string, std::string> query;    // percent-decoded; the last value wins
  std::map<std::string, std::string> params;   // path parameters, percent-decoded
  std::map<std::string, std::string> headers;  // names lower case
  std::string body;
  std::string remote_address;  // the peer's IP address (audit, logs)

  // Header value by (case-insensitive) name, empty when absent.
  std::string header(std::string_view name) const;
  const std::string* queryParam(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
  }
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

// Decodes %XX escapes (and '+' as space when `plus_is_space`); nullopt on a bad escape.
std::optional<std::string> percentDecode(std::string_view s, bool plus_is_space);
// Splits "a=1&b=x%20y" into decoded pairs; nullopt on a bad escape.
std::optional<std::map<std::string, std::string>> parseQuery(std::string_view query);

class Router {
 public:
  // Registers a route. Adding the same method and pattern twice replaces the handler.
  void add(const std::string& method, const std::string& pattern, Handler handler);

  // Finds the route (filling path, query and params), runs the handler and returns its response.
  // Unknown path → 404, known path with another method → 405 with Allow, bad escapes → 400, a
  // decoded query value or path parameter that is not UTF-8 or holds NUL → 400 naming it.
  // A handler that throws yields 500 (logged); the exception never escapes.
  HttpResponse dispatch(HttpRequest& request) const;

 private:
  struct Route {
    std::vector<std::string> segments;  // "{name}" marks a parameter
    std::map<std::string, Handler> by_method;
  };
  std::vector<Route> routes_;
};

}  // namespace sc::api

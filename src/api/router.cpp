#include "api/router.h"

#include <algorithm>
#include <cctype>
#include <exception>

#include "api/errors.h"
#include "common/log.h"
#include "domain/hex.h"
#include "domain/quote.h"

namespace sc::api {
namespace {

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool isParam(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

// Well-formed UTF-8 (RFC 3629: shortest form, no UTF-16 surrogates, at most U+10FFFF) without
// U+0000: what the API's JSON and PostgreSQL's text can carry.
bool isUtf8WithoutNul(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8SequenceLength(s, i);
    if (n == 0 || s[i] == '\0') return false;
    i += n;
  }
  return true;
}

HttpResponse notText(const std::string& name) {
  return errorResponse(kInvalidParameter, name + " must be UTF-8 text without NUL characters",
                       name);
}

}  // namespace

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("api");
  return l;
}

std::string lowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string HttpRequest::header(std::string_view name) const {
  auto it = headers.find(lowerCase(name));
  return it == headers.end() ? std::string() : it->second;
}

std::optional<std::string> percentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i <= query.size()) {
    size_t j = query.find('&', i);
    if (j == std::string_view::npos) j = query.size();
    std::string_view pair = query.substr(i, j - i);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      auto key = percentDecode(pair.substr(0, eq), true);
      auto value = percentDecode(
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
      if (!key || !value) return std::nullopt;
      out[*key] = std::move(*value);
    }
    i = j + 1;
  }
  return out;
}

void Router::add(const std::string& method, const std::string& pattern, Handler handler) {
  auto segments = splitPath(pattern);
  for (auto& r : routes_) {
    if (r.segments == segments) {
      r.by_method[method] = std::move(handler);
      return;
    }
  }
  Route r;
  r.segments = std::move(segments);
  r.by_method[method] = std::move(handler);
  routes_.push_back(std::move(r));
}

HttpResponse Router::dispatch(HttpRequest& request) const {
  const std::string& target = request.target;
  size_t q = target.find('?');
  request.path = target.substr(0, q);
  if (q != std::string::npos) {
    auto query = parseQuery(std::string_view(target).substr(q + 1));
    if (!query) return errorResponse(kInvalidParameter, "malformed percent-encoding in the query");
    for (const auto& [name, value] : *query)
      if (!isUtf8WithoutNul(value)) return notText(name);
    request.query = std::move(*query);
  }
  const auto segments = splitPath(request.path);

  // Literal segments win over parameters ("/settlements/x" vs "/settlements/{id}" never clash
  // today, but keep the rule deterministic): choose the match with the most literal segments.
  const Route* best = nullptr;
  int best_literals = -1;
  for (const auto& r : routes_) {
    if (r.segments.size() != segments.size()) continue;
    int literals = 0;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      if (isParam(r.segments[i])) continue;
      if (r.segments[i] != segments[i])
        match = false;
      else
        ++literals;
    }
    if (match && literals > best_literals) {
      best = &r;
      best_literals = literals;
    }
  }
  if (!best) return errorResponse(kNotFound, "no route for " + request.path);

  auto h = best->by_method.find(request.method);
  if (h == best->by_method.end()) {
    std::string allow;
    for (const auto& [m, _] : best->by_method) allow += (allow.empty() ? "" : ", ") + m;
    auto r = errorResponse(kMethodNotAllowed, request.method + " is not allowed on " +
                                                  request.path + " (allowed: " + allow + ")");
    r.headers.emplace_back("Allow", allow);
    return r;
  }

  for (size_t i = 0; i < segments.size(); ++i) {
    if (!isParam(best->segments[i])) continue;
    auto decoded = percentDecode(segments[i], false);
    if (!decoded) return errorResponse(kInvalidParameter, "malformed percent-encoding in the path");
    std::string name = best->segments[i].substr(1, best->segments[i].size() - 2);
    if (!isUtf8WithoutNul(*decoded)) return notText(name);
    request.params[std::move(name)] = std::move(*decoded);
  }

  try {
    return h->second(request);
  } catch (const std::exception& e) {
    logger()->error("handler for {} {} threw: {}", request.method, request.path, e.what());
  } catch (...) {
    logger()->error("handler for {} {} threw a non-standard exception", request.method,
                    request.path);
  }
  return errorResponse(kInternalError, "internal error");
}

}  // namespace sc::api

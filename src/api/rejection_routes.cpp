// GET /rejections (operator, auditor): the rejected trades of Kafka and POST /trades, newest first,
// filtered by source, reason, trade_id, since/until (RFC 3339); keyset pagination: next_cursor →
// cursor. And the recording of POST /trades' rejections (queued, see rejection_recorder.h).
#include <algorithm>
#include <charconv>

#include "api/errors.h"
#include "api/json_mapping.h"
#include "api/request_parsing.h"
#include "api/routes.h"
#include "domain/ids.h"
#include "domain/quote.h"

namespace sc::api {
namespace {

// The excerpt as JSON text: its bytes as UTF-8, except that a byte which is not part of valid
// UTF-8, and a control character other than tab, line feed and carriage return, is written as
// the four characters \xNN. (The exact bytes are in the table, and on the dead-letter topic.)
std::string excerptText(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = utf8SequenceLength(bytes, i);
    const auto c = static_cast<unsigned char>(bytes[i]);
    const bool control = n == 1 && (c < 0x20 || c == 0x7f) && c != '\t' && c != '\n' && c != '\r';
    if (n == 0 || control) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    } else {
      out.append(bytes.substr(i, n));
      i += n;
    }
  }
  return out;
}

Json textOrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

Json rejectionJson(const store::Rejection& x) {
  const bool kafka = x.source == store::RejectionSource::kKafka;
  Json j;
  j["id"] = x.id;
  j["received_at"] = formatTimestamp(x.received_at);
  j["source"] = std::string(store::toString(x.source));
  j["topic"] = kafka ? Json(x.topic) : Json(nullptr);
  j["partition"] = kafka ? Json(x.partition) : Json(nullptr);
  j["offset"] = kafka ? Json(x.offset) : Json(nullptr);
  j["remote_address"] = kafka ? Json(nullptr) : Json(x.remote_address);
  j["trade_id"] = textOrNull(x.trade_id);
  j["reason"] = x.reason;
  j["message"] = x.message;
  j["field"] = textOrNull(x.field);
  j["excerpt"] = excerptText(x.excerpt);
  j["excerpt_truncated"] = x.excerpt_truncated;
  j["original_size"] = x.original_size;
  return j;
}

// A decimal integer from 1 to max, nothing else.
std::optional<int64_t> positive(const std::string& v, int64_t max) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n < 1 || n > max)
    return std::nullopt;
  return n;
}

}  // namespace

void Api::recordRejection(const HttpRequest& r, const Error& why, const std::string& trade_id) {
  if (!rejection_recorder_) return;
  store::Rejection x = store::rejectionOf(r.body, why, trade_id);
  x.source = store::RejectionSource::kHttp;
  x.remote_address = r.remote_address;
  rejection_recorder_->submit(std::move(x));
}

HttpResponse Api::listRejections(const HttpRequest& r, Caller&) {
  store::RejectionQuery q;
  q.limit = kDefaultRejectionsLimit;
  if (auto* v = r.queryParam("source")) {
    q.source = store::parseRejectionSource(*v);
    if (!q.source)
      return errorResponse(kInvalidParameter, "source must be kafka or http", "source");
  }
  if (auto* v = r.queryParam("reason")) {
    if (std::find(reason::kAll.begin(), reason::kAll.end(), *v) == reason::kAll.end()) {
      std::string codes;
      for (auto code : reason::kAll) codes += (codes.empty() ? "" : ", ") + std::string(code);
      return errorResponse(
          kInvalidParameter,
          "reason " + quoteForMessage(*v, 64) + " is not a reason code (" + codes + ")", "reason");
    }
    q.reason = *v;
  }
  if (auto* v = r.queryParam("trade_id")) {
    if (!isValidExternalId(*v))
      return errorResponse(kInvalidParameter, "trade_id must be 1-64 of [A-Za-z0-9_.:-]",
                           "trade_id");
    q.trade_id = *v;
  }
  for (auto [name, out] : {std::pair{"since", &q.since}, std::pair{"until", &q.until}}) {
    if (auto* v = r.queryParam(name)) {
      auto t = parseTimestamp(*v);
      if (!t)
        return errorResponse(kInvalidParameter,
                             std::string(name) + " must be an RFC 3339 time (2024-11-17T16:30:00Z)",
                             name);
      *out = *t;
    }
  }
  if (q.since && q.until && *q.until < *q.since)
    return errorResponse(kInvalidParameter, "until is before since", "until");
  if (auto* v = r.queryParam("limit")) {
    auto n = positive(*v, kMaxRejectionsLimit);
    if (!n)
      return errorResponse(
          kInvalidParameter,
          "limit must be an integer from 1 to " + std::to_string(kMaxRejectionsLimit), "limit");
    q.limit = static_cast<int>(*n);
  }
  if (auto* v = r.queryParam("cursor")) {
    auto n = positive(*v, INT64_MAX);
    if (!n) return errorResponse(kInvalidParameter, "cursor must be a next_cursor value", "cursor");
    q.before_id = *n;
  }
  const int page = q.limit;
  q.limit = page + 1;  // one more tells whether a next page exists
  auto rows = deps_.rejections->list(q);
  if (!rows) return errorResponse(rows.error());
  const bool more = static_cast<int>(rows->size()) > page;
  if (more) rows->resize(static_cast<size_t>(page));
  Json items = Json::array();
  for (const auto& x : *rows) items.push_back(rejectionJson(x));
  Json out;
  out["items"] = std::move(items);
  out["next_cursor"] = more ? Json(std::to_string(rows->back().id)) : Json(nullptr);
  return jsonResponse(200, out);
}

}  // namespace sc::api

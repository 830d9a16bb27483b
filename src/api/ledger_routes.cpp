// Embedded-ledger operator routes: POST /ledger/holdings (funding, with an optional
// Idempotency-Key; not served in production), GET /ledger/totals, POST /ledger/faults (outage
// drills; routed only when ApiDeps::set_outage is given).
#include <openssl/evp.h>

#include <algorithm>

#include "api/errors.h"
#include "api/request_parsing.h"
#include "api/routes.h"
#include "common/log.h"

namespace sc::api {
namespace {

std::string sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xF]);
  }
  return out;
}

bool validIdempotencyKey(const std::string& key) {
  if (key.empty() || key.size() > 255) return false;
  return std::all_of(key.begin(), key.end(),
                     [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; });
}

}  // namespace

// With an Idempotency-Key: the key is claimed in the store before the ledger is asked; the same
// key and body credit once and get the first answer again; another body is 422; a second request
// while the first is still crediting is 409. A failed credit releases the key, unless the ledger
// may have credited all the same (ledger_timeout: outcome unknown): that answer is then kept for
// the key like a success, so a retry under it is answered, never credited a second time; the
// client checks the account's holdings and credits again under a new key if nothing arrived.
HttpResponse Api::postHolding(const HttpRequest& r, Caller& c) {
  if (r.headers.find("idempotency-key") == r.headers.end()) return credit(r, c);
  std::string key = r.header("idempotency-key");
  if (!validIdempotencyKey(key))
    return errorResponse(kInvalidParameter,
                         "Idempotency-Key must be 1-255 visible ASCII characters",
                         "Idempotency-Key");
  if (!deps_.credit_requests)
    return errorResponse(kInvalidParameter, "Idempotency-Key is not supported here",
                         "Idempotency-Key");
  // "The same body" is the same JSON value: spacing and key order do not matter.
  auto parsed = nlohmann::json::parse(r.body, nullptr, false);  // keys sorted
  std::string canonical = parsed.is_discarded() ? r.body : parsed.dump();
  auto claim = deps_.credit_requests->claim(key, sha256Hex(canonical));
  if (!claim) return errorResponse(claim.error());
  switch (claim->kind) {
    case CreditClaim::Kind::kOtherBody:
      return errorResponse(kIdempotencyKeyReused,
                           "Idempotency-Key " + key + " was used for another request body",
                           "Idempotency-Key");
    case CreditClaim::Kind::kPending:
      return errorResponse(kIdempotencyInProgress,
                           "a request with Idempotency-Key " + key + " is still being processed",
                           "Idempotency-Key");
    case CreditClaim::Kind::kDone: {
      HttpResponse replay;
      replay.status = static_cast<unsigned>(claim->status);
      replay.body = claim->response;
      replay.headers.emplace_back("Idempotent-Replayed", "true");
      return replay;
    }
    case CreditClaim::Kind::kClaimed:
      break;
  }
  bool outcome_unknown = false;
  HttpResponse res = credit(r, c, &outcome_unknown);
  Result<void> kept = res.status < 300 || outcome_unknown
                          ? deps_.credit_requests->complete(key, res.status, res.body)
                          : deps_.credit_requests->release(key);
  if (!kept)
    logger()->error("Idempotency-Key {}: cannot record the outcome: {}", log::escape(key),
                    kept.error().message);
  return res;
}

HttpResponse Api::credit(const HttpRequest& r, Caller& c, bool* outcome_unknown) {
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto id = requiredExternalId(*body, "account_id");
  if (!id) return errorResponse(id.error());
  c.audit_target = *id;
  auto asset = requiredExternalId(*body, "asset", kInvalidParameter);
  if (!asset) return errorResponse(asset.error());
  // amount: a decimal string, or a JSON integer (never a binary floating-point value). A credit
  // is a ledger operation, so its range is the ledger's, Numeric 10, not a trade's DECIMAL(18,8).
  auto it = body->find("amount");
  if (it == body->end() || it->is_null())
    return errorResponse(reason::kMissingField, "amount is required", "amount");
  std::string amount_text;
  if (it->is_string())
    amount_text = it->get<std::string>();
  else if (it->is_number_integer())
    amount_text = it->dump();
  else
    return errorResponse(reason::kInvalidFieldType, "amount must be a decimal string", "amount");
  auto amount = LedgerAmount::parse(amount_text);
  if (!amount) {
    Error e = amount.error();
    e.message = "credit of " + *asset + ": " + e.message;
    if (e.code == amount_reason::kAmountOutOfRange)
      e.message += " (the ledger's limit is " + LedgerAmount::max().toString() + ")";
    e.field = "amount";
    return errorResponse(e);
  }
  if (!amount->isPositive())
    return errorResponse(reason::kNonPositiveAmount, "amount must be > 0", "amount");
  auto sync = optionalString(*body, "synchronizer");
  if (!sync) return errorResponse(sync.error());
  std::string synchronizer;
  if (*sync) {
    synchronizer = **sync;
    auto known = deps_.ledger.synchronizers();
    if (std::find(known.begin(), known.end(), synchronizer) == known.end())
      return errorResponse(kInvalidParameter, "unknown synchronizer " + synchronizer,
                           "synchronizer");
  } else {
    auto known = deps_.ledger.synchronizers();
    if (!known.empty()) synchronizer = known.front();
  }

  auto h = account_service_.credit(*id, *asset, *amount, synchronizer);
  if (!h) {
    if (outcome_unknown) *outcome_unknown = h.error().code == ledger::kTimeout;
    return errorResponse(h.error());
  }
  Json out = holdingJson(*h);
  out["account_id"] = *id;
  return jsonResponse(201, out);
}

HttpResponse Api::getTotals(const HttpRequest&, Caller& c) {
  auto totals = deps_.ledger.totals();
  if (!totals) return errorResponse(totals.error());
  Json list = Json::array();
  for (const auto& t : *totals)
    list.push_back(Json{{"asset", t.asset},
                        {"total", t.total.toString(Decimal::kScale)},
                        {"locked", t.locked.toString(Decimal::kScale)}});
  return jsonResponse(200, Json{{"totals", std::move(list)}});
}

// The offset below which the ledger may be pruned without losing anything an active settlement
// may still need (workflow/ledger_pruner.h), and how far the ledger has been pruned. On Canton the
// participant's operator prunes through the participant's admin API, up to prune_up_to at most.
HttpResponse Api::getPruneWatermark(const HttpRequest&, Caller& c) {
  auto pruned = deps_.ledger.prunedUpTo();
  if (!pruned) return errorResponse(pruned.error());
  Json out{{"pruned_up_to", *pruned}};
  if (auto w = deps_.prune_watermark()) {
    out["prune_before"] = w->prune_before;
    out["prune_up_to"] = std::max<int64_t>(0, w->prune_before - 1);
    out["ledger_end"] = w->ledger_end;
    out["age_seconds"] = w->age_seconds;
    out["applied"] = w->applied;
  } else {
    // None yet: the pruner's first ledger end read is not a lease duration old.
    for (const char* k : {"prune_before", "prune_up_to", "ledger_end", "age_seconds"})
      out[k] = nullptr;
    out["applied"] = false;
  }
  return jsonResponse(200, out);
}

// Operator drill: {"synchronizer": "cash", "down": true} takes a synchronizer of the embedded
// ledger down (its commands fail as unavailable, retryably) until {"down": false}.
HttpResponse Api::postFaults(const HttpRequest& r, Caller& c) {
  auto body = parseObject(r.body);
  if (!body) return errorResponse(body.error());
  auto sync = requiredString(*body, "synchronizer");
  if (!sync) return errorResponse(sync.error());
  auto known = deps_.ledger.synchronizers();
  if (std::find(known.begin(), known.end(), *sync) == known.end())
    return errorResponse(kInvalidParameter, "unknown synchronizer " + *sync, "synchronizer");
  auto it = body->find("down");
  if (it == body->end() || it->is_null())
    return errorResponse(reason::kMissingField, "down is required", "down");
  if (!it->is_boolean())
    return errorResponse(reason::kInvalidFieldType, "down must be true or false", "down");
  bool down = it->get<bool>();
  c.audit_target = *sync;
  if (auto set = deps_.set_outage(*sync, down); !set) return errorResponse(set.error());
  logger()->warn("synchronizer {} set {} by {}", *sync, down ? "down" : "up",
                 log::escape(c.actor()));
  return jsonResponse(200, Json{{"synchronizer", *sync}, {"down", down}});
}

}  // namespace sc::api

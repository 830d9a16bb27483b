#include "ledger/daml_json.h"

#include <openssl/sha.h>

#include <array>
#include <cstdio>

#ifndef SC_DAML_PACKAGE_NAME
#error "SC_DAML_PACKAGE_NAME must be defined from daml/daml.yaml (src/ledger/CMakeLists.txt)"
#endif
#ifndef SC_DAML_PACKAGE_VERSION
#error "SC_DAML_PACKAGE_VERSION must be defined from daml/daml.yaml (src/ledger/CMakeLists.txt)"
#endif

namespace sc::ledger::daml {
namespace {

Error badValue(std::string message, std::string_view field) {
  return Error::permanent("invalid_daml_value", std::move(message), std::string(field));
}

struct TemplateName {
  Template t;
  const char* module;
  const char* entity;
};
constexpr TemplateName kNames[] = {
    {Template::kDeliveryVsPayment, "Settlement.DvP", "DeliveryVsPayment"},
    {Template::kSettledDeliveryVsPayment, "Settlement.DvP", "SettledDeliveryVsPayment"},
    {Template::kSecuritiesHolding, "Settlement.Holding", "SecuritiesHolding"},
    {Template::kLockedSecurities, "Settlement.Holding", "LockedSecurities"},
    {Template::kCashHolding, "Settlement.Holding", "CashHolding"},
    {Template::kLockedCash, "Settlement.Holding", "LockedCash"},
    {Template::kRoundFence, "Settlement.Fence", "RoundFence"},
};

const TemplateName& nameOf(Template t) {
  for (const auto& n : kNames) {
    if (n.t == t) return n;
  }
  return kNames[0];
}

// Field names per holding template: issuer-like party, asset, amount, counterparty.
struct HoldingFields {
  const char* issuer;
  const char* asset;
  const char* amount;
  const char* counterparty;  // nullptr for free holdings
};
HoldingFields fieldsOf(Template t) {
  switch (t) {
    case Template::kSecuritiesHolding:
      return {"issuer", "symbol", "quantity", nullptr};
    case Template::kLockedSecurities:
      return {"issuer", "symbol", "quantity", "buyer"};
    case Template::kCashHolding:
      return {"provider", "currency", "amount", nullptr};
    case Template::kLockedCash:
      return {"provider", "currency", "amount", "seller"};
    default:
      return {nullptr, nullptr, nullptr, nullptr};
  }
}

}  // namespace

const std::string& packageName() {
  static const std::string name = SC_DAML_PACKAGE_NAME;
  return name;
}

const std::string& packageId() {
  static const std::string id = [] {
    std::string seed = std::string(SC_DAML_PACKAGE_NAME) + "-" + SC_DAML_PACKAGE_VERSION;
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), digest.data());
    std::string hex;
    char buf[3];
    for (unsigned char c : digest) {
      std::snprintf(buf, sizeof buf, "%02x", c);
      hex += buf;
    }
    return hex;
  }();
  return id;
}

std::string moduleEntity(Template t) {
  const auto& n = nameOf(t);
  return std::string(n.module) + ":" + n.entity;
}
std::string templateRef(Template t) { return "#" + packageName() + ":" + moduleEntity(t); }
std::string templateIdWithPackageId(Template t) { return packageId() + ":" + moduleEntity(t); }

Result<Template> parseTemplateId(std::string_view id) {
  const size_t first = id.find(':');
  const size_t last = id.rfind(':');
  if (first == std::string_view::npos || first == last || first == 0) {
    return badValue("template id '" + std::string(id) +
                        "' must be '<package-id>:<Module>:<Entity>' or "
                        "'#<package-name>:<Module>:<Entity>'",
                    "templateId");
  }
  std::string_view pkg = id.substr(0, first);
  if (pkg.front() == '#' && pkg.substr(1) != packageName()) {
    return badValue("unknown package name '" + std::string(pkg.substr(1)) + "' (this ledger has '" +
                        packageName() + "')",
                    "templateId");
  }
  std::string_view module = id.substr(first + 1, last - first - 1);
  std::string_view entity = id.substr(last + 1);
  for (const auto& n : kNames) {
    if (module == n.module && entity == n.entity) return n.t;
  }
  return badValue("unknown template '" + std::string(module) + ":" + std::string(entity) + "'",
                  "templateId");
}

// ---- values ---------------------------------------------------------------------------------

Json numeric(const Numeric& value) {
  static_assert(Numeric::kScale == kNumericScale);
  return value.toDamlString();  // exactly kNumericScale fractional digits
}

Result<Numeric> parseNumeric(const Json& value, std::string_view field) {
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_number_integer()) {
    text = value.dump();
  } else {
    return badValue("Numeric '" + std::string(field) + "' must be a decimal string", field);
  }
  const size_t dot = text.find('.');
  if (dot != std::string::npos && text.size() - dot - 1 > static_cast<size_t>(kNumericScale)) {
    return badValue("Numeric '" + std::string(field) + "' = " + text + " has more than " +
                        std::to_string(kNumericScale) + " decimals",
                    field);
  }
  auto d = Numeric::parse(text);
  if (!d) {
    Error e = d.error();
    e.message = "Numeric '" + std::string(field) + "': " + e.message;
    e.field = std::string(field);
    return e;
  }
  return *d;
}

Json date(Date d) { return formatDate(d); }

Result<Date> parseDateValue(const Json& value, std::string_view field) {
  if (value.is_string()) {
    if (auto d = parseDate(value.get<std::string>())) return *d;
  }
  return badValue("Date '" + std::string(field) + "' must be a 'YYYY-MM-DD' string", field);
}

Result<std::string> textField(const Json& record, std::string_view field) {
  if (!record.is_object()) return badValue("record expected", field);
  auto it = record.find(std::string(field));
  if (it == record.end() || !it->is_string()) {
    return badValue("field '" + std::string(field) + "' is missing or not a string", field);
  }
  return it->get<std::string>();
}

Result<Numeric> numericField(const Json& record, std::string_view field) {
  if (!record.is_object()) return badValue("record expected", field);
  auto it = record.find(std::string(field));
  if (it == record.end()) return badValue("field '" + std::string(field) + "' is missing", field);
  return parseNumeric(*it, field);
}

Result<Decimal> tradeFigureField(const Json& record, std::string_view field) {
  auto n = numericField(record, field);
  if (!n) return n.error();
  auto d = n->toDecimal();
  if (!d) {
    return badValue("Numeric '" + std::string(field) + "' = " + n->toString() +
                        " is not a trade figure (DECIMAL(18,8)): " + d.error().message,
                    field);
  }
  return *d;
}

Json encode(const DvpArgs& a) {
  return Json{{"buyer", a.buyer},
              {"seller", a.seller},
              {"securities_issuer", a.securities_issuer},
              {"cash_provider", a.cash_provider},
              {"symbol", a.symbol},
              {"currency", a.currency},
              {"quantity", numeric(a.quantity)},
              {"cash_amount", numeric(a.cash_amount)},
              {"settlement_date", date(a.settlement_date)}};
}

Result<DvpArgs> decodeDvp(const Json& record) {
  DvpArgs a;
  for (auto [field, out] : {std::pair{"buyer", &a.buyer}, std::pair{"seller", &a.seller},
                            std::pair{"securities_issuer", &a.securities_issuer},
                            std::pair{"cash_provider", &a.cash_provider},
                            std::pair{"symbol", &a.symbol}, std::pair{"currency", &a.currency}}) {
    auto v = textField(record, field);
    if (!v) return v.error();
    *out = *v;
  }
  auto q = tradeFigureField(record, "quantity");
  if (!q) return q.error();
  a.quantity = *q;
  auto c = tradeFigureField(record, "cash_amount");
  if (!c) return c.error();
  a.cash_amount = *c;
  auto it = record.find("settlement_date");
  if (it == record.end()) return badValue("field 'settlement_date' is missing", "settlement_date");
  auto d = parseDateValue(*it, "settlement_date");
  if (!d) return d.error();
  a.settlement_date = *d;
  return a;
}

Json encode(const SettledDvpArgs& a) {
  Json j = encode(a.settled);
  j["securities_transfer_id"] = a.securities_transfer_id;
  j["cash_transfer_id"] = a.cash_transfer_id;
  j["settled_at"] = formatTimestamp(a.settled_at);
  return j;
}

Json encode(const FenceArgs& a) {
  return Json{{"cash_provider", a.cash_provider}, {"round_command_id", a.round_command_id}};
}

Result<FenceArgs> decodeFence(const Json& record) {
  FenceArgs a;
  for (auto [field, out] : {std::pair{"cash_provider", &a.cash_provider},
                            std::pair{"round_command_id", &a.round_command_id}}) {
    auto v = textField(record, field);
    if (!v) return v.error();
    *out = *v;
  }
  return a;
}

Json encode(const HoldingArgs& a) {
  const HoldingFields f = fieldsOf(a.kind);
  Json j{
      {f.issuer, a.issuer}, {"owner", a.owner}, {f.asset, a.asset}, {f.amount, numeric(a.amount)}};
  if (f.counterparty) {
    j[f.counterparty] = a.counterparty;
    j["dvp_ref"] = a.dvp_ref;
  }
  return j;
}

Result<HoldingArgs> decodeHolding(Template kind, const Json& record) {
  const HoldingFields f = fieldsOf(kind);
  if (!f.issuer) return badValue("not a holding template: " + moduleEntity(kind), "templateId");
  HoldingArgs a;
  a.kind = kind;
  auto issuer = textField(record, f.issuer);
  if (!issuer) return issuer.error();
  a.issuer = *issuer;
  auto owner = textField(record, "owner");
  if (!owner) return owner.error();
  a.owner = *owner;
  auto asset = textField(record, f.asset);
  if (!asset) return asset.error();
  a.asset = *asset;
  auto amount = numericField(record, f.amount);
  if (!amount) return amount.error();
  a.amount = *amount;
  if (f.counterparty) {
    auto cp = textField(record, f.counterparty);
    if (!cp) return cp.error();
    a.counterparty = *cp;
    auto ref = textField(record, "dvp_ref");
    if (!ref) return ref.error();
    a.dvp_ref = *ref;
  }
  return a;
}

std::vector<std::string> signatories(const HoldingArgs& a) { return {a.issuer, a.owner}; }
std::vector<std::string> signatories(const DvpArgs& a) {
  return {a.buyer, a.seller, a.securities_issuer, a.cash_provider};
}

// ---- JsCantonError --------------------------------------------------------------------------

int grpcCodeOf(Category c) {
  switch (c) {
    case Category::kTransientServerFailure:
      return 14;  // UNAVAILABLE
    case Category::kContentionOnSharedResources:
      return 10;  // ABORTED
    case Category::kDeadlineExceededRequestStateUnknown:
      return 4;  // DEADLINE_EXCEEDED
    case Category::kSystemInternalAssumptionViolated:
      return 13;  // INTERNAL
    case Category::kMaliciousOrFaultyBehaviour:
      return 2;  // UNKNOWN
    case Category::kAuthInterceptorInvalidAuthenticationCredentials:
      return 16;  // UNAUTHENTICATED
    case Category::kInsufficientPermission:
      return 7;  // PERMISSION_DENIED
    case Category::kInvalidIndependentOfSystemState:
      return 3;  // INVALID_ARGUMENT
    case Category::kInvalidGivenCurrentSystemStateOther:
      return 9;  // FAILED_PRECONDITION
    case Category::kInvalidGivenCurrentSystemStateResourceExists:
      return 6;  // ALREADY_EXISTS
    case Category::kInvalidGivenCurrentSystemStateResourceMissing:
      return 5;  // NOT_FOUND
    case Category::kInvalidGivenCurrentSystemStateSeekAfterEnd:
      return 11;  // OUT_OF_RANGE
    case Category::kBackgroundProcessDegradationWarning:
      return 13;
    case Category::kInternalUnsupportedOperation:
      return 12;  // UNIMPLEMENTED
  }
  return 2;
}

int httpStatusOfGrpc(int grpc_code) {
  switch (grpc_code) {
    case 3:
    case 9:
    case 11:
      return 400;
    case 16:
      return 401;
    case 7:
      return 403;
    case 5:
      return 404;
    case 6:
    case 10:
      return 409;
    case 8:
      return 429;
    case 12:
      return 501;
    case 14:
      return 503;
    case 4:
      return 504;
    default:
      return 500;
  }
}

bool retryable(Category c) {
  return c == Category::kTransientServerFailure || c == Category::kContentionOnSharedResources ||
         c == Category::kDeadlineExceededRequestStateUnknown;
}

int CantonError::httpStatus() const {
  return httpStatusOfGrpc(grpc_code ? *grpc_code : grpcCodeOf(category()));
}

CantonError makeError(std::string code, Category category, std::string cause) {
  CantonError e;
  e.code = std::move(code);
  e.cause = std::move(cause);
  e.error_category = static_cast<int>(category);
  e.grpc_code = grpcCodeOf(category);
  if (retryable(category)) e.retry_info = "1 second";
  // Rejections the participant decided are definite; unknown outcomes are not.
  e.definite_answer = category != Category::kDeadlineExceededRequestStateUnknown;
  return e;
}

Json render(const CantonError& e) {
  Json j{{"code", e.code}, {"cause", e.cause}, {"errorCategory", e.error_category}};
  j["context"] = Json::object();
  for (const auto& [k, v] : e.context) j["context"][k] = v;
  j["resources"] = Json::array();
  for (const auto& [k, v] : e.resources) j["resources"].push_back(Json::array({k, v}));
  if (e.grpc_code) j["grpcCodeValue"] = *e.grpc_code;
  if (e.retry_info) j["retryInfo"] = *e.retry_info;
  if (e.definite_answer) j["definiteAnswer"] = *e.definite_answer;
  if (!e.correlation_id.empty()) j["correlationId"] = e.correlation_id;
  return j;
}

bool contractInactive(const CantonError& e) {
  return e.code == kContractNotFound || e.code == kInterpreterContractNotActive ||
         e.code == kLocalVerdictInactiveContracts;
}

Result<CantonError> parseCantonError(const Json& body) {
  auto bad = [](std::string m) { return Error::permanent("invalid_canton_error", std::move(m)); };
  if (!body.is_object()) return bad("JsCantonError must be a JSON object");
  CantonError e;
  auto code = body.find("code");
  if (code == body.end() || !code->is_string()) return bad("JsCantonError without a 'code'");
  e.code = code->get<std::string>();
  if (auto c = body.find("cause"); c != body.end() && c->is_string())
    e.cause = c->get<std::string>();
  auto cat = body.find("errorCategory");
  if (cat == body.end() || !cat->is_number_integer()) {
    return bad("JsCantonError " + e.code + " without an integer 'errorCategory'");
  }
  e.error_category = cat->get<int>();
  if (auto g = body.find("grpcCodeValue"); g != body.end() && g->is_number_integer()) {
    e.grpc_code = g->get<int>();
  }
  if (auto r = body.find("retryInfo"); r != body.end() && r->is_string()) {
    e.retry_info = r->get<std::string>();
  }
  if (auto d = body.find("definiteAnswer"); d != body.end() && d->is_boolean()) {
    e.definite_answer = d->get<bool>();
  }
  if (auto c = body.find("correlationId"); c != body.end() && c->is_string()) {
    e.correlation_id = c->get<std::string>();
  }
  if (auto ctx = body.find("context"); ctx != body.end() && ctx->is_object()) {
    for (const auto& [k, v] : ctx->items())
      e.context[k] = v.is_string() ? v.get<std::string>() : v.dump();
  }
  if (auto res = body.find("resources"); res != body.end() && res->is_array()) {
    for (const auto& r : *res) {
      if (r.is_array() && r.size() == 2 && r[0].is_string() && r[1].is_string()) {
        e.resources.emplace_back(r[0].get<std::string>(), r[1].get<std::string>());
      }
    }
  }
  return e;
}

}  // namespace sc::ledger::daml

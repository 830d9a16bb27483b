#include "store/codec.h"

#include <charconv>
#include <chrono>
#include <cstdio>

#include "store/errors.h"

namespace sc::store::codec {
namespace {

bool num(std::string_view s, size_t pos, size_t len, int& out) {
  if (pos + len > s.size()) return false;
  auto r = std::from_chars(s.data() + pos, s.data() + pos + len, out);
  return r.ec == std::errc() && r.ptr == s.data() + pos + len;
}

Error corrupt(std::string_view column, std::string_view value) {
  return Error::permanent(
      std::string(store::kCorruptRow),
      "cannot read settlements." + std::string(column) + " value '" + std::string(value) + "'");
}

}  // namespace

std::string timestamp(Timestamp t) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss<microseconds> tod{t - day};
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d.%06lld+00", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(tod.hours().count()),
                int(tod.minutes().count()), int(tod.seconds().count()),
                static_cast<long long>(tod.subseconds().count()));
  return buf;
}

pg::Param timestamp(const std::optional<Timestamp>& t) {
  return t ? pg::Param{timestamp(*t)} : pg::Param{};
}

std::optional<Timestamp> parseTimestamp(std::string_view s) {
  // "2024-11-17 16:30:00[.ffffff]+00" (TimeZone=UTC; the offset may carry ":MM").
  int y, mo, d, h, mi, sec;
  if (s.size() < 19 || !num(s, 0, 4, y) || s[4] != '-' || !num(s, 5, 2, mo) || s[7] != '-' ||
      !num(s, 8, 2, d) || s[10] != ' ' || !num(s, 11, 2, h) || s[13] != ':' || !num(s, 14, 2, mi) ||
      s[16] != ':' || !num(s, 17, 2, sec))
    return std::nullopt;
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    for (; digits < 6; ++digits) micros *= 10;
  }
  int offset_minutes = 0;
  if (pos < s.size()) {
    char sign = s[pos];
    int oh = 0, om = 0;
    if ((sign != '+' && sign != '-') || !num(s, pos + 1, 2, oh)) return std::nullopt;
    if (pos + 3 < s.size() && (s[pos + 3] != ':' || !num(s, pos + 4, 2, om))) return std::nullopt;
    offset_minutes = (oh * 60 + om) * (sign == '-' ? -1 : 1);
  }
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!ymd.ok()) return std::nullopt;
  return Timestamp{sys_days{ymd}} + hours{h} + minutes{mi} + seconds{sec} + microseconds{micros} -
         minutes{offset_minutes};
}

std::string date(Date d) { return formatDate(d); }

// One list for both (string literals, so constant-initialised: other translation units build
// their SQL from these during static initialisation).
#define SC_SETTLEMENT_COLUMNS                                                                    \
  "id, trade_id, event_id, buyer_account_id, seller_account_id, symbol, quantity, price, "       \
  "amount, allow_partial, executed_at, settlement_date, status, dvp_contract_id, "               \
  "dvp_contract_template_id, seller_securities_ledger_ref, buyer_cash_ledger_ref, "              \
  "buyer_securities_ledger_ref, seller_cash_ledger_ref, dvp_atomic_transaction_id, "             \
  "locked_quantity, locked_amount, settled_quantity, settled_amount, initiated_at, "             \
  "confirmed_at, settled_at, failed_at, failure_reason, failure_code, failed_step, last_error, " \
  "retry_count, step_attempt, round, created_at, updated_at, next_attempt_at, deadline_at, "     \
  "ledger_offset_floor, step_offset_floor"

const std::string_view kSettlementColumns = SC_SETTLEMENT_COLUMNS;
const std::string_view kLeasedSettlementColumns = SC_SETTLEMENT_COLUMNS ", lease_token";
#undef SC_SETTLEMENT_COLUMNS

Result<Settlement> decodeSettlement(const pg::Rows& r, int i) {
  Settlement s;
  int col = 0;
  std::optional<Error> err;
  auto str = [&](std::string& out) { out = std::string(r.text(i, col++)); };
  auto dec = [&](Decimal& out, std::string_view name) {
    std::string_view v = r.text(i, col++);
    auto d = Decimal::parse(v);
    if (!d.ok()) {
      if (!err) err = corrupt(name, v);
    } else {
      out = *d;
    }
  };
  auto ts = [&](Timestamp& out, std::string_view name) {
    std::string_view v = r.text(i, col++);
    auto t = parseTimestamp(v);
    if (!t) {
      if (!err) err = corrupt(name, v);
    } else {
      out = *t;
    }
  };
  auto optTs = [&](std::optional<Timestamp>& out, std::string_view name) {
    if (r.isNull(i, col)) {
      ++col;
      out.reset();
      return;
    }
    Timestamp t{};
    ts(t, name);
    out = t;
  };
  auto integer = [&](int& out, std::string_view name) {
    std::string_view v = r.text(i, col++);
    if (!num(v, 0, v.size(), out) && !err) err = corrupt(name, v);
  };

  std::string_view id = r.text(i, col++);
  if (auto u = Uuid::parseCanonical(id))
    s.id = *u;
  else
    return corrupt("id", id);
  Trade& t = s.trade;
  str(t.trade_id);
  str(t.event_id);
  str(t.buyer_account_id);
  str(t.seller_account_id);
  str(t.symbol);
  dec(t.quantity, "quantity");
  if (r.isNull(i, col)) {
    ++col;
  } else {
    Decimal p;
    dec(p, "price");
    t.price = p;
  }
  dec(t.amount, "amount");
  t.allow_partial = r.text(i, col++) == "t";
  ts(t.executed_at, "executed_at");
  {
    std::string_view v = r.text(i, col++);
    if (auto d = parseDate(v))
      t.settlement_date = *d;
    else if (!err)
      err = corrupt("settlement_date", v);
  }
  {
    std::string_view v = r.text(i, col++);
    if (auto st = parseStatus(v))
      s.status = *st;
    else if (!err)
      err = corrupt("status", v);
  }
  str(s.dvp_contract_id);
  str(s.dvp_contract_template_id);
  str(s.seller_securities_ledger_ref);
  str(s.buyer_cash_ledger_ref);
  str(s.buyer_securities_ledger_ref);
  str(s.seller_cash_ledger_ref);
  str(s.dvp_atomic_transaction_id);
  dec(s.locked_quantity, "locked_quantity");
  dec(s.locked_amount, "locked_amount");
  dec(s.settled_quantity, "settled_quantity");
  dec(s.settled_amount, "settled_amount");
  optTs(s.initiated_at, "initiated_at");
  optTs(s.confirmed_at, "confirmed_at");
  optTs(s.settled_at, "settled_at");
  optTs(s.failed_at, "failed_at");
  str(s.failure_reason);
  str(s.failure_code);
  str(s.failed_step);
  str(s.last_error);
  integer(s.retry_count, "retry_count");
  integer(s.step_attempt, "step_attempt");
  integer(s.round, "round");
  ts(s.created_at, "created_at");
  ts(s.updated_at, "updated_at");
  ts(s.next_attempt_at, "next_attempt_at");
  ts(s.deadline_at, "deadline_at");
  // NULL: never leased (ledger_offset_floor); no step completed since migration 0009
  // (step_offset_floor). Both read as 0.
  auto offset = [&](int64_t& out, std::string_view name) {
    if (r.isNull(i, col)) {
      ++col;
      return;
    }
    std::string_view v = r.text(i, col++);
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if ((ec != std::errc{} || p != v.data() + v.size()) && !err) err = corrupt(name, v);
  };
  offset(s.ledger_offset_floor, "ledger_offset_floor");
  offset(s.step_offset_floor, "step_offset_floor");
  // lease_token only when selected (kLeasedSettlementColumns): plain reads leave it nil.
  if (col < r.columns() && !r.isNull(i, col)) {
    std::string_view v = r.text(i, col);
    if (auto u = Uuid::parseCanonical(v))
      s.lease_token = *u;
    else if (!err)
      err = corrupt("lease_token", v);
  }
  if (err) return *err;
  return s;
}

const std::string_view kEventColumns =
    "id, settlement_id, event_type, details::text, created_at, position";

Result<SettlementEvent> decodeEvent(const pg::Rows& r, int i) {
  SettlementEvent e;
  auto id = Uuid::parseCanonical(r.text(i, 0));
  auto sid = Uuid::parseCanonical(r.text(i, 1));
  auto st = parseStatus(r.text(i, 2));
  auto at = parseTimestamp(r.text(i, 4));
  int64_t pos = 0;
  std::string_view p = r.text(i, 5);
  bool pos_ok = std::from_chars(p.data(), p.data() + p.size(), pos).ec == std::errc();
  if (!id || !sid || !st || !at || !pos_ok)
    return Error::permanent(std::string(store::kCorruptRow),
                            "cannot read settlement_events row at position " + std::string(p));
  e.id = *id;
  e.settlement_id = *sid;
  e.status = *st;
  e.details = std::string(r.text(i, 3));
  e.created_at = *at;
  e.position = pos;
  return e;
}

}  // namespace sc::store::codec

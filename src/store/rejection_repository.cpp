// Rejections (migration 0006): the value helpers of store/rejection.h and PgRejectionRepository.
#include "store/rejection_repository.h"

#include <algorithm>
#include <charconv>

#include "domain/hex.h"
#include "domain/quote.h"
#include "store/codec.h"
#include "store/errors.h"

namespace sc::store {
namespace {

using pg::Param;
using pg::Params;

std::string toHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::optional<std::string> fromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hexValue(hex[i]), lo = hexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

template <class Int>
std::optional<Int> integer(std::string_view s) {
  Int v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

Error corrupt(std::string_view column, std::string_view value) {
  return Error::permanent(
      std::string(kCorruptRow),
      "cannot read rejections." + std::string(column) + " value " + quoteForMessage(value, 64));
}

constexpr std::string_view kColumns =
    "id, received_at, source, topic, \"partition\", \"offset\", remote_address, trade_id, reason,"
    " message, field, encode(excerpt, 'hex'), excerpt_truncated, original_size";

Result<Rejection> decodeRejection(const pg::Rows& r, int i) {
  Rejection x;
  auto id = integer<int64_t>(r.text(i, 0));
  if (!id) return corrupt("id", r.text(i, 0));
  x.id = *id;
  auto at = codec::parseTimestamp(r.text(i, 1));
  if (!at) return corrupt("received_at", r.text(i, 1));
  x.received_at = *at;
  auto source = parseRejectionSource(r.text(i, 2));
  if (!source) return corrupt("source", r.text(i, 2));
  x.source = *source;
  x.topic = std::string(r.text(i, 3));
  if (!r.isNull(i, 4)) {
    auto p = integer<int32_t>(r.text(i, 4));
    if (!p) return corrupt("partition", r.text(i, 4));
    x.partition = *p;
  }
  if (!r.isNull(i, 5)) {
    auto o = integer<int64_t>(r.text(i, 5));
    if (!o) return corrupt("offset", r.text(i, 5));
    x.offset = *o;
  }
  x.remote_address = std::string(r.text(i, 6));
  x.trade_id = std::string(r.text(i, 7));
  x.reason = std::string(r.text(i, 8));
  x.message = std::string(r.text(i, 9));
  x.field = std::string(r.text(i, 10));
  auto excerpt = fromHex(r.text(i, 11));
  if (!excerpt) return corrupt("excerpt", "(hex)");
  x.excerpt = std::move(*excerpt);
  x.excerpt_truncated = r.text(i, 12) == "t";
  auto size = integer<int64_t>(r.text(i, 13));
  if (!size) return corrupt("original_size", r.text(i, 13));
  x.original_size = *size;
  return x;
}

// One statement for the whole batch. Kafka rows go in coordinate order, so two instances
// recording overlapping batches (a partition moving mid-batch) wait on each other rather than
// deadlock; a message already recorded is skipped.
const std::string kInsert = R"sql(
INSERT INTO rejections (received_at, source, topic, "partition", "offset", remote_address,
                        trade_id, reason, message, field, excerpt, excerpt_truncated,
                        original_size)
SELECT COALESCE(r.received_at, clock_timestamp()), r.source, r.topic, r.part, r.off,
       r.remote_address, r.trade_id, r.reason, r.message, r.field, decode(r.excerpt, 'hex'),
       r.truncated, r.original_size
FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::integer[], $5::bigint[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::boolean[],
            $13::bigint[])
  WITH ORDINALITY AS r(received_at, source, topic, part, off, remote_address, trade_id, reason,
                       message, field, excerpt, truncated, original_size, ord)
ORDER BY r.topic, r.part, r.off, r.ord
ON CONFLICT (topic, "partition", "offset") DO NOTHING
)sql";

// Retention, one bounded batch per statement (each its own transaction).
const std::string kPruneOld = R"sql(
DELETE FROM rejections WHERE id IN (
  SELECT id FROM rejections
  WHERE received_at < clock_timestamp() - $1::bigint * interval '1 microsecond'
  ORDER BY received_at LIMIT $2::bigint)
)sql";
// Ids are assigned in order, so no more than max_rows rows have an id above max(id) - max_rows
// (fewer when the sequence has gaps, e.g. from redelivered Kafka messages that were skipped).
const std::string kPruneOverflow = R"sql(
DELETE FROM rejections WHERE id IN (
  SELECT id FROM rejections
  WHERE id <= (SELECT max(id) FROM rejections) - $1::bigint
  ORDER BY id LIMIT $2::bigint)
)sql";

}  // namespace

std::string_view toString(RejectionSource s) {
  return s == RejectionSource::kKafka ? "kafka" : "http";
}

std::optional<RejectionSource> parseRejectionSource(std::string_view s) {
  if (s == "kafka") return RejectionSource::kKafka;
  if (s == "http") return RejectionSource::kHttp;
  return std::nullopt;
}

std::string storableText(std::string_view s, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8SequenceLength(s, i);
    std::string_view piece = n == 0 || s[i] == '\0' ? kReplacement : s.substr(i, n);
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += n == 0 ? 1 : n;
  }
  return out;
}

Rejection rejectionOf(std::string_view received, const Error& why, std::string_view trade_id) {
  Rejection r;
  r.excerpt = std::string(received.substr(0, kRejectionExcerptBytes));
  r.excerpt_truncated = received.size() > kRejectionExcerptBytes;
  r.original_size = static_cast<int64_t>(received.size());
  r.trade_id = storableText(trade_id, kRejectionShortTextBytes);
  r.reason = storableText(why.code, kRejectionShortTextBytes);
  r.message = storableText(why.message, kRejectionMessageBytes);
  r.field = storableText(why.field, kRejectionShortTextBytes);
  return r;
}

Result<int64_t> PgRejectionRepository::record(std::span<const Rejection> rejections) {
  if (rejections.empty()) return int64_t{0};
  std::vector<Param> at, source, topic, part, off, remote, trade, reason, message, field, excerpt,
      truncated, size;
  auto text = [](const std::string& s, size_t max) { return Param{storableText(s, max)}; };
  auto optional = [](const std::string& s, size_t max) {
    return s.empty() ? Param{} : Param{storableText(s, max)};
  };
  for (const Rejection& r : rejections) {
    const bool kafka = r.source == RejectionSource::kKafka;
    at.push_back(r.received_at == Timestamp{} ? Param{} : Param{codec::timestamp(r.received_at)});
    source.emplace_back(std::string(toString(r.source)));
    topic.push_back(kafka ? text(r.topic, kRejectionShortTextBytes) : Param{});
    part.push_back(kafka ? Param{std::to_string(r.partition)} : Param{});
    off.push_back(kafka ? Param{std::to_string(r.offset)} : Param{});
    remote.push_back(kafka ? Param{} : text(r.remote_address, kRejectionShortTextBytes));
    trade.push_back(optional(r.trade_id, kRejectionShortTextBytes));
    reason.push_back(text(r.reason, kRejectionShortTextBytes));
    message.push_back(text(r.message, kRejectionMessageBytes));
    field.push_back(optional(r.field, kRejectionShortTextBytes));
    std::string_view bytes = std::string_view(r.excerpt).substr(0, kRejectionExcerptBytes);
    excerpt.emplace_back(toHex(bytes));
    const int64_t original = std::max<int64_t>(r.original_size, static_cast<int64_t>(bytes.size()));
    truncated.emplace_back(original > static_cast<int64_t>(bytes.size()) ? "t" : "f");
    size.emplace_back(std::to_string(original));
  }
  Params p;
  for (auto* a : {&at, &source, &topic, &part, &off, &remote, &trade, &reason, &message, &field,
                  &excerpt, &truncated, &size})
    p.emplace_back(pg::arrayLiteral(*a));
  // A deadlock or serialization failure rolled the statement back: running it again is safe.
  for (int attempt = 1;; ++attempt) {
    auto lease = pool_.lease();
    if (!lease.ok()) return lease.error();
    auto rows = (*lease)->exec(kInsert, p);
    if (rows.ok()) return rows->affected();
    if (attempt >= 3 || rows.error().code != kDatabaseConflict) return rows.error();
  }
}

Result<std::vector<Rejection>> PgRejectionRepository::list(const RejectionQuery& q) {
  std::string where;
  Params params;
  auto add = [&](const std::string& condition_before_param, Param value, const char* cast) {
    params.push_back(std::move(value));
    where += where.empty() ? " WHERE " : " AND ";
    where += condition_before_param + " $" + std::to_string(params.size()) + cast;
  };
  if (q.source) add("source =", std::string(toString(*q.source)), "");
  if (q.reason) add("reason =", *q.reason, "");
  if (q.trade_id) add("trade_id =", *q.trade_id, "");
  if (q.since) add("received_at >=", codec::timestamp(*q.since), "::timestamptz");
  if (q.until) add("received_at <", codec::timestamp(*q.until), "::timestamptz");
  if (q.before_id) add("id <", std::to_string(*q.before_id), "::bigint");
  params.emplace_back(std::to_string(std::max(q.limit, 0)));
  std::string sql = "SELECT " + std::string(kColumns) + " FROM rejections" + where +
                    " ORDER BY id DESC LIMIT $" + std::to_string(params.size()) + "::bigint";
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  auto rows = (*lease)->exec(sql, params);
  if (!rows.ok()) return rows.error();
  std::vector<Rejection> out;
  out.reserve(rows->size());
  for (int i = 0; i < rows->size(); ++i) {
    auto r = decodeRejection(*rows, i);
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

Result<int64_t> PgRejectionRepository::prune(Duration max_age, int64_t max_rows) {
  auto lease = pool_.lease();
  if (!lease.ok()) return lease.error();
  int64_t deleted = 0;
  const std::string batch = std::to_string(kPruneBatch);
  for (const auto& [sql, bound] :
       {std::pair{&kPruneOld, std::to_string(max_age.count())},
        std::pair{&kPruneOverflow, std::to_string(std::max<int64_t>(max_rows, 0))}}) {
    for (int i = 0; i < kPruneBatches; ++i) {
      auto rows = (*lease)->exec(*sql, {bound, batch});
      if (!rows.ok()) return rows.error();
      deleted += rows->affected();
      if (rows->affected() < kPruneBatch) break;
    }
  }
  return deleted;
}

}  // namespace sc::store

#pragma once
// Rejected trades, the operator's view (issue 13, GET /rejections): every trade refused over
// Kafka or POST /trades with its reason, where it came from and a bounded excerpt of its bytes.
// The dead-letter topic stays the downstream contract. The interface is here (repository.h
// style); PgRejectionRepository (rejection_repository.h) implements it on the `rejections` table
// (migration 0006), tests/support/memory_rejections.h in memory.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/result.h"
#include "domain/time.h"

namespace sc::store {

enum class RejectionSource { kKafka, kHttp };
std::string_view toString(RejectionSource s);  // "kafka", "http"
std::optional<RejectionSource> parseRejectionSource(std::string_view s);

// The excerpt keeps at most this many bytes of what was received.
inline constexpr size_t kRejectionExcerptBytes = 1024;
// Text columns are cut to these many bytes (at a character boundary).
inline constexpr size_t kRejectionMessageBytes = 1024;
inline constexpr size_t kRejectionShortTextBytes = 256;  // reason, field, topic, remote address

struct Rejection {
  int64_t id = 0;           // assigned by the store
  Timestamp received_at{};  // assigned by the store (its clock) when left at the epoch
  RejectionSource source = RejectionSource::kHttp;
  // Kafka: the message's coordinates, unique (a redelivered message is recorded once).
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string remote_address;  // HTTP: the client's IP address
  std::string trade_id;        // when it could be read; empty otherwise
  std::string reason;          // the reason code (domain/trade.h reason::)
  std::string message;
  std::string field;    // empty when the rule names none
  std::string excerpt;  // the first kRejectionExcerptBytes bytes received, as they were (bytes)
  bool excerpt_truncated = false;
  int64_t original_size = 0;  // bytes received
};

// A rejection of `received` for `why`: its excerpt (first kRejectionExcerptBytes bytes), size and
// truncation, the reason, message and field as storable text (valid UTF-8 without NUL, cut to
// their bounds). The caller sets the source and its coordinates.
Rejection rejectionOf(std::string_view received, const Error& why, std::string_view trade_id);

// `s` as storable text: each byte that is not part of valid UTF-8, and NUL, becomes U+FFFD; cut to
// at most max_bytes at a character boundary.
std::string storableText(std::string_view s, size_t max_bytes);

struct RejectionQuery {
  std::optional<RejectionSource> source;
  std::optional<std::string> reason;
  std::optional<std::string> trade_id;
  std::optional<Timestamp> since, until;  // on received_at: since inclusive, until exclusive
  std::optional<int64_t> before_id;       // keyset cursor: rejections with id < before_id
  int limit = 100;
};

class RejectionRepository {
 public:
  virtual ~RejectionRepository() = default;
  // Records the rejections in one transaction; a Kafka rejection whose topic, partition and offset
  // are already recorded is skipped. Returns how many rows were added.
  virtual Result<int64_t> record(std::span<const Rejection> rejections) = 0;
  // Newest first (id descending), at most q.limit.
  virtual Result<std::vector<Rejection>> list(const RejectionQuery& q) = 0;
  // Retention: deletes the rejections received more than max_age ago (by the store's clock) and
  // all but at most the newest max_rows, in bounded batches. Returns how many were deleted.
  virtual Result<int64_t> prune(Duration max_age, int64_t max_rows) = 0;
};

}  // namespace sc::store

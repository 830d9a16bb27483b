#pragma once
// A thin RAII layer over libpq (C API). Errors on the data path are sc::Error values: connection
// loss, serialization failures and deadlocks are retryable, everything else is permanent.
// A Connection is used by one thread at a time (the pool hands it out); statements are prepared
// once per connection and cached by their SQL text.
// No call waits forever: when the server sends nothing for ioTimeout() while a reply is due, the
// call fails with retryable "database_unavailable" and the connection counts as broken (the pool
// drops it). The server's statement_timeout (DB_STATEMENT_TIMEOUT_MS, set through the conninfo)
// ends slow statements first; the I/O timeout catches a server or network that stopped answering
// (with TCP keepalives and tcp_user_timeout in the conninfo for a dead peer).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain/result.h"

struct pg_conn;
struct pg_result;

namespace sc::store::pg {

// Wait for a reply this much longer than the session's statement_timeout, so the server's own
// timeout (a clean, per-statement error) normally fires first; without one, kDefaultIoTimeout.
inline constexpr std::chrono::milliseconds kIoTimeoutGrace{5000};
inline constexpr std::chrono::milliseconds kDefaultIoTimeout{35000};

// SQLSTATEs the store treats specially.
inline constexpr std::string_view kUniqueViolation = "23505";
inline constexpr std::string_view kForeignKeyViolation = "23503";
inline constexpr std::string_view kSerializationFailure = "40001";
inline constexpr std::string_view kDeadlockDetected = "40P01";
inline constexpr std::string_view kQueryCanceled = "57014";  // statement_timeout, cancel

// Text-format parameters; nullopt is SQL NULL.
using Param = std::optional<std::string>;
using Params = std::vector<Param>;

// Owns one PGresult. Values are text; rows/columns are 0-based.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* r);
  Rows(Rows&& o) noexcept;
  Rows& operator=(Rows&& o) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  ~Rows();

  int size() const;  // rows returned
  int columns() const;
  int64_t affected() const;  // rows affected by INSERT/UPDATE/DELETE (PQcmdTuples)
  bool isNull(int row, int col) const;
  std::string_view text(int row, int col) const;  // "" when NULL
  std::optional<std::string> optText(int row, int col) const;

 private:
  pg_result* r_ = nullptr;
};

struct Statement {
  std::string_view sql;  // must outlive the call; prepared and cached per connection
  Params params;
};

// SQLSTATE → sc::Error (retryable or not); `what` says what was being done.
Error errorFromState(std::string_view sqlstate, std::string_view message, std::string_view what);

class Connection {
 public:
  // Connects with a libpq conninfo (keyword=value or URI) and sets TimeZone=UTC and ISO dates;
  // the I/O timeout follows the session's statement_timeout (see kIoTimeoutGrace).
  // Failure → retryable "database_unavailable" naming host:port.
  static Result<std::unique_ptr<Connection>> connect(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One statement with parameters, prepared once per connection (extended protocol).
  Result<Rows> exec(std::string_view sql, const Params& params = {});
  // Runs the statements in pipeline mode in one round trip; unless the caller opened a
  // transaction with BEGIN, they form one implicit transaction (all or nothing). Returns one Rows
  // per statement, or the first error (the rest are then not applied).
  Result<std::vector<Rows>> pipeline(std::span<const Statement> statements);
  // Simple-protocol script (several statements, no parameters): migrations, BEGIN/COMMIT.
  Result<void> script(std::string_view sql);

  // True once the connection is lost or a reply timed out; the pool then discards it.
  bool broken() const;
  // How long a call waits for the server to send anything; zero = no limit (migrations, whose
  // statements may legitimately run long, lift it for their duration).
  std::chrono::milliseconds ioTimeout() const { return io_timeout_; }
  void setIoTimeout(std::chrono::milliseconds t) { io_timeout_ = t; }
  // True when a transaction block is open or failed (the pool rolls it back on return).
  bool inTransaction() const;
  const std::string& endpoint() const { return endpoint_; }  // "host:port"

 private:
  Connection(pg_conn* c, std::string endpoint) : c_(c), endpoint_(std::move(endpoint)) {}
  Error lastError(std::string_view what, pg_result* r) const;
  // Returns the prepared-statement name for sql; `fresh` when it still has to be prepared.
  const std::string& statementName(std::string_view sql, bool& fresh);
  // Simple protocol, bounded by the I/O timeout: the last statement's rows, or the first error.
  Result<Rows> simple(std::string_view sql, std::string_view what);
  // Waits until PQgetResult will not block; false when nothing came within the I/O timeout
  // (the connection is then marked broken).
  bool awaitResult();
  // Marks the connection unusable after a timed-out wait and describes it.
  Error timedOut(std::string_view what);

  pg_conn* c_;
  bool broken_ = false;
  std::chrono::milliseconds io_timeout_ = kDefaultIoTimeout;
  std::string endpoint_;
  std::unordered_map<std::string, std::string> prepared_;  // sql → name ("" while unconfirmed)
  int next_statement_ = 0;
};

// Array literal for text params: {"a","b",NULL} with quoting.
std::string arrayLiteral(std::span<const Param> items);
std::string arrayLiteral(std::span<const std::string> items);

}  // namespace sc::store::pg

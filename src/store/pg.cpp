#include "store/pg.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>

#include "store/errors.h"

namespace sc::store::pg {

// ---- Rows ------------------------------------------------------------------------------------

Rows::Rows(pg_result* r) : r_(r) {}
Rows::Rows(Rows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
Rows& Rows::operator=(Rows&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}
Rows::~Rows() {
  if (r_) PQclear(r_);
}
int Rows::size() const { return r_ ? PQntuples(r_) : 0; }
int Rows::columns() const { return r_ ? PQnfields(r_) : 0; }
int64_t Rows::affected() const {
  if (!r_) return 0;
  const char* s = PQcmdTuples(r_);
  return (s && *s) ? std::strtoll(s, nullptr, 10) : 0;
}
bool Rows::isNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string_view Rows::text(int row, int col) const {
  return std::string_view(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}
std::optional<std::string> Rows::optText(int row, int col) const {
  if (isNull(row, col)) return std::nullopt;
  return std::string(text(row, col));
}

// ---- errors ----------------------------------------------------------------------------------

Error errorFromState(std::string_view state, std::string_view message, std::string_view what) {
  std::string msg = std::string(what) + ": " + std::string(message);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (!state.empty()) msg += " (SQLSTATE " + std::string(state) + ")";
  if (state.empty() || state.starts_with("08") || state.starts_with("53") || state == "57P01" ||
      state == "57P02" || state == "57P03")
    return Error::transient(std::string(store::kDatabaseUnavailable), msg);
  // lock_not_available: a lock_timeout ran out (partition maintenance); nothing was done.
  if (state == kSerializationFailure || state == kDeadlockDetected || state == "55P03")
    return Error::transient(std::string(store::kDatabaseConflict), msg);
  // statement_timeout (or a cancel): the statement was rolled back; worth trying again later.
  if (state == kQueryCanceled) return Error::transient(std::string(store::kDatabaseTimeout), msg);
  return Error::permanent(std::string(store::kDatabaseError), msg);
}

Error Connection::lastError(std::string_view what, pg_result* r) const {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* msg = r ? PQresultErrorMessage(r) : nullptr;
  if (!msg || !*msg) msg = PQerrorMessage(c_);
  if (PQstatus(c_) != CONNECTION_OK)
    return Error::transient(std::string(store::kDatabaseUnavailable),
                            std::string(what) + ": connection to PostgreSQL at " + endpoint_ +
                                " lost: " + (msg ? msg : ""));
  const char* constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : nullptr;
  if (constraint && std::string_view(constraint) == "settlements_history_dropped_final")
    return Error::permanent(std::string(store::kHistoryDropped),
                            std::string(what) +
                                ": the settlement's audit history was dropped by "
                                "EVENTS_RETENTION_MONTHS; it stays final and cannot be retried");
  return errorFromState(state ? state : "", msg ? msg : "", what);
}

// ---- Connection ------------------------------------------------------------------------------

namespace {
void ignoreNotice(void*, const char*) {}
}  // namespace

Result<std::unique_ptr<Connection>> Connection::connect(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  std::string endpoint;
  if (c) {
    const char* h = PQhost(c);
    const char* p = PQport(c);
    endpoint = std::string(h && *h ? h : "localhost") + ":" + (p && *p ? p : "5432");
  }
  if (!c || PQstatus(c) != CONNECTION_OK) {
    std::string why = c ? PQerrorMessage(c) : "out of memory";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    if (c) PQfinish(c);
    return Error::transient(std::string(store::kDatabaseUnavailable),
                            "cannot connect to PostgreSQL at " + endpoint + ": " + why);
  }
  PQsetNoticeProcessor(c, ignoreNotice, nullptr);
  std::unique_ptr<Connection> conn(new Connection(c, endpoint));
  // One round trip: the session settings, and the statement_timeout (in ms) that the conninfo's
  // options may have set, which the I/O timeout follows.
  auto st = conn->simple(
      "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD';"
      " SELECT setting FROM pg_settings WHERE name = 'statement_timeout'",
      "setting up the session");
  if (!st.ok()) return st.error();
  int64_t ms = 0;
  if (st->size() == 1) {
    std::string_view v = st->text(0, 0);
    std::from_chars(v.data(), v.data() + v.size(), ms);
  }
  if (ms > 0) conn->io_timeout_ = std::chrono::milliseconds(ms) + kIoTimeoutGrace;
  return conn;
}

Connection::~Connection() {
  // After a timed-out wait the socket may not take even the goodbye message: never block on it.
  if (broken_) PQsetnonblocking(c_, 1);
  PQfinish(c_);
}

bool Connection::broken() const { return broken_ || PQstatus(c_) != CONNECTION_OK; }

Error Connection::timedOut(std::string_view what) {
  broken_ = true;
  PQsetnonblocking(c_, 1);
  return Error::transient(std::string(store::kDatabaseUnavailable),
                          std::string(what) + ": no reply from PostgreSQL at " + endpoint_ +
                              " within " + std::to_string(io_timeout_.count()) +
                              " ms; connection dropped");
}

bool Connection::awaitResult() {
  while (PQisBusy(c_)) {
    // A lost connection: PQgetResult reports it without waiting.
    if (PQstatus(c_) != CONNECTION_OK) return true;
    pollfd p{PQsocket(c_), POLLIN, 0};
    int n = poll(&p, 1, io_timeout_.count() > 0 ? static_cast<int>(io_timeout_.count()) : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return true;
    }
    if (n == 0) return false;
    if (PQconsumeInput(c_) != 1) return true;
  }
  return true;
}

Result<Rows> Connection::simple(std::string_view sql, std::string_view what) {
  if (broken_) return timedOut(what);
  if (PQstatus(c_) != CONNECTION_OK) return lastError(what, nullptr);
  if (PQsendQuery(c_, std::string(sql).c_str()) != 1) return lastError(what, nullptr);
  // PQsendQuery flushes in blocking mode; what remains is reading the replies.
  Rows last;
  std::optional<Error> first_error;
  for (;;) {
    if (!awaitResult()) return timedOut(what);
    PGresult* r = PQgetResult(c_);
    if (!r) break;
    auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
      if (!first_error) first_error = lastError(what, r);
      PQclear(r);
      continue;
    }
    last = Rows(r);
  }
  if (first_error) return *first_error;
  if (PQstatus(c_) != CONNECTION_OK) return lastError(what, nullptr);
  return last;
}

bool Connection::inTransaction() const {
  auto s = PQtransactionStatus(c_);
  return s != PQTRANS_IDLE;
}

Result<void> Connection::script(std::string_view sql) {
  auto r = simple(sql, "query failed");
  if (!r.ok()) return r.error();
  return {};
}

Result<Rows> Connection::exec(std::string_view sql, const Params& params) {
  Statement s{sql, params};
  auto r = pipeline(std::span<const Statement>(&s, 1));
  if (!r.ok()) return r.error();
  return std::move(r->front());
}

const std::string& Connection::statementName(std::string_view sql, bool& fresh) {
  auto [it, inserted] = prepared_.try_emplace(std::string(sql));
  fresh = inserted;
  if (inserted) it->second = "sc_" + std::to_string(next_statement_++);
  return it->second;
}

Result<std::vector<Rows>> Connection::pipeline(std::span<const Statement> statements) {
  if (broken_) return timedOut("pipeline");
  if (PQstatus(c_) != CONNECTION_OK) return lastError("pipeline", nullptr);
  if (PQenterPipelineMode(c_) != 1) return lastError("entering pipeline mode", nullptr);
  // Non-blocking while sending so a large pipeline cannot deadlock against the server's replies.
  PQsetnonblocking(c_, 1);

  struct Sent {
    bool prepare;
    std::string sql;  // for prepares: to confirm or forget
  };
  std::vector<Sent> sent;
  sent.reserve(statements.size() + 4);
  std::vector<const char*> values;
  bool send_failed = false;

  for (const Statement& s : statements) {
    bool fresh = false;
    const std::string& name = statementName(s.sql, fresh);
    if (fresh) {
      if (PQsendPrepare(c_, name.c_str(), std::string(s.sql).c_str(),
                        static_cast<int>(s.params.size()), nullptr) != 1) {
        prepared_.erase(std::string(s.sql));
        send_failed = true;
        break;
      }
      sent.push_back({true, std::string(s.sql)});
    }
    values.clear();
    for (const Param& p : s.params) values.push_back(p ? p->c_str() : nullptr);
    if (PQsendQueryPrepared(c_, name.c_str(), static_cast<int>(values.size()), values.data(),
                            nullptr, nullptr, 0) != 1) {
      send_failed = true;
      break;
    }
    sent.push_back({false, {}});
    if (PQflush(c_) == 1) PQconsumeInput(c_);  // keep the server's replies flowing
  }
  if (PQpipelineSync(c_) != 1) send_failed = true;
  // Flush everything, reading replies meanwhile.
  const int wait_ms = io_timeout_.count() > 0 ? static_cast<int>(io_timeout_.count()) : -1;
  for (int f = PQflush(c_); f == 1; f = PQflush(c_)) {
    pollfd p{PQsocket(c_), POLLIN | POLLOUT, 0};
    int n = poll(&p, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (n == 0) return timedOut("sending pipeline");
    if ((p.revents & POLLIN) && PQconsumeInput(c_) != 1) break;
  }
  PQsetnonblocking(c_, 0);

  std::vector<Rows> out;
  out.reserve(statements.size());
  std::optional<Error> first_error;
  for (const Sent& s : sent) {
    if (!awaitResult()) return timedOut("pipeline");
    PGresult* r = PQgetResult(c_);
    if (!r) {
      if (!first_error) first_error = lastError("pipeline", nullptr);
      break;
    }
    auto st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok && st != PGRES_PIPELINE_ABORTED && !first_error)
      first_error = lastError("query failed", r);
    if (!ok && st == PGRES_PIPELINE_ABORTED && !first_error)
      first_error = Error::permanent(std::string(store::kDatabaseError), "pipeline aborted");
    if (s.prepare) {
      if (!ok) prepared_.erase(s.sql);
      PQclear(r);
    } else {
      out.emplace_back(r);
    }
    // Each command's results end with a NULL.
    for (;;) {
      if (!awaitResult()) return timedOut("pipeline");
      PGresult* extra = PQgetResult(c_);
      if (!extra) break;
      PQclear(extra);
    }
  }
  // The sync marker.
  for (int nulls = 0; nulls < 3 && PQstatus(c_) == CONNECTION_OK;) {
    if (!awaitResult()) return timedOut("pipeline");
    PGresult* r = PQgetResult(c_);
    if (!r) {
      ++nulls;
      continue;
    }
    auto st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_PIPELINE_SYNC) break;
  }
  if (PQexitPipelineMode(c_) != 1 && !first_error)
    first_error = lastError("leaving pipeline mode", nullptr);
  if (send_failed && !first_error) first_error = lastError("sending pipeline", nullptr);
  if (PQstatus(c_) != CONNECTION_OK) {
    // Statements prepared on a lost connection are gone with it.
    if (!first_error || !first_error->retryable) first_error = lastError("pipeline", nullptr);
  }
  if (first_error) return *first_error;
  return out;
}

// ---- arrays ----------------------------------------------------------------------------------

namespace {
void appendQuoted(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  out.push_back('"');
}
}  // namespace

std::string arrayLiteral(std::span<const Param> items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    if (items[i])
      appendQuoted(out, *items[i]);
    else
      out += "NULL";
  }
  out.push_back('}');
  return out;
}

std::string arrayLiteral(std::span<const std::string> items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    appendQuoted(out, items[i]);
  }
  out.push_back('}');
  return out;
}

}  // namespace sc::store::pg

// End-to-end (see http_api_e2e_test.cpp): the built binary's configuration errors (exit status 2
// naming the variable, 1 for an unreachable database) and graceful shutdown under SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e/http_api_e2e.h"

namespace sc::test {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// True when nothing accepts connections on 127.0.0.1:port any more.
bool connectRefused(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  return rc != 0 && err == ECONNREFUSED;
}

// Polls `done` until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);  // polling interval; the deadline bounds the wait
  }
  return true;
}

// A libpq connection to the test database, for what HTTP cannot do (holding a table lock).
class Sql {
 public:
  explicit Sql(const std::string& conninfo) : c_(PQconnectdb(conninfo.c_str())) {}
  ~Sql() { PQfinish(c_); }
  bool ok() const { return PQstatus(c_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(c_); }
  // Runs `sql`; returns the first column of the first row ("" when none), or nullopt on error.
  std::optional<std::string> exec(const std::string& sql) {
    PGresult* r = PQexec(c_, sql.c_str());
    auto st = PQresultStatus(r);
    std::optional<std::string> out;
    if (st == PGRES_COMMAND_OK)
      out = "";
    else if (st == PGRES_TUPLES_OK)
      out = PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
    else
      last_error_ = PQresultErrorMessage(r);
    PQclear(r);
    return out;
  }
  const std::string& lastError() const { return last_error_; }

 private:
  PGconn* c_;
  std::string last_error_;
};

// --- configuration -------------------------------------------------------------------------------

struct Exit {
  int status = -1;  // exit code, 128+signal, or -1 on timeout
  std::string err;  // stderr
};

// Runs the built binary with the parent's environment plus `env`, stdout discarded, and waits
// (bounded) for it to exit.
Exit runBinary(const std::map<std::string, std::string>& env,
               std::chrono::milliseconds timeout = 20s) {
  ChildEnvironment child_env(env);
  int err[2];
  if (pipe(err) != 0) return {};
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  pid_t pid = spawnServiceBinary(child_env, null, err[1], {err[0], err[1]});
  if (null >= 0) close(null);
  close(err[1]);
  Exit out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{err[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    char buf[1024];
    ssize_t n = read(err[0], buf, sizeof buf);
    if (n <= 0) break;  // EOF: the child exited
    out.err.append(buf, static_cast<size_t>(n));
  }
  close(err[0]);
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == 0) {
    // Stderr closed (or timed out) but not yet reaped: give it the rest of the deadline.
    while (std::chrono::steady_clock::now() < deadline && waitpid(pid, &status, WNOHANG) == 0)
      std::this_thread::sleep_for(10ms);
    if (waitpid(pid, &status, WNOHANG) == 0 && kill(pid, 0) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return out;  // status -1: it did not exit in time
    }
  }
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

struct BadConfig {
  std::string name, value;
};

void PrintTo(const BadConfig& c, std::ostream* os) { *os << c.name << "=" << c.value; }

class BadConfigurationE2e : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigurationE2e, ServiceExitsWithStatus2NamingTheVariable) {
  const BadConfig& c = GetParam();
  auto ledger = makeTempDir("e2e-config-ledger");
  Exit e = runBinary(
      {{c.name, c.value}, {"LEDGER_DATA_DIR", ledger}, {"PORT", "0"}, {"HTTP_BIND", "127.0.0.1"}});
  EXPECT_EQ(e.status, 2) << e.err;
  EXPECT_NE(e.err.find("configuration error"), std::string::npos) << e.err;
  EXPECT_NE(e.err.find(c.name), std::string::npos) << e.err;
}

INSTANTIATE_TEST_SUITE_P(OneBadValue, BadConfigurationE2e,
                         ::testing::Values(BadConfig{"PORT", "abc"}, BadConfig{"PORT", "70000"},
                                           BadConfig{"SETTLEMENT_BATCH_SIZE", "0"},
                                           BadConfig{"SETTLEMENT_TIMEOUT_SECONDS", "-1"},
                                           BadConfig{"HTTP_MAX_BODY_BYTES", "12kb"},
                                           BadConfig{"LOG_LEVEL", "CHATTY"},
                                           BadConfig{"DB_NAME", ""},
                                           BadConfig{"LEDGER_MODE", "daml"},
                                           BadConfig{"CANTON_LEDGER_API_TLS", "yes"}),
                         [](const ::testing::TestParamInfo<BadConfig>& info) {
                           return info.param.name + "_" + std::to_string(info.index);
                         });

TEST(ServiceStartupE2e, UnreachableDatabaseExitsWithStatus1NamingTheSettings) {
  auto ledger = makeTempDir("e2e-config-ledger");
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  Exit e = runBinary({{"DB_HOST", "127.0.0.1"},
                      {"DB_PORT", "1"},
                      {"LEDGER_DATA_DIR", ledger},
                      {"PORT", "0"},
                      {"HTTP_BIND", "127.0.0.1"}});
  EXPECT_EQ(e.status, 1) << e.err;
  EXPECT_NE(e.err.find("DB_HOST"), std::string::npos) << e.err;
}

// --- graceful shutdown ---------------------------------------------------------------------------

TEST_F(HttpApiE2e, SigtermAnswersTheRequestInFlightThenExitsZero) {
  createTradingAccounts();
  // Hold the accounts table so that the next POST /trades blocks inside the service.
  Sql sql(db_.conninfo());
  ASSERT_TRUE(sql.ok()) << sql.error();
  ASSERT_TRUE(sql.exec("BEGIN; LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")) << sql.lastError();

  auto in_flight = std::async(std::launch::async, [port = port()] {
    HttpClient c(port, "127.0.0.1", 30s);
    return c.post("/trades", E2eTest::validTrade("trd_in_flight").dump());
  });
  // Wait until the service is blocked on the lock, i.e. the request is in flight.
  ASSERT_TRUE(eventually([&] {
    auto n = sql.exec(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
        "application_name = 'settlement-coordinator' AND wait_event_type = 'Lock'");
    return n && *n != "0";
  })) << "the POST never reached the database";

  ASSERT_EQ(::kill(service().pid(), SIGTERM), 0);
  // Draining: new connections are refused while the request in flight is still unanswered.
  ASSERT_TRUE(eventually([&] { return connectRefused(port()); }))
      << "the service kept accepting after SIGTERM";
  EXPECT_EQ(in_flight.wait_for(0s), std::future_status::timeout)
      << "answered before the lock was released?";

  ASSERT_TRUE(sql.exec("COMMIT")) << sql.lastError();
  HttpResult r = in_flight.get();
  EXPECT_EQ(r.status, 201u) << r.body;
  EXPECT_EQ(r.json().value("trade_id", ""), "trd_in_flight");
  EXPECT_FALSE(r.keep_alive) << "a response during shutdown should close the connection";
  std::string id = r.json().value("settlement_id", "");

  EXPECT_EQ(service().terminate(), 0) << service().logTail();
  restartService();
  auto g = get("/settlements/" + id);
  EXPECT_EQ(g.status, 200u) << g.body;
  EXPECT_EQ(g.json().value("trade_id", ""), "trd_in_flight");
}

TEST_F(HttpApiE2e, SigtermUnderTradeLoadTruncatesNoResponseAndKeepsEveryAcceptedTrade) {
  createTradingAccounts();
  constexpr int kThreads = 4;
  constexpr int kMaxPerThread = 3000;  // a bound, should SIGTERM somehow never take effect

  struct Outcome {
    std::map<std::string, std::string> accepted;  // trade_id → settlement_id
    std::vector<std::string> problems;            // wrong status or truncated response
    std::vector<std::string> unanswered;          // refused, or closed before any response byte
  };
  std::vector<Outcome> outcomes(kThreads);
  std::atomic<int> answered{0};
  std::mutex mu;
  std::condition_variable cv;

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(port(), "127.0.0.1", 30s);
      Outcome& o = outcomes[t];
      for (int i = 0; i < kMaxPerThread; ++i) {
        std::string trade_id = "trd_load_" + std::to_string(t) + "_" + std::to_string(i);
        try {
          auto r = c.post("/trades", E2eTest::validTrade(trade_id).dump());
          if (r.status == 201 && r.json().value("trade_id", "") == trade_id)
            o.accepted[trade_id] = r.json().value("settlement_id", "");
          else
            o.problems.push_back(trade_id + ": " + std::to_string(r.status) + " " + r.body);
          answered++;
          { std::lock_guard g(mu); }
          cv.notify_all();
        } catch (const std::exception& e) {
          std::string what = e.what();
          if (what.find("partial") != std::string::npos)
            o.problems.push_back(trade_id + ": truncated: " + what);
          else
            o.unanswered.push_back(trade_id);
          if (connectRefused(port())) break;  // the service has closed its listener
          c.close();
        }
      }
    });
  }
  bool loaded;
  {
    std::unique_lock l(mu);
    loaded = cv.wait_for(l, 30s, [&] { return answered.load() >= 100; });
  }
  int status = service().terminate();  // SIGTERM while the threads keep posting
  for (auto& th : threads) th.join();
  ASSERT_TRUE(loaded) << "the load never got going";
  EXPECT_EQ(status, 0) << service().logTail();

  std::map<std::string, std::string> accepted;
  std::vector<std::string> unanswered;
  for (auto& o : outcomes) {
    for (auto& p : o.problems) ADD_FAILURE() << p;
    accepted.insert(o.accepted.begin(), o.accepted.end());
    unanswered.insert(unanswered.end(), o.unanswered.begin(), o.unanswered.end());
  }
  RecordProperty("accepted", static_cast<int>(accepted.size()));
  RecordProperty("unanswered", static_cast<int>(unanswered.size()));
  EXPECT_GE(accepted.size(), 100u);
  EXPECT_LE(unanswered.size(), static_cast<size_t>(kThreads * 2))
      << "a thread keeps trying only until it sees the listener gone";

  // Every accepted trade is in the database, as the same settlement.
  restartService();
  EXPECT_GE(settlementTotal(), static_cast<int64_t>(accepted.size()));
  for (auto& [trade_id, settlement_id] : accepted) {
    auto g = get("/settlements/" + settlement_id);
    ASSERT_EQ(g.status, 200u) << trade_id << ": " << g.body;
    EXPECT_EQ(g.json().value("trade_id", ""), trade_id);
  }
  // An unanswered POST is safe to send again (trade_id makes it idempotent): it is either
  // recorded now (201) or was recorded before the connection closed (200), never half-done.
  for (auto& trade_id : unanswered) {
    auto r = postTrade(validTrade(trade_id));
    EXPECT_TRUE(r.status == 201 || r.status == 200)
        << trade_id << ": " << r.status << " " << r.body;
  }
}

}  // namespace
}  // namespace sc::test

// End-to-end (issue 8, acceptance 2): the BUILT service started on a data folder whose journal
// has one byte flipped in its middle exits non-zero with a message naming the journal file and
// the byte offset, and leaves the file byte-for-byte unchanged.
//
// Needs DB_HOST, DB_PORT, DB_USER (./scripts/test, or `./scripts/pg start`): FAILS without them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "ledger/engine/journal.h"
#include "support/http_client.h"
#include "support/pg_test_db.h"
#include "support/service_process.h"

extern char** environ;

namespace sc::test {
namespace {

using Json = nlohmann::json;
using namespace std::chrono_literals;

std::string readBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Runs the service binary to its exit (bounded): exit status and what it wrote to stderr.
struct Exit {
  int status = -1;  // exit code; -1 if it had to be killed or died of a signal
  std::string stderr_text;
};
Exit runToExit(const std::map<std::string, std::string>& overrides, const std::string& log_path) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    if (auto eq = kv.find('='); eq != std::string::npos)
      merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : overrides) merged[k] = v;
  std::vector<std::string> kvs;
  for (const auto& [k, v] : merged) kvs.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : kvs) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string bin = serviceBinaryPath();
  pid_t pid = fork();
  if (pid == 0) {
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log >= 0) {
      dup2(log, STDERR_FILENO);
      dup2(log, STDOUT_FILENO);
    }
    char* argv[] = {bin.data(), nullptr};
    execve(bin.c_str(), argv, envp.data());
    _exit(127);
  }
  Exit out;
  auto deadline = std::chrono::steady_clock::now() + 60s;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      out.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {  // it kept running: a failure
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(10ms);  // paces the non-blocking wait; bounded by the deadline
  }
  out.stderr_text = readBytes(log_path);
  return out;
}

TEST(JournalCorruptionE2e, TheServiceRefusesToStartOnAJournalWithAByteFlippedInItsMiddle) {
  sc::test::PgTestDb db;
  ASSERT_TRUE(db.create()) << db.error();
  const std::string ledger_dir = makeTempDir("journal-e2e");
  std::map<std::string, std::string> env;
  for (const char* name : {"DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD"}) {
    if (const char* v = std::getenv(name); v && *v) env[name] = v;
  }
  env["DB_NAME"] = db.name();
  env["LEDGER_DATA_DIR"] = ledger_dir;
  env["KAFKA_BOOTSTRAP_SERVERS"] = "";

  // A journal with some history: accounts (parties) and credits.
  {
    ServiceProcess service(env);
    ASSERT_TRUE(service.start()) << service.error();
    HttpClient client(service.port());
    for (int i = 0; i < 6; ++i) {
      const std::string id = "acct" + std::to_string(i);
      auto a = client.post("/accounts", Json{{"account_id", id}}.dump(),
                           {{"Content-Type", "application/json"}});
      ASSERT_EQ(a.status, 201u) << a.body;
      auto c = client.post(
          "/ledger/holdings",
          Json{{"account_id", id}, {"asset", "USDC"}, {"amount", "100.5"}, {"synchronizer", "cash"}}
              .dump(),
          {{"Content-Type", "application/json"}});
      ASSERT_EQ(c.status, 201u) << c.body;
    }
    ASSERT_EQ(service.terminate(), 0) << service.logTail();
  }

  const std::string path = ledger_dir + "/journal.log";
  std::string bytes = readBytes(path);
  ASSERT_GT(bytes.size(), 1000u);
  // The record holding the middle byte; it must not be the last one (that would be a torn tail).
  const uint64_t middle = bytes.size() / 2;
  uint64_t record_start = 0, last_start = 0;
  auto scanned = ledger::journal::scanFile(path, [&](ledger::journal::Record&&, uint64_t at) {
    if (at <= middle) record_start = at;
    last_start = at;
    return Result<void>{};
  });
  ASSERT_TRUE(scanned);
  ASSERT_EQ(scanned->tail, ledger::journal::ScanReport::Tail::kClean);
  ASSERT_LT(record_start, last_start);
  bytes[middle] ^= 0x20;
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  auto exit = runToExit(env, makeTempDir("journal-e2e-log") + "/service.log");
  EXPECT_NE(exit.status, 0) << exit.stderr_text;
  EXPECT_NE(exit.status, -1) << "the service did not exit by itself:\n" << exit.stderr_text;
  EXPECT_NE(exit.stderr_text.find("journal " + path + " is corrupt at byte offset " +
                                  std::to_string(record_start) + ":"),
            std::string::npos)
      << exit.stderr_text;
  EXPECT_EQ(exit.stderr_text.find("listening on"), std::string::npos) << exit.stderr_text;
  EXPECT_EQ(readBytes(path), bytes) << "the journal was changed";
}

}  // namespace
}  // namespace sc::test

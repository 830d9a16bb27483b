#pragma once
// Starts the built settlement-coordinator binary as a child process for end-to-end tests: its own
// database (PgTestDb), its own ledger folder, PORT=0, and waits for the "listening on" line to
// learn the port. Stop it gracefully (SIGTERM) or kill -9 it and start it again.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace sc::test {

// Path of the built service binary (compiled in by CMake).
std::string serviceBinaryPath();
// Path of the built ledger sandbox binary (sc-ledger-sandbox), which ServiceProcess also runs.
std::string sandboxBinaryPath();
// A fresh empty folder under the build tree's temp area.
std::string makeTempDir(const std::string& prefix);

// The service's environment for a test: the caller's PostgreSQL server (DB_HOST, DB_PORT, DB_USER,
// DB_PASSWORD when set), database `db_name`, ledger folder `ledger_dir`, quick idle polling
// (SETTLEMENT_POLL_MILLIS=20), and no Kafka (never a broker from the caller's environment).
std::map<std::string, std::string> testServiceEnv(const std::string& db_name,
                                                  const std::string& ledger_dir);

// The parent's environment with `overrides` added (or replacing), for execve.
class ChildEnvironment {
 public:
  explicit ChildEnvironment(const std::map<std::string, std::string>& overrides);
  ChildEnvironment(const ChildEnvironment&) = delete;
  ChildEnvironment& operator=(const ChildEnvironment&) = delete;
  char** envp() { return envp_.data(); }

 private:
  std::vector<std::string> entries_;
  std::vector<char*> envp_;  // into entries_, null-terminated
};

// Forks and runs the built service binary (or `binary`) with `env`. In the child, stdout is
// `out_fd` and stderr `err_fd` (each left inherited when -1) and the fds in `close_in_child` are
// closed. Returns the child's pid, or -1 when fork fails (errno set).
pid_t spawnServiceBinary(ChildEnvironment& env, int out_fd, int err_fd,
                         std::initializer_list<int> close_in_child,
                         std::string binary = serviceBinaryPath());

class ServiceProcess {
 public:
  // env: variables added to (or replacing) the parent's environment. PORT defaults to 0 and
  // LOG_LEVEL to WARN unless given.
  // binary: the executable (default: the service); it must print "listening on http://host:port"
  // (or https://).
  explicit ServiceProcess(std::map<std::string, std::string> env,
                          std::string binary = serviceBinaryPath());
  ~ServiceProcess();  // kills the child if still running
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  // Starts and waits (up to `timeout`) for the listening line. False with error() otherwise.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  const std::string& logPath() const { return log_path_; }
  std::string logTail(size_t bytes = 4000) const;

  // SIGTERM and wait; returns the exit status (or -1 on timeout, after which it is killed).
  int terminate(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGKILL and reap.
  void kill9();
  // Starting again keeps the same env (same database and ledger folder).
  std::map<std::string, std::string>& env() { return env_; }

 private:
  std::map<std::string, std::string> env_;
  std::string binary_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string error_;
  std::string log_path_;
  int starts_ = 0;
};

}  // namespace sc::test

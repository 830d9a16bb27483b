#include "service_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

extern char** environ;

namespace sc::test {

namespace {
// The built binary, unless the environment names a copy (a long test can run copies taken before
// a rebuild started replacing the build's files).
std::string binaryPath(const char* variable, const char* built) {
  const char* v = std::getenv(variable);
  return v && *v ? v : built;
}
}  // namespace

std::string serviceBinaryPath() { return binaryPath("SC_SERVICE_BINARY", SC_SERVICE_BINARY); }
std::string sandboxBinaryPath() { return binaryPath("SC_SANDBOX_BINARY", SC_SANDBOX_BINARY); }

std::string makeTempDir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  auto dir = std::filesystem::path(SC_TEST_TMP_DIR) /
             (prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
              std::to_string(rd() % 100000));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::map<std::string, std::string> testServiceEnv(const std::string& db_name,
                                                  const std::string& ledger_dir) {
  std::map<std::string, std::string> env;
  for (const char* name : {"DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD"})
    if (const char* v = std::getenv(name); v && *v) env[name] = v;
  env["DB_NAME"] = db_name;
  env["LEDGER_DATA_DIR"] = ledger_dir;
  env["SETTLEMENT_POLL_MILLIS"] = "20";
  env["KAFKA_BOOTSTRAP_SERVERS"] = "";
  return env;
}

ChildEnvironment::ChildEnvironment(const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::string> merged;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (auto& [k, v] : overrides) merged[k] = v;
  for (auto& [k, v] : merged) entries_.push_back(k + "=" + v);
  for (auto& s : entries_) envp_.push_back(s.data());
  envp_.push_back(nullptr);
}

pid_t spawnServiceBinary(ChildEnvironment& env, int out_fd, int err_fd,
                         std::initializer_list<int> close_in_child, std::string bin) {
  std::vector<int> to_close(close_in_child);
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
  if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
  for (int fd : to_close) close(fd);
  char* argv[] = {bin.data(), nullptr};
  execve(bin.c_str(), argv, env.envp());
  _exit(127);
}

ServiceProcess::ServiceProcess(std::map<std::string, std::string> env, std::string binary)
    : env_(std::move(env)), binary_(std::move(binary)) {
  if (!env_.count("PORT")) env_["PORT"] = "0";
  if (!env_.count("LOG_LEVEL")) env_["LOG_LEVEL"] = "WARN";
  if (!env_.count("HTTP_BIND")) env_["HTTP_BIND"] = "127.0.0.1";
}

ServiceProcess::~ServiceProcess() {
  if (pid_ > 0) kill9();
}

bool ServiceProcess::start(std::chrono::milliseconds timeout) {
  if (pid_ > 0) {
    error_ = "already running";
    return false;
  }
  if (log_path_.empty()) log_path_ = makeTempDir("service-log") + "/service.log";
  int out[2];
  if (pipe(out) != 0) {
    error_ = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  ChildEnvironment child_env(env_);
  int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_t pid = spawnServiceBinary(child_env, out[1], log, {out[0], out[1]}, binary_);
  if (log >= 0) close(log);
  if (pid < 0) {
    error_ = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  close(out[1]);
  pid_ = pid;
  ++starts_;
  std::string buffer;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool found = false;
  while (!found) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    pollfd p{out[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(std::min<long>(left, 500)));
    if (r < 0 && errno == EINTR) continue;
    if (r > 0) {
      char chunk[512];
      ssize_t n = read(out[0], chunk, sizeof chunk);
      if (n <= 0) break;  // child closed stdout: it exited
      buffer.append(chunk, static_cast<size_t>(n));
      auto pos = buffer.find("listening on http");  // http:// or https://
      auto scheme_end = pos == std::string::npos ? pos : buffer.find("://", pos);
      if (scheme_end != std::string::npos) {
        auto colon = buffer.find(':', scheme_end + 3);
        auto end =
            colon == std::string::npos ? colon : buffer.find_first_not_of("0123456789", colon + 1);
        if (end != std::string::npos) {
          port_ = static_cast<uint16_t>(std::stoi(buffer.substr(colon + 1, end - colon - 1)));
          found = true;
        }
      }
    }
  }
  close(out[0]);
  if (!found) {
    error_ = "service did not report listening; log tail:\n" + logTail();
    kill9();
    return false;
  }
  return true;
}

std::string ServiceProcess::logTail(size_t bytes) const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

int ServiceProcess::terminate(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    // Short sleep between non-blocking waits: bounded by the timeout, not a correctness wait.
    usleep(10000);
  }
  kill9();
  return -1;
}

void ServiceProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace sc::test

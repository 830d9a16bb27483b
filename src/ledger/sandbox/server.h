#pragma once
// SandboxServer: Sandbox::handle() on an HTTP/1.1 socket (Boost.Beast, keep-alive, one thread
// per connection: a development ledger, not a production server).
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ledger/sandbox/sandbox.h"

namespace sc::ledger::sandbox {

class SandboxServer {
 public:
  SandboxServer(Sandbox& sandbox, std::string bind, uint16_t port);
  ~SandboxServer();
  // Binds and starts accepting; throws std::runtime_error naming the address on failure.
  void start();
  void stop();
  uint16_t port() const { return bound_port_; }
  // Called with every request and its reply (tests record traffic with it). Set before start().
  void setObserver(std::function<void(const HttpRequest&, const HttpReply&)> observer);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t bound_port_ = 0;
};

}  // namespace sc::ledger::sandbox

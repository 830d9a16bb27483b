#pragma once
// The shutdown protocol of the project's programs (the service, the ledger sandbox): SIGTERM and
// SIGINT are blocked in every thread, so that main alone receives them with wait(); SIGPIPE is
// ignored (a peer that went away is an error on its socket, not a signal). Construct it in main
// before starting any thread, so the threads inherit the mask.
#include <pthread.h>

#include <csignal>

namespace sc {

class ShutdownSignals {
 public:
  ShutdownSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
  }
  // Blocks until SIGTERM or SIGINT arrives; returns which.
  int wait() const {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig;
  }

 private:
  sigset_t set_;
};

}  // namespace sc

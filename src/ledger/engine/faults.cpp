// EmbeddedLedger fault injection: synchronizer outages, error rates, latency, settle aborts and
// journal sync failures.
#include "ledger/engine/impl.h"

namespace sc::ledger {

using namespace engine;

Result<void> EmbeddedLedger::Impl::touch(int s) {
  FaultState& f = faults[s];
  pending_latency += f.latency;
  if (f.down) {
    return Error::transient(kUnavailable, "synchronizer '" + sync_names[s] + "' is unavailable");
  }
  if (f.error_rate > 0) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    if (u(f.rng) < f.error_rate) {
      return Error::transient(kUnavailable,
                              "synchronizer '" + sync_names[s] + "' failed the request (injected)");
    }
  }
  return {};
}

Result<void> EmbeddedLedger::Impl::touchAll(const std::vector<int>& syncs) {
  std::vector<bool> seen(sync_names.size());
  for (int s : syncs) {
    if (seen[s]) continue;
    seen[s] = true;
    auto r = touch(s);
    if (!r) return r;
  }
  return {};
}

void EmbeddedLedger::setOutage(const std::string& synchronizer, bool down) {
  std::lock_guard l(impl_->mu);
  if (auto it = impl_->sync_index.find(synchronizer); it != impl_->sync_index.end()) {
    impl_->faults[it->second].down = down;
    impl_->log->debug("fault injection: synchronizer {} {}", synchronizer, down ? "down" : "up");
  }
}

void EmbeddedLedger::setErrorRate(const std::string& synchronizer, double rate, uint64_t seed) {
  std::lock_guard l(impl_->mu);
  if (auto it = impl_->sync_index.find(synchronizer); it != impl_->sync_index.end()) {
    auto& f = impl_->faults[it->second];
    f.error_rate = std::clamp(rate, 0.0, 1.0);
    f.rng.seed(seed);
  }
}

void EmbeddedLedger::setLatency(const std::string& synchronizer,
                                std::chrono::microseconds latency) {
  std::lock_guard l(impl_->mu);
  if (auto it = impl_->sync_index.find(synchronizer); it != impl_->sync_index.end()) {
    impl_->faults[it->second].latency = latency;
  }
}

void EmbeddedLedger::failNextSettleAt(int step) {
  std::lock_guard l(impl_->mu);
  impl_->fail_settle_at = step;
}

int EmbeddedLedger::lastSettleSteps() const {
  std::lock_guard l(impl_->mu);
  return impl_->last_settle_steps;
}

void EmbeddedLedger::failNextSyncs(int count, int error_number) {
  impl_->fail_syncs_errno = error_number;
  impl_->fail_syncs_left = count;
}

void EmbeddedLedger::setCompactionHook(std::function<void()> hook) {
  std::lock_guard cl(impl_->compact_mu);
  impl_->compaction_hook = std::move(hook);
}

void EmbeddedLedger::setSyncHook(std::function<void()> hook) {
  std::lock_guard sl(impl_->sync_mu);
  impl_->sync_hook = std::move(hook);
}

}  // namespace sc::ledger

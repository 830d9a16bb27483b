#pragma once
// Trade intake (DESIGN §3), shared by POST /trades and the Kafka consumer: decodes and validates
// each raw trade event, then records the valid ones in one store transaction. Knows nothing of
// HTTP or Kafka.
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/metrics.h"
#include "domain/result.h"
#include "domain/settlement.h"
#include "domain/time.h"
#include "store/repository.h"

namespace sc::workflow {

struct IntakeDecision {
  store::IntakeKind kind = store::IntakeKind::kRejected;
  std::optional<Settlement> settlement;  // created, duplicate, or the existing one on conflict
  std::optional<Error> rejection;        // code is a reason::k* code
  std::string trade_id;                  // when it could be read
};

struct IntakeMetrics {
  metrics::Counter accepted, duplicates, rejected, store_errors;
};

class Intake {
 public:
  Intake(store::SettlementRepository& repo, const Clock& clock, TradeRules rules,
         Duration deadline);

  // One decision per input, in order. A store failure fails the whole batch (nothing recorded,
  // Error retryable when the database is unreachable) so the caller can retry it as a unit.
  Result<std::vector<IntakeDecision>> submit(std::span<const std::string_view> raw_events);
  Result<IntakeDecision> submitOne(std::string_view raw_event);

  const IntakeMetrics& metrics() const { return metrics_; }
  // Called after a batch created at least one settlement (e.g. to wake the workers).
  void setOnAccepted(std::function<void()> fn) { on_accepted_ = std::move(fn); }

 private:
  store::SettlementRepository& repo_;
  const Clock& clock_;
  TradeRules rules_;
  Duration deadline_;
  IntakeMetrics metrics_;
  std::function<void()> on_accepted_;
};

}  // namespace sc::workflow

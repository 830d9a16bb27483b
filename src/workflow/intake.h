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
#include "workflow/throughput.h"

namespace sc::workflow {

struct IntakeDecision {
  store::IntakeKind kind = store::IntakeKind::kRejected;
  std::optional<Settlement> settlement;  // created, duplicate, or the existing one on conflict
  std::optional<Error> rejection;        // code is a reason::k* code
  std::string trade_id;                  // when it could be read
};

// The intake's probe (STYLE 8): one per Intake, its series removed with it.
struct IntakeMetrics {
  metrics::Probe probe{"intake"};
  metrics::Counter accepted =
      probe.counter("sc_intake_accepted_total", "Trades accepted (new settlements)");
  metrics::Counter duplicates =
      probe.counter("sc_intake_duplicates_total", "Idempotent resubmissions");
  metrics::Counter rejected =
      probe.counter("sc_intake_rejected_total", "Trades rejected with a reason");
  metrics::Counter store_errors =
      probe.counter("sc_intake_store_errors_total", "Intake batches the store failed");
  // Raw trade events per submit() (a POST /trades body or a consumed Kafka batch).
  metrics::Histogram batch_size = metrics::batchSize(probe, "intake");
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
  // Counts the settlements created in `throughput` (GET /overview's rates). Set before use.
  void setThroughput(Throughput* throughput) { throughput_ = throughput; }

 private:
  store::SettlementRepository& repo_;
  const Clock& clock_;
  TradeRules rules_;
  Duration deadline_;
  IntakeMetrics metrics_;
  std::function<void()> on_accepted_;
  Throughput* throughput_ = nullptr;
};

}  // namespace sc::workflow

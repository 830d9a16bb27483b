#pragma once
// What GET /overview (the dashboard's overview, overview_routes.cpp) reads beyond the store: this
// instance's live figures, each given by the wiring (src/app/main.cpp) as a function, so the API
// knows nothing of Kafka or the ledger's internals. An empty member is left out of the answer.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "domain/result.h"
#include "workflow/throughput.h"

namespace sc::api {

struct OverviewSources {
  // Trades accepted and settlements confirmed/settled per second, confirmation latency.
  const workflow::Throughput* throughput = nullptr;
  // Messages of the assigned trade.events partitions not consumed yet (nullopt: not known yet,
  // e.g. no partition assigned). Empty: no Kafka consumer.
  std::function<std::optional<int64_t>()> consumer_lag;
  // Settlement events not yet delivered to Kafka (the outbox).
  std::function<Result<int64_t>()> relay_backlog;
  // Named dependency checks in display order ("database", "ledger", "kafka"): ok or the error.
  std::vector<std::pair<std::string, std::function<Result<void>()>>> health;
};

}  // namespace sc::api

#pragma once
// What the reconciler reads from settlement.events: an interface, so the comparison runs on a
// fake in unit tests and on Kafka (KafkaEventTap) in the service.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "domain/result.h"

namespace sc::reconciliation {

struct TapMessage {
  std::string key, payload;
  int32_t partition = 0;
  int64_t offset = 0;
};

// The topic's end at one moment: the next offset per partition (high watermarks).
using TapMark = std::map<int32_t, int64_t>;

class EventTap {
 public:
  virtual ~EventTap() = default;
  // Messages read since the last call, in the topic's order per partition, at most `max`; waits
  // briefly (a poll interval) for the first one, never longer.
  virtual Result<std::vector<TapMessage>> poll(int max) = 0;
  // The topic's end now. Every message the topic acknowledged before this call is below it.
  virtual Result<TapMark> mark() = 0;
  // Whether poll() has returned everything below `m`.
  virtual bool reached(const TapMark& m) const = 0;
};

}  // namespace sc::reconciliation

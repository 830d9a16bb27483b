#pragma once
// Private to the workflow's own sources (workflow.cpp, step_planner.cpp, batch_runner.cpp): the
// state of one settlement within a batch, the logger.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "domain/command_ids.h"
#include "workflow/workflow.h"

namespace sc::workflow {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  static auto l = log::get("workflow");
  return l;
}

}  // namespace

struct Workflow::Work {
  Settlement cur;
  std::vector<store::StateWrite> writes;
  bool done = false;   // nothing more to do in this batch
  bool dirty = false;  // cur changed since the last write snapshot
  bool buyer_active = false, seller_active = false;
  std::string buyer_party, seller_party;
  bool accounts_known = false;
  // The failure intent (failure_code) was already committed when this batch leased it.
  bool failure_durable = false;
  // The step of the command last submitted for it (tells a release outcome from a settle one).
  std::string_view step;
  // Set when the release was refused below the participant's pruned offset: the floor of its
  // one more submission in this batch, the first offset the participant still has.
  int64_t release_floor = 0;
};

}  // namespace sc::workflow

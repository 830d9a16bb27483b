#pragma once
// The error codes the reconciler produces (as ledger/ledger.h and store/errors.h do);
// api/errors.cpp maps them by these names. Finding look-ups answer store::kFindingNotFound /
// kFindingNotOpen.
#include <string_view>

namespace sc::reconciliation {

// POST /reconciliation/run on an instance that is not the reconciler (another holds its lock):
// transient, the caller may ask the instance that reconciles, or again later.
inline constexpr std::string_view kReconcilerStandby = "reconciler_standby";

}  // namespace sc::reconciliation

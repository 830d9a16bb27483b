#pragma once
// Ledger command ids (DESIGN §5): "<settlement id>:<step>:<round>". The workflow submits each
// step of a round under its id, so a resend is deduplicated and anyone can ask the ledger whether
// a step of a round has committed (the workflow's catch-up, the reconciler).
#include <string>
#include <string_view>

#include "domain/settlement.h"
#include "domain/status.h"

namespace sc {

namespace steps {
inline constexpr std::string_view kInitiate = "initiate";
inline constexpr std::string_view kLockSecurities = "lock_securities";
inline constexpr std::string_view kLockCash = "lock_cash";
inline constexpr std::string_view kReassign = "reassign";
inline constexpr std::string_view kSettle = "settle";
inline constexpr std::string_view kRelease = "release";
// Not a command-id step: a FenceCommand is submitted under the round's kInitiate id.
inline constexpr std::string_view kFence = "fence";
}  // namespace steps

// The id of `step` of the settlement's current round.
std::string commandId(const Settlement& s, std::string_view step);

// The ledger command step that follows a status ("" when none).
std::string_view nextLedgerStep(Status s);

}  // namespace sc

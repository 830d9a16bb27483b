#pragma once
// The settlement lifecycle (DESIGN §4) as data: states, their text forms, and the transition table
// that both the workflow and the store consult. Nothing else decides which moves are legal.
#include <array>
#include <optional>
#include <string_view>

namespace sc {

enum class Status : uint8_t {
  kPending,
  kInitiated,
  kSellerSecuritiesLocked,
  kBuyerCashLocked,
  kExecuting,
  kConfirmed,
  kSettled,
  kFailed,
  kPartiallySettled,
};
inline constexpr int kStatusCount = 9;
inline constexpr std::array<Status, kStatusCount> kAllStatuses = {
    Status::kPending,         Status::kInitiated, Status::kSellerSecuritiesLocked,
    Status::kBuyerCashLocked, Status::kExecuting, Status::kConfirmed,
    Status::kSettled,         Status::kFailed,    Status::kPartiallySettled};

// "pending", "initiated", "seller_securities_locked", ... (the spec's lower-case names)
std::string_view toString(Status s);
std::optional<Status> parseStatus(std::string_view s);

// SETTLED is the only state nothing leaves. FAILED and PARTIALLY_SETTLED rest until a retry.
bool isTerminal(Status s);
// States a worker drives forward on its own (everything but SETTLED and FAILED).
bool isActive(Status s);

// The transition table. Forward path:
//   PENDING → INITIATED → SELLER_SECURITIES_LOCKED → BUYER_CASH_LOCKED → EXECUTING → CONFIRMED
//   → SETTLED
// Failure: PENDING, INITIATED, SELLER_SECURITIES_LOCKED, BUYER_CASH_LOCKED, EXECUTING and
//   PARTIALLY_SETTLED → FAILED. CONFIRMED never fails: its ledger transaction is committed and
//   cannot be undone, so finality verification is retried instead (see README).
// Partial: EXECUTING → PARTIALLY_SETTLED (trades that allow it).
// Retry (resume at the earliest step whose ledger effect is not in place):
//   FAILED → PENDING (no DvP contract) | INITIATED (DvP contract active, locks released)
//   PARTIALLY_SETTLED → INITIATED (the remainder's DvP contract is active; lock it again)
bool isAllowedTransition(Status from, Status to);

// The event type written for entering `to` ("settlement_initiated", ...).
std::string_view eventTypeFor(Status to);

}  // namespace sc

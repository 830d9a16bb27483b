#pragma once
// A settlement (one per accepted trade), its audit events, and accounts.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "domain/decimal.h"
#include "domain/ids.h"
#include "domain/status.h"
#include "domain/time.h"
#include "domain/trade.h"

namespace sc {

struct Settlement {
  Uuid id;
  Trade trade;
  Status status = Status::kPending;

  // Ledger references (DESIGN §4): the DvP contract, the locks it consumes and what it creates.
  std::string dvp_contract_id;  // active DvP (after a partial fill: the remainder's)
  std::string dvp_contract_template_id;
  std::string seller_securities_ledger_ref;  // the seller's securities lock contract
  std::string buyer_cash_ledger_ref;         // the buyer's cash lock contract
  std::string buyer_securities_ledger_ref;   // securities holding created for the buyer
  std::string seller_cash_ledger_ref;        // cash holding created for the seller
  std::string dvp_atomic_transaction_id;     // update id of the settle transaction

  Decimal locked_quantity;   // securities locked for the part being settled now
  Decimal locked_amount;     // cash locked for it
  Decimal settled_quantity;  // settled so far (partial settlement accumulates)
  Decimal settled_amount;

  std::optional<Timestamp> initiated_at, confirmed_at, settled_at, failed_at;
  std::string failure_reason;  // human readable
  std::string failure_code;    // machine reason code
  std::string failed_step;     // the status whose step failed ("pending", "initiated", ...)
  std::string last_error;      // most recent retryable error, for operators
  int retry_count = 0;         // retries so far (automatic and manual)
  int step_attempt = 0;        // automatic retries of the current step (reset when it succeeds)
  int round = 0;               // incremented by each retry of a FAILED/PARTIALLY_SETTLED
                               // settlement; part of ledger command ids (DESIGN §5)

  Timestamp created_at{}, updated_at{};
  Timestamp next_attempt_at{};  // when a worker should next look at it
  Timestamp deadline_at{};      // SETTLEMENT_TIMEOUT_SECONDS after creation (or last retry)
  // Set by leaseDue to a fresh value; a write is applied only while the row still carries the
  // token it was leased with (fences a worker whose lease expired). Nil when not leased.
  Uuid lease_token;
  // A ledger offset read before the first lease of this row, so before any of its ledger
  // commands (set once, by leaseDue): the completions of its command ids are all after it.
  int64_t ledger_offset_floor = 0;
  // The offset of the ledger transaction whose outcome brought the row to its current status
  // (0: none yet). Every command of a later step is submitted after that outcome was seen, so its
  // completion is after this offset: lookups of the current step's command read from here, not
  // from the first lease's floor, which for a settlement in flight for long is far back. The
  // reconciler's lookups of earlier rounds' settles keep ledger_offset_floor.
  int64_t step_offset_floor = 0;
  // Where lookups of the current step's (and any later) command ids start.
  int64_t stepFloor() const { return std::max(ledger_offset_floor, step_offset_floor); }

  std::string settlementId() const { return id.prefixed(kSettlementPrefix); }
};

struct SettlementEvent {
  Uuid id;
  Uuid settlement_id;
  Status status;        // the state entered; event_type on the wire is eventTypeFor(status)
  std::string details;  // JSON object text
  Timestamp created_at{};
  int64_t position = 0;  // outbox position, increasing
};

enum class AccountStatus { kActive, kInactive };

struct Account {
  std::string account_id;
  std::string canton_party;
  AccountStatus status = AccountStatus::kActive;
  Timestamp created_at{};
};

inline std::string_view toString(AccountStatus s) {
  return s == AccountStatus::kActive ? "active" : "inactive";
}

}  // namespace sc

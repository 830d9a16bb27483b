#pragma once
// The error codes the store produces (as domain/trade.h's reason:: and ledger/ledger.h do).
// api/errors.cpp maps them to HTTP statuses by these names; the retryable ones are transient.
#include <string_view>

#include "domain/trade.h"

namespace sc::store {

// PostgreSQL (pg.cpp, pool.cpp).
inline constexpr std::string_view kDatabaseUnavailable = "database_unavailable";       // transient
inline constexpr std::string_view kDatabaseConflict = "database_conflict";             // transient
inline constexpr std::string_view kDatabaseTimeout = "database_timeout";               // transient
inline constexpr std::string_view kDatabasePoolExhausted = "database_pool_exhausted";  // transient
inline constexpr std::string_view kDatabaseError = "database_error";
// Schema migrations (migrations.cpp).
inline constexpr std::string_view kInvalidMigration = "invalid_migration";
inline constexpr std::string_view kMigrationsPending = "migrations_pending";  // transient
inline constexpr std::string_view kMigrationChecksumMismatch = "migration_checksum_mismatch";
// Rows and guarded writes (codec.cpp, *_repository.cpp).
inline constexpr std::string_view kCorruptRow = "corrupt_row";
inline constexpr std::string_view kIllegalTransition = "illegal_transition";
inline constexpr std::string_view kAccountExists = "account_exists";  // AccountRepository::create
// Another account already uses this canton_party (AccountRepository::create).
inline constexpr std::string_view kPartyTaken = "canton_party_taken";
// A write would make active again a settlement whose audit history EVENTS_RETENTION_MONTHS dropped
// (created before event_retention.dropped_before; migration 0010's trigger
// settlements_history_dropped_final): an operator's retry of it.
inline constexpr std::string_view kHistoryDropped = "history_dropped";
inline constexpr std::string_view kUnknownAccount = reason::kUnknownAccount;  // setStatus of none
// Reconciliation findings (reconciliation_repository.cpp): no finding with that id; a finding
// that is no longer open (resolved or acknowledged already) cannot be acknowledged.
inline constexpr std::string_view kFindingNotFound = "finding_not_found";
inline constexpr std::string_view kFindingNotOpen = "finding_not_open";

}  // namespace sc::store

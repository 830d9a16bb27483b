#pragma once
// The store's metrics probe (STYLE 8): one process-wide struct, registered once.
#include "common/metrics.h"

namespace sc::store {

struct StoreMetrics {
  sc::metrics::Counter errors;             // every failed store call
  sc::metrics::Counter connects;           // connections opened
  sc::metrics::Counter connect_failures;   // connection attempts that failed
  sc::metrics::Counter intake_created;     // settlements created
  sc::metrics::Counter intake_duplicates;  // idempotent resubmissions
  sc::metrics::Counter intake_rejected;    // unknown/inactive account, trade conflict
  sc::metrics::Counter transitions;        // guarded writes that changed the status
  sc::metrics::Counter guard_misses;       // guarded writes whose expected status no longer held
  sc::metrics::Counter retries;            // transactions retried after deadlock/serialization
};

StoreMetrics& metrics();

}  // namespace sc::store

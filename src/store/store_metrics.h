#pragma once
// The store's metrics probe (STYLE 8). The store's calls are methods of repositories that any
// number of Database objects in a process share code with, and helpers such as withRetry() have
// no object at all, so the probe is one process-lifetime struct: its series are the process's
// totals, and it lives (and stays registered) until exit.
#include "common/metrics.h"

namespace sc::store {

struct StoreMetrics {
  metrics::Probe probe{"store"};
  // Every failed store call.
  metrics::Counter errors = probe.counter("sc_store_errors_total", "Store calls that failed");
  metrics::Counter connects =
      probe.counter("sc_store_connects_total", "Database connections opened");
  metrics::Counter connect_failures =
      probe.counter("sc_store_connect_failures_total", "Database connection attempts that failed");
  metrics::Counter intake_created =
      probe.counter("sc_store_intake_created_total", "Settlements created by intake");
  metrics::Counter intake_duplicates =
      probe.counter("sc_store_intake_duplicates_total", "Trades recognised as duplicates");
  // Unknown/inactive account, trade conflict.
  metrics::Counter intake_rejected = probe.counter(
      "sc_store_intake_rejected_total", "Trades rejected by stateful rules (account, conflict)");
  // Guarded writes that changed the status.
  metrics::Counter transitions =
      probe.counter("sc_store_transitions_total", "Guarded status transitions written");
  // Guarded writes whose expected status no longer held.
  metrics::Counter guard_misses = probe.counter(
      "sc_store_guard_misses_total", "Guarded writes not applied because the status had moved on");
  // Transactions retried after deadlock/serialization.
  metrics::Counter retries =
      probe.counter("sc_store_tx_retries_total",
                    "Transactions retried after a deadlock or serialization failure");

  // sc_db_call_seconds{operation}: one repository call, from leasing a connection to the reply
  // (retries included), whether it succeeded or not.
  metrics::Histogram dbCall(const char* operation) {
    return probe.histogram("sc_db_call_seconds",
                           "Duration of one store call against PostgreSQL, retries included",
                           metrics::latencyBuckets(), {{"operation", operation}});
  }
  metrics::Histogram db_intake = dbCall("intake");
  metrics::Histogram db_lease_due = dbCall("lease_due");
  metrics::Histogram db_write = dbCall("write");
  metrics::Histogram db_read = dbCall("read");  // find, list, events, counts
  metrics::Histogram db_accounts = dbCall("accounts");
  metrics::Histogram db_outbox_pending = dbCall("outbox_pending");
  metrics::Histogram db_outbox_mark_published = dbCall("outbox_mark_published");
  metrics::Histogram db_outbox_backlog = dbCall("outbox_backlog");
};

// The process's store metrics.
StoreMetrics& metrics();

}  // namespace sc::store

#include "store/store_metrics.h"

namespace sc::store {

StoreMetrics& metrics() {
  static StoreMetrics* m = [] {
    auto* s = new StoreMetrics();  // process lifetime: the registry keeps pointers to it
    using sc::metrics::registerCounter;
    registerCounter("sc_store_errors_total", "Store calls that failed", &s->errors);
    registerCounter("sc_store_connects_total", "Database connections opened", &s->connects);
    registerCounter("sc_store_connect_failures_total", "Database connection attempts that failed",
                    &s->connect_failures);
    registerCounter("sc_store_intake_created_total", "Settlements created by intake",
                    &s->intake_created);
    registerCounter("sc_store_intake_duplicates_total", "Trades recognised as duplicates",
                    &s->intake_duplicates);
    registerCounter("sc_store_intake_rejected_total",
                    "Trades rejected by stateful rules (account, conflict)", &s->intake_rejected);
    registerCounter("sc_store_transitions_total", "Guarded status transitions written",
                    &s->transitions);
    registerCounter("sc_store_guard_misses_total",
                    "Guarded writes not applied because the status had moved on", &s->guard_misses);
    registerCounter("sc_store_tx_retries_total",
                    "Transactions retried after a deadlock or serialization failure", &s->retries);
    return s;
  }();
  return *m;
}

}  // namespace sc::store

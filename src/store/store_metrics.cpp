#include "store/store_metrics.h"

namespace sc::store {

StoreMetrics& metrics() {
  // Process lifetime, never destroyed: store calls from threads still running during exit stay
  // safe. Its probe registers in the process registry, which is never torn down before it either.
  static StoreMetrics* m = new StoreMetrics();
  return *m;
}

}  // namespace sc::store
